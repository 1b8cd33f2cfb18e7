"""ONNX export of a compressed model, from the same graph walk as the model
file (export._graph_ops), in the QDQ form that quantized-model runtimes read
(docs/DEPLOY.md):

- a weight of k < 32 bits is an int8 initializer of its integer codes and a
  DequantizeLinear with the per-tensor scale magnitude/levels (codes within
  ±(2^(k-1) - 1), 1-bit codes ±1); 32-bit weights are float initializers;
- an activation quantizer of k bits is Clip(0, cap) → QuantizeLinear(scale =
  cap / (2^k - 1), uint8) → DequantizeLinear: the clip keeps sub-8-bit codes
  inside their range (the k-bit grid of METHOD §8 (E8));
- batch norm in its eval form x·alpha + beta (Mul, Add), option-A shortcuts as
  a fixed 1×1 selection conv with the shortcut's stride.

Opset 13. dequantized=True writes plain float weights and expresses each
activation quantizer as Clip, Mul, Round, Div instead, for runtimes without
QDQ support. int4=True writes weights of at most 4 bits as int4 initializers
(two codes a byte) feeding DequantizeLinear, which needs opset 21 and IR 10:
the file's size then follows the bits. onnx 1.12 (Debian) knows neither
TensorProto.INT4 nor opset 21, so those initializers are built by hand and
the checker is not run on that form; ONNX Runtime validates it
(tests/python/test_onnx.py)."""
import numpy as np

from .export import (_ACTQ, _ADD, _AFFINE, _AVGPOOL, _CONV, _FLATTEN, _GAP, _LINEAR,
                     _MAXPOOL, _RELU, _SHORTCUT, _codes, _graph_ops, _normalisation)

OPSET = 13
OPSET_INT4 = 21
_INT4 = 22  # TensorProto.INT4 (onnx >= 1.16)


class _Builder:
    """Nodes and initializers of one ONNX graph, with fresh names."""

    def __init__(self, onnx, int4=False):
        self.onnx, self.nodes, self.inits, self.count = onnx, [], [], 0
        self.int4 = int4

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint, array):
        from onnx import numpy_helper
        n = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def const_int4(self, hint, codes):
        """An int4 initializer of integer codes in [-8, 7]: two a byte, the
        first element in the low nibble (the ONNX packing of 4-bit types)."""
        n = self.name(hint)
        flat = np.asarray(codes, np.int64).reshape(-1)
        nib = (flat & 0xF).astype(np.uint8)
        if len(nib) % 2:
            nib = np.append(nib, np.uint8(0))
        t = self.onnx.TensorProto()
        t.name = n
        t.data_type = _INT4
        t.dims.extend(int(d) for d in np.shape(codes))
        t.raw_data = (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8).tobytes()
        self.inits.append(t)
        return n

    def node(self, op, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], **attrs))
        return out


def _weight(g, rec, dequantized):
    """The float weight as the graph computes it: a constant, or int8 codes
    through DequantizeLinear."""
    w, b = rec["weight"], rec["bits"]
    if b == 32 or dequantized:
        return g.const("w", w.numpy().astype(np.float32))
    codes, levels, mag = _codes(w, b)
    scale = g.const("w_scale", np.array(np.float32(mag) / np.float32(levels), np.float32))
    if g.int4 and b <= 4:
        q = g.const_int4("w_codes", codes.reshape(tuple(w.shape)))
        zero = g.const_int4("w_zero", np.zeros((), np.int8))
    else:
        q = g.const("w_codes", codes.reshape(tuple(w.shape)).astype(np.int8))
        zero = g.const("w_zero", np.array(0, np.int8))
    return g.node("DequantizeLinear", [q, scale, zero], "w")


def _clip(g, x, cap, dequantized):
    """x clipped to [0, cap]: Clip, or Relu and Min where Clip's opset-11 form
    (bounds as inputs) is not read (OpenCV 4.6)."""
    hi = g.const("cap", np.array(cap, np.float32))
    if dequantized:  # relu(x) - relu(x - cap): exact wherever x <= 2·cap (Sterbenz)
        over = g.node("Relu", [g.node("Sub", [x, hi], "minus_cap")], "over")
        return g.node("Sub", [g.node("Relu", [x], "relu"), over], "clip")
    return g.node("Clip", [x, g.const("zero", np.array(0.0, np.float32)), hi], "clip")


def _act_quant(g, x, bits, cap, dequantized):
    levels = float(2 ** bits - 1)
    if bits == 1:  # 1 if x > 0 else 0 (METHOD §8): the clipped value, capped at 1, rounded up
        one = g.const("one", np.array(1.0, np.float32))
        return g.node("Ceil", [g.node("Min", [_clip(g, x, cap, dequantized), one], "min")],
                      "act")
    clipped = _clip(g, x, cap, dequantized)
    if dequantized:
        n = g.const("levels", np.array(levels / cap, np.float32))
        rounded = g.node("Round", [g.node("Mul", [clipped, n], "mul")], "round")
        return g.node("Div", [rounded, n], "act")
    scale = g.const("a_scale", np.array(cap / levels, np.float32))
    zero = g.const("a_zero", np.array(0, np.uint8))
    q = g.node("QuantizeLinear", [clipped, scale, zero], "q")
    return g.node("DequantizeLinear", [q, scale, zero], "act")


def _shortcut_weight(index, channels_in):
    sel = np.zeros((len(index), channels_in, 1, 1), np.float32)
    for o, i in enumerate(index):
        if i >= 0:
            sel[o, i, 0, 0] = 1.0
    return sel


def _emit(g, rec, values, shapes, dequantized):
    """The ONNX nodes of one op record; returns the output value's name."""
    kind, x = rec["kind"], values[rec["src"]]
    if kind == _CONV:
        (kh, kw), (sh, sw), (ph, pw) = rec["kernel"], rec["stride"], rec["pad"]
        ins = [x, _weight(g, rec, dequantized)]
        if rec["bias"] is not None:
            ins.append(g.const("b", rec["bias"].detach().float().numpy()))
        return g.node("Conv", ins, "conv", kernel_shape=[kh, kw], strides=[sh, sw],
                      pads=[ph, pw, ph, pw], group=rec["groups"])
    if kind == _LINEAR:
        ins = [x, _weight(g, rec, dequantized)]
        if rec["bias"] is not None:
            ins.append(g.const("b", rec["bias"].detach().float().numpy()))
        return g.node("Gemm", ins, "fc", transB=1)
    if kind == _AFFINE:
        c = rec["alpha"].numel()
        alpha = g.const("bn_alpha", rec["alpha"].float().numpy().reshape(1, c, 1, 1))
        beta = g.const("bn_beta", rec["beta"].float().numpy().reshape(1, c, 1, 1))
        return g.node("Add", [g.node("Mul", [x, alpha], "bn_mul"), beta], "bn")
    if kind == _RELU:
        if rec["cap"] > 0:
            return _clip(g, x, rec["cap"], dequantized)
        return g.node("Relu", [x], "relu")
    if kind == _ACTQ:
        return _act_quant(g, x, rec["bits"], rec["scale"], dequantized)
    if kind == _ADD:
        return g.node("Add", [x, values[rec["other"]]], "add")
    if kind == _SHORTCUT:
        w = g.const("shortcut", _shortcut_weight(rec["index"], shapes[rec["src"]]))
        s = rec["stride"]
        return g.node("Conv", [x, w], "shortcut", kernel_shape=[1, 1], strides=[s, s])
    if kind in (_MAXPOOL, _AVGPOOL):
        (kh, kw), (sh, sw), (ph, pw) = rec["kernel"], rec["stride"], rec["pad"]
        attrs = dict(kernel_shape=[kh, kw], strides=[sh, sw], pads=[ph, pw, ph, pw])
        if kind == _AVGPOOL:
            return g.node("AveragePool", [x], "avgpool",
                          count_include_pad=int(rec["count_include_pad"]), **attrs)
        return g.node("MaxPool", [x], "maxpool", **attrs)
    if kind == _GAP:
        return g.node("Flatten", [g.node("GlobalAveragePool", [x], "gap")], "gap_flat")
    if kind == _FLATTEN:
        return g.node("Flatten", [x], "flatten")
    raise ValueError(f"op kind {kind} has no ONNX form (internal error)")


def _channels(example_input, records):
    """Channel count of each value (0 = the input), for the shortcut's weight."""
    chans = [int(example_input.shape[1])]
    for rec in records:
        k = rec["kind"]
        if k == _CONV or k == _LINEAR:
            chans.append(int(rec["weight"].shape[0]))
        elif k == _SHORTCUT:
            chans.append(len(rec["index"]))
        else:
            chans.append(chans[rec["src"]])
    return chans


def onnx_model(model, desc, bits, example_input, mean=None, std=None, dequantized=False,
               int4=False):
    """The onnx.ModelProto of a compressed model (see export_onnx)."""
    import onnx
    if int4 and dequantized:
        raise ValueError("int4 is a QDQ form: not with dequantized=True")
    c, h, w = (int(s) for s in example_input.shape[1:])
    mean, std = _normalisation(mean, std, c)
    records = []
    _, classes = _graph_ops(model, desc, bits, example_input, records)
    g = _Builder(onnx, int4)
    x = "input"
    if mean is not None:
        m = np.asarray(mean, np.float32).reshape(1, c, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, c, 1, 1)
        x = g.node("Div", [g.node("Sub", [x, g.const("mean", m)], "sub"), g.const("std", s)],
                   "normalised")
    shapes = _channels(example_input, records)
    values = [x]
    for rec in records:
        values.append(_emit(g, rec, values, shapes, dequantized))
    g.nodes.append(onnx.helper.make_node("Identity", [values[-1]], ["logits"]))
    graph = onnx.helper.make_graph(
        g.nodes, "picpq", [onnx.helper.make_tensor_value_info(
            "input", onnx.TensorProto.FLOAT, ["batch", c, h, w])],
        [onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT,
                                            ["batch", classes])], g.inits)
    opset = OPSET_INT4 if int4 else OPSET
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="libpicpq")
    if int4:
        proto.ir_version = 10  # int4 needs IR 10; onnx 1.12's checker stops at IR 8
    else:
        proto.ir_version = 8  # onnx 1.12 and ONNX Runtime both read IR 8
        onnx.checker.check_model(proto)
    return proto


def export_onnx(model, desc, bits, path, example_input, mean=None, std=None, dequantized=False,
                int4=False):
    """Write the compressed model as ONNX (opset 13, QDQ; module docstring),
    checked with onnx.checker. `desc`, `bits`, `example_input`, `mean` and
    `std` as for save_model(). int4=True: weights of at most 4 bits as int4
    (opset 21, IR 10, not checked by onnx 1.12; run it in ONNX Runtime >=
    1.18). Returns the file size in bytes."""
    data = onnx_model(model, desc, bits, example_input, mean, std, dequantized,
                      int4).SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    return len(data)
