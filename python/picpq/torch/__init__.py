"""PyTorch helpers of libpicpq (needs torch): describe an nn.Module as a
picpq.Net, measure the filter property with forward hooks, build the
physically pruned model of a plan, quantization-aware training modules
that call libpicpq's quantizers, and integer export.

    desc = describe(model, example_input)         # torch.fx trace -> desc.net
    rank_filters(model, desc, batches)            # FP of every conv, one data pass
    plan = picpq.Plan(desc.net); plan.compute(a, b, 0.5)
    small = apply_plan(model, desc, plan)         # a smaller nn.Module
"""
import copy
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

import picpq

from .layers import ShortcutA

__all__ = ["ActQuant", "Description", "UnsupportedModel", "WeightQuant", "apply_plan",
           "describe", "export", "feed_ranker", "mask_model", "quantize_model", "rank_filters",
           "quantize_activations", "quantize_weights", "set_filter_properties"]


class UnsupportedModel(ValueError):
    """The model contains an operation that describe() cannot map to a
    picpq.Net (the message names the graph node and the operation)."""


# ---- quantization-aware training ----------------------------------------------------------------
def _check_finite(x, name):
    if not bool(torch.isfinite(x).all()):
        raise picpq.NumericalError(-20, "non-finite value", f"{name} holds NaN or Inf")


def quantize_weights(w, bits):
    """(E7) weight quantizer in torch ops, on w's own device (CPU or CUDA):
    the C quantizer's float32 chain step by step (METHOD §8). Codes equal the
    C ones except where torch's tanh and C's tanhf differ by an ulp next to a
    rounding boundary (tests/python/test_quant_torch.py measures it)."""
    if bits == 32:
        return w.clone()
    if not 1 <= bits <= 8:
        raise ValueError(f"bits = {bits}: weights take 1..8 or 32")
    _check_finite(w, "w")
    if bits == 1:  # DoReFa's 1-bit path: mean |w| (summed in double) times sign, sign(0) = +1
        e = w.detach().abs().double().mean().float()
        return torch.where(w >= 0, e, -e).to(w.dtype)
    if bits == 2:
        return torch.sign(w)
    n = float(2 ** (bits - 1) - 1)
    t = torch.tanh(w)
    m = t.abs().max()
    if float(m) == 0.0:  # an all-zero tensor stays zero (the reference computes 0/0)
        return torch.zeros_like(w)
    return torch.round(t / m * n) / n


def quantize_activations(x, bits):
    """(E8) activation quantizer in torch ops on x's device: clip to [0, 1]
    and round to 2^bits − 1 levels (1 bit: x > 0; 32 bits: identity).
    Bit-identical to the C quantizer."""
    if bits == 32:
        return x.clone()
    if not 1 <= bits <= 8:
        raise ValueError(f"bits = {bits}: activations take 1..8 or 32")
    _check_finite(x, "x")
    if bits == 1:
        return (x > 0).to(x.dtype)
    n = float(2 ** bits - 1)
    return torch.round(torch.clamp(x, 0.0, 1.0) * n) / n


class _WeightSTE(torch.autograd.Function):
    """Forward: the weight quantizer on the weight's device. Backward:
    straight-through for the rounding, tanh and max-normalization
    differentiated (METHOD §8)."""

    @staticmethod
    def forward(ctx, w, bits):
        ctx.save_for_backward(w)
        ctx.bits = bits
        return quantize_weights(w.detach(), bits)

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        if ctx.bits == 32:
            return grad, None
        with torch.enable_grad():
            wd = w.detach().requires_grad_()
            t = torch.tanh(wd)
            y = t / t.abs().max()
            (g,) = torch.autograd.grad(y, wd, grad)
        return g, None


class _ActSTE(torch.autograd.Function):
    """Forward: the activation quantizer on the input's device. Backward:
    gradient of the clip to [0, 1], straight through the rounding."""

    @staticmethod
    def forward(ctx, x, bits):
        ctx.bits = bits
        ctx.save_for_backward(x)
        return quantize_activations(x.detach(), bits)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.bits == 32:
            return grad, None
        return grad * ((x >= 0) & (x <= 1)).to(grad.dtype), None


class WeightQuant(nn.Module):
    """Parametrization of a conv/linear weight: the (E7) quantizer, on the
    weight's device."""

    def __init__(self, bits):
        super().__init__()
        self.bits = int(bits)

    def forward(self, w):
        return _WeightSTE.apply(w, self.bits)


class ActQuant(nn.Module):
    """Activation quantizer (E8) replacing a ReLU: clip to [0, 1], round to
    2^bits − 1 levels (32 bits = identity)."""

    def __init__(self, bits):
        super().__init__()
        self.bits = int(bits)

    def forward(self, x):
        return _ActSTE.apply(x, self.bits)

    def extra_repr(self):
        return f"bits={self.bits}"


# ---- description ---------------------------------------------------------------------------------
@dataclass
class Layer:
    """One conv or linear layer of a described model."""
    id: int
    name: str            # module path in the model
    kind: str            # "conv" or "linear"
    producer: int = -1   # layer whose output channels are this layer's inputs
    depthwise: bool = False
    bn: str = None       # batch norm applied directly to the output
    consumers: list = field(default_factory=list)


@dataclass
class Description:
    """A model described as a picpq.Net, with what surgery needs."""
    net: "picpq.Net"
    layers: list
    relus: dict          # ReLU module name -> layer id whose channels it sees
    shortcuts: dict      # ShortcutA module name -> (source layer, destination layer)
    adds: list           # (layer a, layer b) pairs of identity residual additions
    residual_relus: set = field(default_factory=set)  # ReLUs applied to an addition

    def by_name(self, name):
        return next(l for l in self.layers if l.name == name)

    @property
    def convs(self):
        return [l for l in self.layers if l.kind == "conv"]

    def close(self):
        self.net.close()


class _Tracer(torch.fx.Tracer):
    def is_leaf_module(self, m, qualname):
        if isinstance(m, (ShortcutA, ActQuant)):
            return True
        return super().is_leaf_module(m, qualname)


_PASS_MODULES = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Dropout, nn.Dropout2d, nn.Identity,
                 nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
                 nn.Flatten, nn.Hardswish, nn.SiLU, nn.Hardtanh, nn.LeakyReLU, ActQuant)
_PASS_FUNCTIONS = {F.relu, F.relu6, torch.relu, F.adaptive_avg_pool2d, F.avg_pool2d,
                   F.max_pool2d, torch.max_pool2d, F.adaptive_max_pool2d, torch.flatten,
                   F.dropout, F.hardtanh, F.hardswish, F.silu, F.leaky_relu}
_PASS_METHODS = {"relu", "relu_", "flatten", "view", "reshape", "contiguous", "clamp"}
_ADD = {operator.add, operator.iadd, torch.add}


@dataclass
class _Value:
    layer: int = -1      # producer layer of the channels (-1: the model input)
    padded: bool = False  # an option-A shortcut output (width may differ)


def _record_shapes(model, example):
    """Output spatial size of every conv, by one forward pass on `example`."""
    shapes, hooks = {}, []
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: shapes.__setitem__(name, tuple(out.shape[2:]))))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return shapes


def describe(model, example_input):
    """Describe `model` as a picpq.Net by tracing it with torch.fx.

    Conv2d and Linear modules become layers (ids in execution order);
    a conv feeding a conv, or feeding a Linear through pooling/flatten, is
    connected; residual additions couple the convs that produce their
    operands (option-A ShortcutA operands may be narrower); depthwise
    convs are coupled to their producer. Batch norms (each directly after its
    conv), activations, pooling, dropout and flatten pass channels through.
    Anything else (concatenation, multiplication, grouped non-depthwise
    convs, ...) raises UnsupportedModel.
    `example_input` (one batch) gives the convs' output sizes for the MACs.
    """
    try:
        graph = _Tracer().trace(model)
    except Exception as exc:  # fx raises many types for untraceable code
        raise UnsupportedModel(f"torch.fx cannot trace the model: {exc}") from exc
    shapes = _record_shapes(model, example_input)
    modules = dict(model.named_modules())
    net = picpq.Net()
    try:
        desc = Description(net, [], {}, {}, [])
        _describe_graph(graph, modules, shapes, desc)
        net.validate()
    except BaseException:
        net.close()
        raise
    return desc


def _tensor_args(node, values):
    return [a for a in node.args if isinstance(a, torch.fx.Node) and a in values]


def _is_shape_query(node, queries):
    """x.size(...), x.shape, x.shape[i]: sizes for a view, not a tensor."""
    if node.op == "call_method" and node.target == "size":
        return True
    if node.op == "call_function" and node.target is getattr:
        return node.args[1] == "shape"
    return node.op == "call_function" and node.target is operator.getitem and \
        node.args[0] in queries


def _describe_graph(graph, modules, shapes, desc):
    values, queries = {}, set()
    net = desc.net
    for node in graph.nodes:
        if node.op == "placeholder":
            values[node] = _Value()
            continue
        if node.op == "output":
            continue
        if _is_shape_query(node, queries):
            queries.add(node)
            continue
        args = _tensor_args(node, values)
        where = f"node {node.name} ({node.op} {node.target})"
        if node.op == "call_module":
            m = modules[node.target]
            src = values[args[0]]
            if isinstance(m, nn.Conv2d):
                values[node] = _Value(_add_conv(desc, node.target, m, src, shapes, where))
            elif isinstance(m, nn.Linear):
                layer = net.add_linear(m.in_features, m.out_features)
                desc.layers.append(Layer(layer, node.target, "linear", src.layer))
                _connect(desc, src, layer, where)
                values[node] = _Value(layer)
            elif isinstance(m, ShortcutA):
                values[node] = _Value(src.layer, padded=True)
            elif isinstance(m, _PASS_MODULES):
                if isinstance(m, nn.BatchNorm2d) and src.layer >= 0:
                    if not (args[0].op == "call_module"
                            and isinstance(modules[args[0].target], nn.Conv2d)):
                        raise UnsupportedModel(
                            f"{where}: a batch norm over prunable channels must directly "
                            "follow its conv (apply_plan shrinks it with that conv)")
                    desc.layers[src.layer].bn = node.target
                if isinstance(m, (nn.ReLU, nn.ReLU6, ActQuant)) and src.layer >= 0:
                    desc.relus[node.target] = src.layer
                    if args[0].op == "call_function" and args[0].target in _ADD:
                        desc.residual_relus.add(node.target)
                values[node] = src
            else:
                raise UnsupportedModel(f"{where}: module type {type(m).__name__} is not "
                                       "supported")
        elif node.op == "call_function" and node.target in _ADD:
            values[node] = _add_residual(desc, args, values, where)
        elif node.op == "call_function" and node.target in _PASS_FUNCTIONS and args:
            values[node] = values[args[0]]
        elif node.op == "call_method" and node.target in _PASS_METHODS and args:
            values[node] = values[args[0]]
        elif node.op == "call_method" and node.target == "mean" and args and \
                _spatial_dims(node):
            values[node] = values[args[0]]
        else:
            raise UnsupportedModel(f"{where}: this operation is not supported "
                                   "(describe handles conv, linear, batch norm, activations, "
                                   "pooling, flatten and residual additions)")
    for mod_name, (src_layer, dst_layer) in list(desc.shortcuts.items()):
        if dst_layer < 0:
            raise UnsupportedModel(f"shortcut {mod_name} does not feed a residual addition")


def _spatial_dims(node):
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return all(d in (2, 3, -1, -2) for d in dims)


def _add_conv(desc, name, m, src, shapes, where):
    if src.padded:
        raise UnsupportedModel(f"{where}: a conv fed directly by a shortcut is not supported")
    oh, ow = shapes[name]
    depthwise = m.groups > 1 and m.groups == m.in_channels == m.out_channels
    if m.groups > 1 and not depthwise:
        raise UnsupportedModel(f"{where}: grouped conv (groups={m.groups}) that is not "
                               "depthwise cannot be pruned")
    if src.layer >= 0 and desc.layers[src.layer].kind != "conv":
        raise UnsupportedModel(f"{where}: a conv fed by a linear layer is not supported")
    layer = desc.net.add_conv(m.in_channels, m.out_channels, m.kernel_size, m.groups, (oh, ow))
    desc.layers.append(Layer(layer, name, "conv", src.layer, depthwise))
    _connect(desc, src, layer, where)
    if depthwise and src.layer >= 0:
        desc.net.couple(src.layer, layer)
    return layer


def _connect(desc, src, layer, where):
    if src.layer < 0:
        return
    try:
        desc.net.connect(src.layer, layer)
    except picpq.PicpqError as exc:
        raise UnsupportedModel(f"{where}: {exc.message}") from exc
    desc.layers[src.layer].consumers.append(layer)


def _add_residual(desc, args, values, where):
    if len(args) != 2:
        return values[args[0]] if args else _Value()
    a, b = values[args[0]], values[args[1]]
    if a.layer < 0 or b.layer < 0:
        raise UnsupportedModel(f"{where}: a residual addition of the model input is not "
                               "supported")
    for v in (a, b):
        if desc.layers[v.layer].kind != "conv":
            raise UnsupportedModel(f"{where}: residual addition of a linear layer's output")
    if a.padded and b.padded:
        raise UnsupportedModel(f"{where}: both operands are shortcuts")
    desc.net.couple(a.layer, b.layer)
    main, other = (b, a) if a.padded else (a, b)
    if not other.padded and other.layer > main.layer:
        main, other = other, main
    if other.padded:
        name = args[0].target if a.padded else args[1].target
        desc.shortcuts[name] = (other.layer, main.layer)
    else:
        desc.adds.append((main.layer, other.layer))
    return _Value(main.layer)


# ---- filter property ----------------------------------------------------------------------------
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
        for x in batches:
            model(x)
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
    """One pass over `batches` (input tensors): the filter property of every
    conv, stored in desc.net. Returns {layer id: FP array}."""
    with picpq.Ranker(net=desc.net) as ranker:
        ranker.set("rank.threads", threads)
        feed_ranker(ranker, model, desc, batches)
        return set_filter_properties(ranker, desc)


# ---- surgery -------------------------------------------------------------------------------------
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


def apply_plan(model, desc, plan):
    """A physically smaller copy of `model` that keeps the filters of `plan`:
    convs lose output filters (and the inputs fed by pruned filters), batch
    norms and linear layers shrink with them, depthwise convs shrink in
    and out, option-A shortcuts gather the kept channels. Its outputs equal
    those of mask_model(model, desc, plan) up to float rounding."""
    masks = _masks(desc, plan)
    _check_adds(desc, masks)
    small = copy.deepcopy(model)
    mods = dict(small.named_modules())
    for layer in desc.layers:
        m = mods[layer.name]
        in_keep = masks.get(layer.producer) if layer.producer >= 0 else None
        if layer.kind == "linear":
            if in_keep is not None:
                per = m.in_features // in_keep.shape[0]
                cols = torch.from_numpy(np.repeat(in_keep, per))
                m.weight = nn.Parameter(m.weight.data[:, cols].clone())
                m.in_features = int(cols.sum())
            continue
        keep = torch.from_numpy(masks[layer.id])
        w = m.weight.data[keep]
        if layer.depthwise:
            m.in_channels = m.groups = int(keep.sum())
        elif in_keep is not None:
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
    return small


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


# ---- quantization and export ---------------------------------------------------------------------
def quantize_model(model, desc, bits, weights=True, activations=True, residual=False):
    """In place: ReLUs after a layer with bits[l] < 32 become ActQuant(bits[l])
    (activations) and weights of layers with bits < 32 get a WeightQuant
    parametrization (weights). ReLUs applied to a residual addition stay
    full precision unless residual=True (METHOD §8 placement: the reference
    quantizes no tensor after an addition). `desc` must describe this
    (pruned) model's structure; its layer ids index `bits`."""
    mods = dict(model.named_modules())
    if activations:
        for name, layer in desc.relus.items():
            b = int(bits[layer])
            if name in desc.residual_relus and not residual:
                continue
            if b < 32 and not isinstance(mods[name], ActQuant):
                parent, _, attr = name.rpartition(".")
                setattr(mods[parent] if parent else model, attr, ActQuant(b))
    if weights:
        for layer in desc.layers:
            b = int(bits[layer.id])
            m = mods[layer.name]
            if b < 32 and not parametrize.is_parametrized(m, "weight"):
                parametrize.register_parametrization(m, "weight", WeightQuant(b))
    return model


def _float_weight(m):
    if parametrize.is_parametrized(m, "weight"):
        return m.parametrizations.weight.original
    return m.weight


def export(model, desc, bits):
    """Integer export: per layer with bits < 32 the weight quantizer's codes
    packed with libpicpq (bytes), else the float32 weight. Returns
    (layers: {name: dict(bits, shape, levels, magnitude, data)}, summary
    dict(fp32_bytes, packed_bytes))."""
    mods = dict(model.named_modules())
    out, numel, nbits = {}, [], []
    for layer in desc.layers:
        w = _float_weight(mods[layer.name]).detach().contiguous()
        b = int(bits[layer.id])
        numel.append(w.numel())
        nbits.append(b)
        if b < 32:
            codes, levels, mag = picpq.weights_export(w, b)
            data = picpq.pack_bits(codes, b)
            out[layer.name] = dict(bits=b, shape=list(w.shape), levels=levels,
                                   magnitude=mag, data=data)
        else:
            out[layer.name] = dict(bits=32, shape=list(w.shape), data=w.numpy().tobytes())
    summary = dict(fp32_bytes=4 * sum(numel), packed_bytes=picpq.packed_size(numel, nbits))
    return out, summary
