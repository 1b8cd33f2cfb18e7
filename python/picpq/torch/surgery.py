"""Surgery: the physically pruned model of a plan (apply_plan) and the
zero-masked model with the same outputs (mask_model)."""
import copy

import numpy as np
import torch
from torch import nn

import picpq


def _masks(desc, plan):
    return {l.id: plan.keep_mask(l.id) for l in desc.convs}


def _shortcut_index(index, src_keep, dst_keep):
    """New gather index of a shortcut whose source keeps src_keep and whose
    addition keeps dst_keep: kept output i reads the kept source position of
    the original input channel, or zero if that channel is gone."""
    pos = np.cumsum(src_keep) - 1
    new = []
    for j in np.flatnonzero(dst_keep):
        c = int(index[j])
        new.append(int(pos[c]) if c >= 0 and src_keep[c] else -1)
    return torch.tensor(new, dtype=torch.long)


def _check_adds(desc, masks):
    for a, b in desc.adds:
        if not np.array_equal(masks[a], masks[b]):
            raise picpq.StateError(-40, "apply_plan", f"layers {a} and {b} are added without "
                                   "a shortcut module but keep different channels")


def apply_plan(model, desc, plan, out=None):
    """A physically smaller copy of `model` that keeps the filters of `plan`:
    convs lose output filters (and the inputs fed by pruned filters), batch
    norms and linear layers shrink with them, depthwise convs shrink in
    and out, option-A shortcuts gather the kept channels. Its outputs equal
    those of mask_model(model, desc, plan) up to float rounding.

    `out`: an earlier result of apply_plan(model, ...) (or a deep copy of
    `model`), rebuilt in place from `model`'s tensors instead of a new deep
    copy: a search's candidates then copy only the kept slices and the
    tensors that pruning does not touch, not the whole model (and not
    Python's deepcopy walk). Same values as without `out`; `model` is only
    read."""
    masks = _masks(desc, plan)
    _check_adds(desc, masks)
    small = copy.deepcopy(model) if out is None else _share_from(out, model)
    mods = dict(small.named_modules())
    for layer in desc.layers:
        m = mods[layer.name]
        in_keep = masks.get(layer.producer) if layer.producer >= 0 else None
        if layer.kind == "linear":
            if in_keep is not None:
                per = m.in_features // in_keep.shape[0]
                cols = torch.from_numpy(np.flatnonzero(np.repeat(in_keep, per)))
                # index_select: one copy (a boolean column index copies twice, slowly)
                m.weight = nn.Parameter(m.weight.data.index_select(1, cols.to(m.weight.device)))
                m.in_features = int(cols.numel())
            continue
        keep = torch.from_numpy(masks[layer.id])
        w = m.weight.data[keep]
        if layer.depthwise:
            m.in_channels = m.groups = int(keep.sum())
        elif in_keep is not None and m.groups == 1:  # grouped: its producer is never pruned
            w = w[:, torch.from_numpy(in_keep)]
            m.in_channels = int(in_keep.sum())
        m.weight = nn.Parameter(w.clone())
        m.out_channels = int(keep.sum())
        if m.bias is not None:
            m.bias = nn.Parameter(m.bias.data[keep].clone())
        if layer.bn:
            _shrink_bn(mods[layer.bn], keep)
    for name, (src, dst) in desc.shortcuts.items():
        sc = mods[name]
        sc.index = _shortcut_index(sc.index.numpy(), masks[src], masks[dst])
    if out is not None:
        _unshare(small, model)
    return small


_PLAIN = (bool, int, float, str, tuple, type(None))


def _share_from(out, model):
    """`out` (same module tree as `model`) with every parameter and buffer
    set to `model`'s own tensor and every plain attribute (sizes such as
    in_channels or num_features, flags) reset to `model`'s: the surgery then
    slices `model`'s values; _unshare copies what it left."""
    base = dict(model.named_modules())
    for name, m in out.named_modules():
        src = base[name]
        for key, p in src._parameters.items():
            m._parameters[key] = p
        for key, b in src._buffers.items():
            m._buffers[key] = b
        for key, value in vars(src).items():
            if not key.startswith("_") and isinstance(value, _PLAIN):
                setattr(m, key, value)
    return out


def _unshare(out, model):
    """Clone every tensor of `out` that is still `model`'s own."""
    base = dict(model.named_modules())
    for name, m in out.named_modules():
        src = base[name]
        for key, p in m._parameters.items():
            if p is not None and p is src._parameters.get(key):
                m._parameters[key] = nn.Parameter(p.detach().clone(), p.requires_grad)
        for key, b in m._buffers.items():
            if b is not None and b is src._buffers.get(key):
                m._buffers[key] = b.clone()


def _shrink_bn(bn, keep):
    bn.num_features = int(keep.sum())
    if bn.affine:
        bn.weight = nn.Parameter(bn.weight.data[keep].clone())
        bn.bias = nn.Parameter(bn.bias.data[keep].clone())
    if bn.track_running_stats:
        bn.running_mean = bn.running_mean[keep].clone()
        bn.running_var = bn.running_var[keep].clone()


def mask_model(model, desc, plan):
    """A copy of `model`, same shape, whose pruned filters output zeros
    (weights, bias and batch-norm scale/shift zeroed; shortcuts drop the
    channels their addition prunes): the reference apply_plan() matches."""
    masks = _masks(desc, plan)
    _check_adds(desc, masks)
    ref = copy.deepcopy(model)
    mods = dict(ref.named_modules())
    with torch.no_grad():
        for layer in desc.convs:
            drop = torch.from_numpy(~masks[layer.id])
            m = mods[layer.name]
            m.weight[drop] = 0
            if m.bias is not None:
                m.bias[drop] = 0
            if layer.bn:
                bn = mods[layer.bn]
                bn.weight[drop] = 0
                bn.bias[drop] = 0
        for name, (_, dst) in desc.shortcuts.items():
            mods[name].index[torch.from_numpy(~masks[dst])] = -1
    return ref
