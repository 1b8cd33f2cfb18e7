"""describe(): an nn.Module traced with torch.fx and mapped onto a picpq.Net
(convs, linears, couplings of residual additions and channel-wise products),
with what surgery and quantization need. What cannot be pruned safely is
kept whole (described as non-prunable, still counted and quantized)."""
import builtins
import operator
import traceback
from dataclasses import dataclass, field

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

import picpq

from .layers import ShortcutA
from .qat import ActQuant, PerUseAct


class UnsupportedModel(ValueError):
    """The model contains something describe() cannot map to a picpq.Net;
    the message names the graph node or module, the operation and the way
    out."""


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
    prunable: bool = True
    why: str = ""        # why the layer is kept whole (prunable False)
    act: int = -1        # index in Description.acts of the activation its input comes from
    out_act: str = None  # activation module applied directly to the output (after its bn)


@dataclass
class ActSite:
    """One call of an activation module (a module called twice, like the
    `relu` of a torchvision BasicBlock, has two sites)."""
    module: str          # module path
    use: int             # the how-many-th call of that module in a forward (0-based)
    layer: int           # the layer whose channels it sees (bits[layer] quantize it)
    residual: bool       # applied to the result of an addition
    scale: float         # the activation's upper bound: 1 (ReLU), 6 (ReLU6), ...
    uses: int = 1        # calls of the module per forward


@dataclass
class Description:
    """A model described as a picpq.Net, with what surgery needs."""
    net: "picpq.Net"
    layers: list
    relus: dict          # activation module name -> layer id whose channels it sees (first use)
    shortcuts: dict      # ShortcutA module name -> (source layer, destination layer)
    adds: list           # (layer a, layer b) pairs that must keep the same channels
    residual_relus: set = field(default_factory=set)  # activations applied to an addition
    acts: list = field(default_factory=list)           # ActSite per activation call
    model_type: str = ""                               # class name of the described model

    def by_name(self, name):
        return next(l for l in self.layers if l.name == name)

    @property
    def convs(self):
        return [l for l in self.layers if l.kind == "conv"]

    @property
    def prunable(self):
        return [l for l in self.layers if l.prunable]

    def summary(self):
        """One line per layer kept whole, with the reason."""
        return "\n".join(f"{l.name}: {l.why}" for l in self.convs if not l.prunable)

    def close(self):
        self.net.close()


class _Tracer(torch.fx.Tracer):
    def __init__(self, leaf_modules=(), leaf_functions=()):
        super().__init__(autowrap_functions=tuple(leaf_functions))
        self._leaf_types = tuple(t for t in leaf_modules if isinstance(t, type))
        self._leaf_names = {t for t in leaf_modules if isinstance(t, str)}
        self.path = []
        self.failed_in = None  # the innermost module being traced when tracing failed

    def is_leaf_module(self, m, qualname):
        if isinstance(m, (ShortcutA, ActQuant, PerUseAct) + self._leaf_types) or \
                qualname in self._leaf_names:
            return True
        return super().is_leaf_module(m, qualname)

    def iter(self, obj):
        """Unpacking a proxy whose length the call fixes: x.chunk(n),
        torch.chunk(x, n), x.split/torch.split(x, [sizes]) and x.size()
        (4 values: NCHW), as `a, b = x.chunk(2, dim=1)` does."""
        node = obj.node
        n = None
        name = node.target if node.op == "call_method" else \
            getattr(node.target, "__name__", None) if node.op == "call_function" else None
        args = node.args[1:] if node.op == "call_method" else node.args[1:]
        if name == "chunk" and args and isinstance(args[0], int):
            n = args[0]
        elif name == "split" and args and isinstance(args[0], (list, tuple)):
            n = len(args[0])
        elif name == "size" and node.op == "call_method" and len(node.args) == 1:
            n = 4
        if n is None:
            return super().iter(obj)
        return iter([obj[i] for i in range(n)])

    def call_module(self, m, forward, args, kwargs):
        self.path.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = self.path[-1]
            raise
        finally:
            self.path.pop()


_PASS_MODULES = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Dropout, nn.Dropout2d, nn.Identity,
                 nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
                 nn.Flatten, nn.Hardswish, nn.SiLU, nn.Hardtanh, nn.LeakyReLU, nn.Sigmoid,
                 nn.Hardsigmoid, nn.GELU, nn.Tanh, ActQuant, PerUseAct)
_PASS_FUNCTIONS = {F.relu, F.relu6, torch.relu, F.adaptive_avg_pool2d, F.avg_pool2d,
                   F.max_pool2d, torch.max_pool2d, F.adaptive_max_pool2d, torch.flatten,
                   F.dropout, F.hardtanh, F.hardswish, F.silu, F.leaky_relu, torch.sigmoid,
                   F.hardsigmoid, F.sigmoid if hasattr(F, "sigmoid") else torch.sigmoid}
_PASS_METHODS = {"relu", "relu_", "flatten", "view", "reshape", "contiguous", "clamp", "sigmoid"}
_ADD = {operator.add, operator.iadd, torch.add}
_MUL = {operator.mul, operator.imul, torch.mul}
# What keeps an activation's quantization grid (max pooling, reshapes, dropout
# at inference): a layer fed through these reads the quantized values.
_GRID_MODULES = (nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.Dropout, nn.Dropout2d, nn.Identity,
                 nn.Flatten)
_GRID_FUNCTIONS = {F.max_pool2d, torch.max_pool2d, F.adaptive_max_pool2d, torch.flatten,
                   F.dropout}
_GRID_METHODS = {"flatten", "view", "reshape", "contiguous"}

_INPUT, _OPAQUE = -1, -2  # channels of the model input; channels of no single layer


@dataclass
class _Value:
    layer: int = _INPUT   # producer layer of the channels, or _INPUT / _OPAQUE
    padded: bool = False  # an option-A shortcut output (width may differ)
    act: int = -1         # the ActSite whose quantized values these are (-1: none)
    add: bool = False     # the result of a residual addition (through pass-through ops)


def _record_shapes(model, example):
    """Output spatial size of every conv, by one forward pass on `example`."""
    shapes, hooks = {}, []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: shapes.__setitem__(name, tuple(out.shape[1:]))))
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


def example_tensor(example_input, what="example_input"):
    """The input tensor of a batch: a tensor, or the first item of an
    (x, y) / [x, y] pair as a DataLoader yields; else a clear TypeError."""
    x = example_input
    if isinstance(x, (tuple, list)) and x and isinstance(x[0], torch.Tensor):
        x = x[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what}: expected an input tensor or an (x, y) batch whose first item "
                        f"is the input tensor, got {type(example_input).__name__}")
    return x


def _trace_failure(exc, tracer):
    """A message naming where torch.fx failed and the ways out."""
    where = f"in module '{tracer.failed_in}'" if tracer.failed_in else "in the model's forward"
    func = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if "torch/fx" not in frame.filename and "picpq" not in frame.filename:
            func = f" (function {frame.name}, {frame.filename}:{frame.lineno})"
            break
    return (f"torch.fx cannot trace the model {where}{func}: {type(exc).__name__}: {exc}. "
            "Ways out: describe(..., leaf_modules=[that module's class or path]) keeps it "
            "whole and unpruned (its convs are then neither counted nor pruned); "
            "leaf_functions=[a module-level function] records that function as one "
            "operation (e.g. torchvision's shufflenetv2.channel_shuffle); "
            "concrete_args={...} fixes Python-level arguments of forward for torch.fx")


def describe(model, example_input, ignored_layers=(), leaf_modules=(), leaf_functions=(),
             concrete_args=None):
    """Describe `model` as a picpq.Net by tracing it (in eval mode) with torch.fx.

    Conv2d and Linear modules become layers (ids in execution order). A conv
    feeding a conv, or a Linear through pooling/flatten, is connected;
    residual additions and channel-wise products of two conv outputs
    (squeeze-excitation gates) couple the convs that produce their operands
    (option-A ShortcutA operands may be narrower); depthwise convs are
    coupled to their producer. Batch norms (each directly after its conv),
    activations, pooling, dropout and flatten pass channels through.

    Partial support: the output channels of a layer that cannot be pruned
    safely stay whole (Layer.prunable False, Layer.why says why; the layer is
    still counted and quantized): inputs of a concatenation or of any other
    operation describe does not know (slicing, permute, layer norm, ...),
    grouped non-depthwise convs and their producers, depthwise convs fed by
    the input, batch norms not directly after their conv, the layers named in
    `ignored_layers` (module paths or modules), and everything coupled to
    those. A layer fed by such an operation has no producer in the net.

    Refused (UnsupportedModel, naming the node or module and the way out):
    models torch.fx cannot trace, and leaf modules other than those known
    that hold conv or linear layers. `leaf_modules` (classes or paths),
    `leaf_functions` and `concrete_args` are passed to torch.fx.
    `example_input` (one batch: a tensor or an (x, y) pair) gives the convs'
    output sizes for the MACs."""
    x = example_tensor(example_input)
    tracer = _Tracer(leaf_modules, leaf_functions)
    was_training = model.training
    model.eval()
    try:
        graph = tracer.trace(model, concrete_args=concrete_args)
    except Exception as exc:  # fx raises many types for untraceable code
        raise UnsupportedModel(_trace_failure(exc, tracer)) from exc
    finally:
        model.train(was_training)
    shapes = _record_shapes(model, x)
    modules = dict(model.named_modules())
    ignored = _names_of(model, ignored_layers)
    net = picpq.Net()
    try:
        desc = Description(net, [], {}, {}, [], model_type=type(model).__name__)
        d = _Describer(desc, modules, shapes, ignored)
        d.run(graph)
        net.validate()
    except BaseException:
        net.close()
        raise
    return desc


def _names_of(model, ignored_layers):
    by_id = {id(m): n for n, m in model.named_modules()}
    names = set()
    for item in ignored_layers:
        name = item if isinstance(item, str) else by_id.get(id(item))
        if name is None or name not in dict(model.named_modules()):
            raise ValueError(f"ignored_layers: {item!r} is not a module of the model")
        names.add(name)
    return names


def _plain(node):
    """The operation of a graph node in plain words."""
    t = node.target
    if node.op == "call_method":
        return f"tensor method .{t}()"
    if node.op == "call_function":
        name = getattr(t, "__name__", str(t))
        mod = getattr(t, "__module__", None) or ""
        if t is operator.getitem:
            return "indexing/slicing (x[...])"
        if mod in ("_operator", "operator"):
            return f"operator {name}"
        if mod.startswith("torch") or isinstance(t, type(torch.cat)):
            return f"torch.{name}" if "functional" not in mod else f"F.{name}"
        return f"function {mod}.{name}" if mod else f"function {name}"
    return f"{node.op} {t}"


class _Describer:
    def __init__(self, desc, modules, shapes, ignored):
        self.desc, self.modules, self.shapes, self.ignored = desc, modules, shapes, ignored
        self.net = desc.net
        self.values, self.queries = {}, set()
        self.pins = {}        # layer -> why it stays whole
        self.couples = []
        self.calls = {}       # activation module -> calls so far

    # ---- bookkeeping
    def pin(self, value, why):
        if value.layer >= 0 and value.layer not in self.pins:
            self.pins[value.layer] = why

    def couple(self, a, b):
        self.net.couple(a, b)
        self.couples.append((a, b))

    def layer(self, i):
        return self.desc.layers[i]

    def opaque(self, node, args, why):
        for a in args:
            self.pin(self.values[a], why)
        self.values[node] = _Value(_OPAQUE)

    # ---- the walk
    def run(self, graph):
        for node in graph.nodes:
            if node.op == "placeholder":
                self.values[node] = _Value()
            elif node.op == "output":
                for a in _tensor_args(node, self.values, nested=True):
                    self.pin(self.values[a], "its output channels are the model's output")
            elif node.op == "get_attr":
                continue
            elif _is_shape_query(node, self.queries):
                self.queries.add(node)
            else:
                self.visit(node)
        for mod_name, (src_layer, dst_layer) in list(self.desc.shortcuts.items()):
            if dst_layer < 0:
                raise UnsupportedModel(f"shortcut {mod_name} does not feed a residual addition "
                                       "(a ShortcutA module must be an operand of an addition)")
        self.finish()

    def visit(self, node):
        args = _tensor_args(node, self.values)
        where = f"node {node.name} ({_plain(node)}"
        where += f", module '{node.target}')" if node.op == "call_module" else ")"
        if node.op == "call_module":
            self.visit_module(node, self.modules[node.target], args, where)
        elif node.op == "call_function" and node.target in _ADD:
            self.values[node] = self.add(node, args, where)
        elif node.op == "call_function" and node.target in _MUL and len(args) == 2:
            self.values[node] = self.mul(node, args, where)
        elif args and ((node.op == "call_function" and node.target in _PASS_FUNCTIONS) or
                       (node.op == "call_method" and node.target in _PASS_METHODS) or
                       (node.op == "call_method" and node.target == "mean" and
                        _spatial_dims(node)) or
                       (node.target in _MUL and len(args) == 1) or
                       _identity_at_inference(node)):
            src = self.values[args[0]]
            grid = node.target in _GRID_FUNCTIONS or (node.op == "call_method" and
                                                      node.target in _GRID_METHODS)
            self.values[node] = _Value(src.layer, src.padded, src.act if grid else -1, src.add)
        else:
            what = "concatenation" if node.target in (torch.cat, torch.concat) else \
                _plain(node)
            self.opaque(node, args, f"its output channels go into {what} at node {node.name}")

    def visit_module(self, node, m, args, where):
        src = self.values[args[0]] if args else _Value(_OPAQUE)
        name = node.target
        if isinstance(m, nn.Conv2d):
            self.values[node] = _Value(self.add_conv(name, m, src, where))
        elif isinstance(m, nn.Linear):
            self.values[node] = _Value(self.add_linear(name, m, src, where))
        elif isinstance(m, ShortcutA):
            self.values[node] = _Value(src.layer, padded=True)
        elif isinstance(m, _PASS_MODULES):
            act = -1
            if isinstance(m, nn.BatchNorm2d) and src.layer >= 0:
                if args[0].op == "call_module" and \
                        isinstance(self.modules[args[0].target], nn.Conv2d) and \
                        self.layer(src.layer).bn is None:
                    self.layer(src.layer).bn = name
                else:
                    self.pin(src, f"batch norm {name} does not directly follow it")
            if _act_scale(m) is not None:
                act = self.activation(name, m, src)
                self.note_output_activation(name, args[0], src)
            grid = isinstance(m, _GRID_MODULES)
            self.values[node] = _Value(src.layer, src.padded,
                                       act if act >= 0 else (src.act if grid else -1),
                                       src.add and not isinstance(m, nn.BatchNorm2d))
        else:
            inner = [n for n, c in m.named_modules()
                     if isinstance(c, (nn.Conv2d, nn.Linear, nn.modules.conv._ConvNd))]
            if inner or isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                raise UnsupportedModel(
                    f"{where}: module type {type(m).__name__} holds conv or linear layers "
                    "that describe cannot see. Way out: if it is your own leaf module, let "
                    "torch.fx trace through it (remove it from leaf_modules); otherwise rewrite "
                    "it with nn.Conv2d / nn.Linear")
            self.opaque(node, args, f"its output channels go into module {name} "
                        f"({type(m).__name__}), which describe does not know")

    def note_output_activation(self, name, arg, src):
        """Layer.out_act: the activation reads its layer's conv or that
        conv's batch norm directly (not an addition or anything else)."""
        if src.layer < 0 or src.add or arg.op != "call_module":
            return
        layer = self.layer(src.layer)
        if layer.out_act is None and arg.target in (layer.name, layer.bn):
            layer.out_act = name

    def activation(self, name, m, src):
        use = self.calls.get(name, 0)
        self.calls[name] = use + 1
        residual = src.add
        if src.layer < 0 or src.padded:
            return -1
        self.desc.acts.append(ActSite(name, use, src.layer, residual, _act_scale(m)))
        if use == 0:
            self.desc.relus[name] = src.layer
        if residual:
            self.desc.residual_relus.add(name)
        return len(self.desc.acts) - 1

    def add_conv(self, name, m, src, where):
        if src.padded:
            raise UnsupportedModel(f"{where}: a conv fed directly by a ShortcutA module is not "
                                   "supported (a shortcut must be an operand of an addition)")
        oh, ow = self.shapes[name][1:]
        depthwise = m.groups > 1 and m.groups == m.in_channels == m.out_channels
        layer = self.net.add_conv(m.in_channels, m.out_channels, m.kernel_size, m.groups,
                                  (oh, ow))
        self.desc.layers.append(Layer(layer, name, "conv", -1, depthwise, act=src.act))
        if m.groups > 1 and not depthwise:
            self.pins[layer] = f"grouped conv (groups={m.groups}) that is not depthwise"
            self.pin(src, f"it feeds the grouped conv {name} (groups={m.groups})")
        if depthwise and src.layer < 0:
            self.pins[layer] = "depthwise conv fed by channels of no single layer"
        if src.layer >= 0 and self.layer(src.layer).kind != "conv":
            self.pin(src, "a linear layer")  # linear layers are never pruned anyway
            return layer
        if self.connect(src, layer, where) and depthwise:
            self.couple(src.layer, layer)
        if name in self.ignored:
            self.pins[layer] = "in ignored_layers"
        return layer

    def add_linear(self, name, m, src, where):
        if len(self.shapes.get(name, (1,))) != 1:
            raise UnsupportedModel(
                f"{where}: this Linear runs on a tensor of shape [N, "
                f"{', '.join(map(str, self.shapes[name]))}], not [N, features] (e.g. a "
                "channels-last MLP as in ConvNeXt): its MACs per position are not modelled. "
                "Way out: write it as a 1x1 nn.Conv2d, or keep its block whole with "
                "leaf_modules=[the block's class] (its layers are then not counted)")
        layer = self.net.add_linear(m.in_features, m.out_features)
        self.desc.layers.append(Layer(layer, name, "linear", -1, act=src.act, prunable=False,
                                      why="linear layers are not pruned"))
        self.connect(src, layer, where)
        return layer

    def connect(self, src, layer, where):
        if src.layer < 0:
            return False
        try:
            self.net.connect(src.layer, layer)
        except picpq.PicpqError as exc:
            self.pin(src, f"its channels cannot be mapped onto {self.layer(layer).name}'s "
                     f"inputs ({exc.message})")
            return False
        self.layer(layer).producer = src.layer
        self.layer(src.layer).consumers.append(layer)
        return True

    def add(self, node, args, where):
        if len(args) != 2:
            v = self.values[args[0]] if args else _Value(_OPAQUE)
            return _Value(v.layer, v.padded, -1, v.add)
        a, b = self.values[args[0]], self.values[args[1]]
        bad = [v for v in (a, b) if v.layer < 0 or self.layer(v.layer).kind != "conv"]
        if bad or (a.padded and b.padded):
            self.opaque(node, args, f"it is added at node {node.name} to channels of no "
                        "single conv")
            self.values[node].add = True
            return self.values[node]
        self.couple(a.layer, b.layer)
        main, other = (b, a) if a.padded else (a, b)
        if not other.padded and other.layer > main.layer:
            main, other = other, main
        if other.padded:
            name = args[0].target if a.padded else args[1].target
            self.desc.shortcuts[name] = (other.layer, main.layer)
        else:
            self.desc.adds.append((main.layer, other.layer))
        return _Value(main.layer, add=True)

    def mul(self, node, args, where):
        """A channel-wise product of two conv outputs (a squeeze-excitation
        gate): both keep the same channels; anything else is opaque."""
        a, b = self.values[args[0]], self.values[args[1]]
        ok = all(v.layer >= 0 and not v.padded and self.layer(v.layer).kind == "conv"
                 for v in (a, b))
        if ok:
            ca = self.net.layer_channels(a.layer)[1]
            cb = self.net.layer_channels(b.layer)[1]
            ok = ca == cb
        if not ok:
            self.opaque(node, args, f"it is multiplied at node {node.name} by channels of "
                        "no single conv of the same width")
            return self.values[node]
        if a.layer != b.layer:
            self.couple(a.layer, b.layer)
            self.desc.adds.append((max(a.layer, b.layer), min(a.layer, b.layer)))
        return _Value(max(a.layer, b.layer))

    def finish(self):
        """Pinned layers and every layer coupled to one stay whole."""
        parent = list(range(len(self.desc.layers)))

        def root(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        for a, b in self.couples:
            parent[root(a)] = root(b)
        pinned_roots = {}
        for l, why in self.pins.items():
            pinned_roots.setdefault(root(l), (l, why))
        for layer in self.desc.layers:
            if layer.kind != "conv":
                continue
            r = root(layer.id)
            if layer.id in self.pins:
                layer.prunable, layer.why = False, self.pins[layer.id]
            elif r in pinned_roots:
                src, why = pinned_roots[r]
                layer.prunable = False
                layer.why = f"coupled to {self.layer(src).name}, kept whole: {why}"
            if not layer.prunable:
                self.net.set_prunable(layer.id, False)
        uses = {}
        for s in self.desc.acts:
            uses[s.module] = self.calls[s.module]
        for s in self.desc.acts:
            s.uses = uses[s.module]


def _act_scale(m):
    """The upper bound of a bounded ReLU-like activation module (its output
    lies in [0, scale]): 1 for ReLU (the E8 grid), 6 for ReLU6, max_val for
    Hardtanh(0, max_val); None for the others (not quantized)."""
    if isinstance(m, (ActQuant, PerUseAct)):
        return getattr(m, "scale", 1.0)
    if isinstance(m, nn.ReLU6):
        return 6.0
    if isinstance(m, nn.ReLU):
        return 1.0
    if isinstance(m, nn.Hardtanh) and m.min_val == 0 and m.max_val > 0:
        return float(m.max_val)
    return None


def _tensor_args(node, values, nested=False):
    out = []

    def walk(a):
        if isinstance(a, (list, tuple)):
            for b in a:
                walk(b)
        elif isinstance(a, dict):
            for b in a.values():
                walk(b)
        elif isinstance(a, torch.fx.Node) and a in values:
            out.append(a)
    for a in list(node.args) + list(node.kwargs.values()):
        walk(a)
    return out


def _identity_at_inference(node):
    """torchvision's stochastic_depth(x, p, mode, training=False): x."""
    if node.op != "call_function" or getattr(node.target, "__name__", "") != "stochastic_depth":
        return False
    training = node.kwargs.get("training", node.args[3] if len(node.args) > 3 else True)
    return training is False


def _is_shape_query(node, queries):
    """x.size(...), x.shape, x.shape[i], x.dim(): sizes, not a tensor."""
    if node.op == "call_method" and node.target in ("size", "dim"):
        return True
    if node.op == "call_function" and node.target is getattr:
        return node.args[1] in ("shape", "ndim")
    if node.op == "call_function" and node.target is builtins.len:
        return True
    return node.op == "call_function" and node.target is operator.getitem and \
        node.args[0] in queries


def _spatial_dims(node):
    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    return all(d in (2, 3, -1, -2) for d in dims)
