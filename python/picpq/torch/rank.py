"""The filter property of every conv, measured with forward hooks in one data
pass and stored in the Description's net."""

import torch
import torch.fx

import picpq


@torch.no_grad()
def feed_ranker(ranker, model, desc, batches):
    """Feed every conv's output maps (before its batch norm) of each batch
    to `ranker` (a picpq.Ranker over desc.net), in eval mode. A shard of the
    images fed here and merged with the other shards' rankers gives exactly
    the filter properties of one pass over all of them."""
    modules = dict(model.named_modules())
    hooks = [modules[l.name].register_forward_hook(
        lambda mod, inp, out, layer=l.id: ranker.feed(layer, out.detach().float()))
        for l in desc.convs]
    was_training = model.training
    model.eval()
    try:
        from .describe import example_tensor
        for x in batches:
            model(example_tensor(x, "a batch"))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)


def set_filter_properties(ranker, desc):
    """Store the ranker's filter properties in desc.net.
    Returns {layer id: FP array}."""
    ranker.to_net(desc.net)
    return {l.id: desc.net.fp(l.id) for l in desc.convs}


def rank_filters(model, desc, batches, threads=1):
    """One pass over `batches` (input tensors, or (x, y) pairs as a DataLoader
    yields: x is fed): the filter property of every
    conv, stored in desc.net. Returns {layer id: FP array}."""
    with picpq.Ranker(net=desc.net) as ranker:
        ranker.set("rank.threads", threads)
        feed_ranker(ranker, model, desc, batches)
        return set_filter_properties(ranker, desc)
