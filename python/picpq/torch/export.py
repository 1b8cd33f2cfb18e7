"""Integer export of a quantized model: per layer the weight codes packed by
libpicpq, or the float32 weight for layers kept at 32 bits."""

from torch.nn.utils import parametrize

import picpq


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


# ---- model file (docs/FORMATS.md, "Model file") ---------------------------

_MAGIC, _VERSION = b"PQMODEL\0", 1
(_CONV, _LINEAR, _AFFINE, _RELU, _ACTQ, _ADD, _SHORTCUT, _MAXPOOL, _AVGPOOL, _GAP,
 _FLATTEN) = range(1, 12)


def _pair(v):
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _layer_bits(desc, bits):
    return {l.name: int(bits[l.id]) for l in desc.layers} if desc is not None else {}


def _weight_and_bits(m, name, want):
    """The weight the QAT forward uses and its bits: the WeightQuant
    parametrization's, else `want` (bits[layer]) applied here."""
    from .qat import WeightQuant, quantize_weights
    if parametrize.is_parametrized(m, "weight"):
        q = [p for p in m.parametrizations.weight if isinstance(p, WeightQuant)]
        b = q[0].bits if q else 32
        if want is not None and want != b:
            raise ValueError(f"{name}: bits[layer] = {want} but the model quantizes it to {b}")
        return m.weight.detach().float().contiguous(), b
    b = 32 if want is None else want
    w = _float_weight(m).detach().float().contiguous()
    return (quantize_weights(w, b) if b < 32 else w), b


def _codes(q, b):
    """Integer codes, levels and magnitude of a quantized weight q (exact:
    q == magnitude * (codes / levels) in float32)."""
    import torch
    if b == 1:
        mag = float(q.abs().max())
        codes = torch.where(q >= 0, 1, -1).to(torch.int8)
        levels = 1
    else:
        levels = 1 if b == 2 else 2 ** (b - 1) - 1
        mag = 1.0
        codes = torch.round(q * levels).to(torch.int8)
    back = torch.float32
    rebuilt = (torch.tensor(mag, dtype=back) * (codes.to(back) / levels)).to(back)
    if not torch.equal(rebuilt, q):
        raise ValueError("weights are not on the quantizer's grid (internal error)")
    return codes.numpy().reshape(-1), levels, mag


def _f32(values):
    import numpy as np
    return np.ascontiguousarray(np.asarray(values, dtype="<f4")).tobytes()


def _weights_record(w, b):
    import struct
    if b == 32:
        return _f32(w.numpy().reshape(-1))
    codes, levels, mag = _codes(w, b)
    return struct.pack("<If", levels, mag) + picpq.pack_bits(codes, b)


def _graph_ops(model, desc, bits, example_input, records=None):
    """Walk the fx graph of `model` in eval mode (its mode is restored): a
    list of op records (bytes) and the number of logits. `records`, a list,
    also receives one dict per op (kind, src and the values in the bytes)
    for other writers."""
    import torch
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return _walk_graph(model, desc, bits, example_input, records)
    finally:
        model.train(was_training)


def _normalisation(mean, std, channels):
    """(mean, std) as lists of one float per input channel (a single value
    is repeated), or (None, None)."""
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std, or neither")
    if mean is None:
        return None, None
    mean = [float(v) for v in (mean if hasattr(mean, "__len__") else [mean] * channels)]
    std = [float(v) for v in (std if hasattr(std, "__len__") else [std] * channels)]
    if len(mean) != channels or len(std) != channels:
        raise ValueError(f"mean and std need {channels} values (one per input channel)")
    return mean, std


def _walk_graph(model, desc, bits, example_input, records):
    import operator
    import struct

    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.fx.passes.shape_prop import ShapeProp

    from .describe import UnsupportedModel, _Tracer
    from .layers import ShortcutA
    from .qat import ActQuant, PerUseAct

    graph = _Tracer().trace(model)
    gm = torch.fx.GraphModule(model, graph)
    ShapeProp(gm).propagate(example_input)
    modules = dict(model.named_modules())
    want = _layer_bits(desc, bits)
    vid, ops = {}, []

    def emit(kind, src, payload=b"", node=None, **info):
        ops.append(struct.pack("<II", kind, src) + payload)
        if records is not None:
            records.append(dict(kind=kind, src=src, **info))
        if node is not None:
            vid[node] = len(ops)
        return len(ops)

    def geometry(k, s, p):
        (kh, kw), (sh, sw), (ph, pw) = _pair(k), _pair(s if s is not None else k), _pair(p)
        return struct.pack("<6I", kh, kw, sh, sw, ph, pw)

    def emit_act(m, src, node, where):
        if isinstance(m, ActQuant):
            if m.bits == 32:
                vid[node] = src
                return
            if m.bits == 1 and m.scale != 1.0:
                raise UnsupportedModel(f"{where}: 1-bit ActQuant with a scale")
            emit(_ACTQ, src, struct.pack("<If", m.bits, m.scale), node, bits=m.bits,
                 scale=float(m.scale))
        elif type(m) is nn.ReLU:
            emit(_RELU, src, struct.pack("<f", 0.0), node, cap=0.0)
        elif isinstance(m, nn.Hardtanh) and m.min_val == 0 and m.max_val > 0:  # ReLU6 too
            emit(_RELU, src, struct.pack("<f", m.max_val), node, cap=float(m.max_val))
        else:
            raise UnsupportedModel(f"{where}: activation {type(m).__name__} is not supported "
                                   "by the model file")

    calls = {}
    out_node = None
    for node in graph.nodes:
        where = f"node {node.name} ({node.op} {node.target})"
        if node.op == "placeholder":
            if vid:
                raise UnsupportedModel(f"{where}: a model of more than one input")
            vid[node] = 0
            continue
        if node.op == "output":
            out_node = node.args[0]
            continue
        if node.op == "get_attr":
            raise UnsupportedModel(f"{where}: parameters used outside a module")
        meta = node.meta.get("tensor_meta")
        tensors = [a for a in node.args if isinstance(a, torch.fx.Node) and a in vid]
        src = vid[tensors[0]] if tensors else None
        if node.op == "call_module":
            m = modules[node.target]
            if isinstance(m, nn.Conv2d):
                if _pair(m.dilation) != (1, 1) or m.padding_mode != "zeros" or \
                        isinstance(m.padding, str):
                    raise UnsupportedModel(f"{where}: conv with dilation, string padding or "
                                           "non-zero padding mode is not supported")
                w, b = _weight_and_bits(m, node.target, want.get(node.target))
                pay = struct.pack("<I", m.out_channels)
                pay += geometry(m.kernel_size, m.stride, m.padding)
                pay += struct.pack("<III", m.groups, m.bias is not None, b)
                pay += _weights_record(w, b)
                if m.bias is not None:
                    pay += _f32(m.bias.detach().float().numpy())
                emit(_CONV, src, pay, node, weight=w, bits=b, bias=m.bias,
                     kernel=_pair(m.kernel_size), stride=_pair(m.stride),
                     pad=_pair(m.padding), groups=m.groups)
            elif isinstance(m, nn.Linear):
                w, b = _weight_and_bits(m, node.target, want.get(node.target))
                pay = struct.pack("<III", m.out_features, m.bias is not None, b)
                pay += _weights_record(w, b)
                if m.bias is not None:
                    pay += _f32(m.bias.detach().float().numpy())
                emit(_LINEAR, src, pay, node, weight=w, bits=b, bias=m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                if not m.track_running_stats or m.running_mean is None:
                    raise UnsupportedModel(f"{where}: batch norm without running statistics")
                # torch's eval batch norm: x * alpha + beta, alpha = weight / sqrt(var + eps)
                invstd = 1.0 / torch.sqrt(m.running_var.float() + m.eps)
                alpha = invstd * (m.weight.float() if m.affine else 1.0)
                beta = (m.bias.float() if m.affine else 0.0) - m.running_mean.float() * alpha
                alpha = alpha.expand(m.num_features) if alpha.dim() == 0 else alpha
                emit(_AFFINE, src, _f32(alpha.detach().numpy()) + _f32(beta.detach().numpy()),
                     node, alpha=alpha.detach(), beta=beta.detach())
            elif isinstance(m, PerUseAct):
                k = calls.get(node.target, 0)
                calls[node.target] = k + 1
                emit_act(m.ops[k % len(m.ops)], src, node, where)
            elif isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardtanh, ActQuant)):
                emit_act(m, src, node, where)
            elif isinstance(m, ShortcutA):
                idx = [int(i) for i in m.index]
                emit(_SHORTCUT, src, struct.pack(f"<II{len(idx)}i", m.stride, len(idx), *idx),
                     node, stride=int(m.stride), index=idx)
            elif isinstance(m, nn.MaxPool2d):
                if _pair(m.dilation) != (1, 1) or m.ceil_mode:
                    raise UnsupportedModel(f"{where}: max pooling with dilation or ceil_mode")
                emit(_MAXPOOL, src, geometry(m.kernel_size, m.stride, m.padding), node,
                     kernel=_pair(m.kernel_size), pad=_pair(m.padding),
                     stride=_pair(m.stride if m.stride is not None else m.kernel_size))
            elif isinstance(m, nn.AvgPool2d):
                if m.ceil_mode or m.divisor_override is not None:
                    raise UnsupportedModel(f"{where}: average pooling with ceil_mode or "
                                           "divisor_override")
                emit(_AVGPOOL, src, geometry(m.kernel_size, m.stride, m.padding)
                     + struct.pack("<I", bool(m.count_include_pad)), node,
                     kernel=_pair(m.kernel_size), pad=_pair(m.padding),
                     stride=_pair(m.stride if m.stride is not None else m.kernel_size),
                     count_include_pad=bool(m.count_include_pad))
            elif isinstance(m, nn.AdaptiveAvgPool2d):
                if _pair(m.output_size) != (1, 1):
                    raise UnsupportedModel(f"{where}: adaptive pooling to other than 1x1")
                emit(_GAP, src, b"", node)
            elif isinstance(m, nn.Flatten):
                emit(_FLATTEN, src, b"", node)
            elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Identity)):
                vid[node] = src
            else:
                raise UnsupportedModel(f"{where}: module type {type(m).__name__} is not "
                                       "supported by the model file")
        elif node.op == "call_function" and node.target in (operator.add, operator.iadd,
                                                            torch.add) and len(tensors) == 2 \
                and len(node.args) == 2:
            emit(_ADD, src, struct.pack("<I", vid[tensors[1]]), node, other=vid[tensors[1]])
        elif node.op == "call_function" and node.target in (F.relu, torch.relu) or \
                node.op == "call_method" and node.target in ("relu", "relu_"):
            emit(_RELU, src, struct.pack("<f", 0.0), node, cap=0.0)
        elif node.op == "call_function" and node.target is F.adaptive_avg_pool2d and \
                _pair(node.args[1] if len(node.args) > 1 else node.kwargs["output_size"]) == (1, 1):
            emit(_GAP, src, b"", node)
        elif (node.op == "call_function" and node.target is torch.flatten
              or node.op == "call_method" and node.target in ("flatten", "view", "reshape")) \
                and src is not None and meta is not None and len(meta.shape) == 2:
            emit(_FLATTEN, src, b"", node)
        elif node.op == "call_method" and node.target == "mean" and src is not None and \
                meta is not None and len(meta.shape) == 2:
            emit(_GAP, src, b"", node)
        elif node.op == "call_function" and node.target in (F.dropout,) or \
                node.op == "call_method" and node.target == "contiguous":
            vid[node] = src
        elif node.op in ("call_function", "call_method") and not tensors:
            continue  # a shape query (x.size(0)): no tensor
        else:
            raise UnsupportedModel(f"{where}: this operation is not supported by the model "
                                   "file (conv, linear, batch norm, ReLU, ActQuant, residual "
                                   "add, ShortcutA, pooling, flatten)")
    if not isinstance(out_node, torch.fx.Node) or out_node not in vid or vid[out_node] != len(ops):
        raise UnsupportedModel("the model's output must be its last operation (one tensor)")
    out_meta = out_node.meta["tensor_meta"]
    if len(out_meta.shape) != 2:
        raise UnsupportedModel(f"the output has shape {tuple(out_meta.shape)}, not (N, classes)")
    return ops, int(out_meta.shape[1])


def model_file_bytes(model, desc, bits, example_input, mean=None, std=None):
    """The model file of `model` (docs/FORMATS.md, "Model file") as bytes;
    see save_model()."""
    import struct
    import zlib

    c, h, w = (int(s) for s in example_input.shape[1:])
    mean, std = _normalisation(mean, std, c)
    ops, classes = _graph_ops(model, desc, bits, example_input)
    body = struct.pack("<5I", c, h, w, classes, mean is not None)
    if mean is not None:
        body += _f32(mean) + _f32(std)
    body += struct.pack("<I", len(ops)) + b"".join(ops)
    total = 24 + len(body) + 4
    blob = _MAGIC + struct.pack("<IIQ", _VERSION, 0, total) + body
    return blob + struct.pack("<I", zlib.crc32(blob) & 0xFFFFFFFF)


def save_model(model, desc, bits, path, example_input, mean=None, std=None):
    """Write the self-contained model file of a (pruned, quantized) model:
    graph, kept channels, batch norms in eval form, weight codes packed
    with libpicpq (bits < 32) or float32, activation quantizers with their
    bits, input shape (from `example_input`) and normalisation (mean, std:
    one value or one per channel; the runtime applies (x - mean) / std).
    `desc`/`bits` give each layer's weight bits (None: as the model's
    WeightQuant parametrizations say); a layer parametrized with other bits
    is an error. The C runtime (picpq_model_load/run) computes this model's
    eval forward. Raises UnsupportedModel naming any module it cannot store.
    Returns the file size in bytes."""
    data = model_file_bytes(model, desc, bits, example_input, mean, std)
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
