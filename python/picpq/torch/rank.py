"""The filter property of every conv, measured with forward hooks in one data
pass and stored in the Description's net."""

import torch

import picpq

# where a conv's output maps are taken for its FP
FP_AT = ("conv", "bn", "act")


def _tap(layer, modules, at):
    """(module to hook, function applied to its output) for one conv:
    "conv" its own output (the reference, before batch norm); "bn" after its
    batch norm; "act" after the activation that reads it directly (HRank's
    choice), else after its batch norm (e.g. a conv whose output goes into a
    residual addition first, or a linear bottleneck)."""
    if at not in FP_AT:
        raise ValueError(f"at must be one of {FP_AT}, not {at!r}")
    if at == "conv" or layer.bn is None:
        module = modules[layer.name]
    else:
        module = modules[layer.bn]
    if at == "act" and layer.out_act is not None:
        act = modules[layer.out_act]
        return module, lambda out: act(out.clone())  # a clone: the act may be in place
    return module, lambda out: out


@torch.no_grad()
def feed_ranker(ranker, model, desc, batches, at="conv"):
    """Feed every conv's output maps (where `at` says: "conv" before its
    batch norm, "bn" after it, "act" after its activation) of each batch to
    `ranker` (a picpq.Ranker over desc.net), in eval mode. A shard of the
    images fed here and merged with the other shards' rankers gives exactly
    the filter properties of one pass over all of them."""
    modules = dict(model.named_modules())
    hooks = []
    for l in desc.convs:
        module, fn = _tap(l, modules, at)
        hooks.append(module.register_forward_hook(
            lambda mod, inp, out, layer=l.id, fn=fn: ranker.feed(layer,
                                                                 fn(out.detach().float()))))
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


def rank_filters(model, desc, batches, threads=1, at="conv"):
    """One pass over `batches` (input tensors, or (x, y) pairs as a DataLoader
    yields: x is fed): the filter property of every conv, stored in
    desc.net. `at`: where the maps are taken (feed_ranker). Returns
    {layer id: FP array}."""
    with picpq.Ranker(net=desc.net) as ranker:
        ranker.set("rank.threads", threads)
        feed_ranker(ranker, model, desc, batches, at)
        return set_filter_properties(ranker, desc)
