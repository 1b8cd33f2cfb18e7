"""describe(): an nn.Module traced with torch.fx and mapped onto a picpq.Net
(convs, linears, couplings of residual additions), with what surgery needs."""
import operator
from dataclasses import dataclass, field

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

import picpq

from .layers import ShortcutA
from .qat import ActQuant


class UnsupportedModel(ValueError):
    """The model contains an operation that describe() cannot map to a
    picpq.Net (the message names the graph node and the operation)."""


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
