"""Quantization-aware training: the (E7) weight and (E8) activation quantizers
in torch ops on the tensor's own device, their straight-through modules, and
quantize_model, which inserts them into a (pruned) model."""

import copy
import math

import torch
import torch.fx
from torch import nn
from torch.nn.utils import parametrize

import picpq


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
    """Activation quantizer (E8) replacing a ReLU-like activation whose output
    lies in [0, scale]: scale · q(x / scale), q = clip to [0, 1] and round to
    2^bits − 1 levels (32 bits = identity). scale 1 (a ReLU) is exactly the
    METHOD (E8) quantizer; a ReLU6 becomes scale 6 (clip to [0, 6], levels
    6k/(2^bits − 1)), a Hardtanh(0, m) scale m."""

    def __init__(self, bits, scale=1.0):
        super().__init__()
        self.bits = int(bits)
        self.scale = float(scale)

    def forward(self, x):
        if self.scale == 1.0:
            return _ActSTE.apply(x, self.bits)
        return _ActSTE.apply(x / self.scale, self.bits) * self.scale

    def extra_repr(self):
        return f"bits={self.bits}" + (f", scale={self.scale:g}" if self.scale != 1.0 else "")


class PerUseAct(nn.Module):
    """An activation module that the model calls several times per forward
    (torchvision's BasicBlock calls one `relu` after bn1 and after the
    addition), replaced by one module per call: call k of a forward runs
    ops[k]. The count restarts at each forward of the quantized model (a
    pre-hook quantize_model registers) and wraps around."""

    def __init__(self, ops):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.calls = 0

    def forward(self, x):
        op = self.ops[self.calls % len(self.ops)]
        self.calls += 1
        return op(x)


def _restart_uses(model, inputs):
    for m in model.modules():
        if isinstance(m, PerUseAct):
            m.calls = 0


def check_description(model, desc):
    """ValueError unless `desc` describes `model` or a pruned copy of it
    (same class, every layer a conv/linear module of that name with the same
    kernel and no more channels, every activation module present)."""
    mods = dict(model.named_modules())
    if getattr(desc, "model_type", "") and type(model).__name__ != desc.model_type:
        raise ValueError(f"desc describes a {desc.model_type}, not this "
                         f"{type(model).__name__}: pass describe(model, x) of this model "
                         "(or of the model it was pruned from)")
    for layer in desc.layers:
        m = mods.get(layer.name)
        want = nn.Conv2d if layer.kind == "conv" else nn.Linear
        if not isinstance(m, want):
            raise ValueError(f"desc does not describe this model: layer {layer.id} "
                             f"'{layer.name}' is a {layer.kind} in desc but "
                             f"{type(m).__name__ if m is not None else 'absent'} in the model")
        _, out_ch = desc.net.layer_channels(layer.id)
        have = m.out_channels if layer.kind == "conv" else m.out_features
        if have > out_ch or (layer.kind == "conv" and
                             tuple(m.kernel_size) != desc.net.layer_geometry(layer.id)[:2]):
            raise ValueError(f"desc does not describe this model: layer '{layer.name}' has "
                             f"{have} outputs / kernel {getattr(m, 'kernel_size', '')} here, "
                             f"{out_ch} outputs in desc")
    for site in getattr(desc, "acts", []):
        if site.module not in mods:
            raise ValueError(f"desc does not describe this model: activation "
                             f"'{site.module}' is not a module of it")


def check_bits(desc, bits, what="bits"):
    """bits as a list of ints, one per layer of desc (1..8 or 32), or a
    ValueError saying what is wrong."""
    try:
        bits = [int(b) for b in bits]
    except TypeError:
        raise TypeError(f"{what}: expected one bit width per layer, got "
                        f"{type(bits).__name__}") from None
    if len(bits) != len(desc.layers):
        raise ValueError(f"{what} has {len(bits)} entries but the description has "
                         f"{len(desc.layers)} layers (one per conv/linear, in desc.layers "
                         "order)")
    for l, b in enumerate(bits):
        if not (1 <= b <= 8 or b == 32):
            raise ValueError(f"{what}[{l}] = {b} ({desc.layers[l].name}): bits take 1..8 or 32")
    return bits


def _site_bits(site, bits, activations, residual, residual_bits=None):
    b = bits[site.layer]
    if not activations or (site.residual and not residual) or b >= 32:
        return 32
    return int(residual_bits) if site.residual and residual_bits is not None else b


def _check_residual_bits(residual_bits):
    if residual_bits is not None and not 2 <= int(residual_bits) <= 8:
        raise ValueError(f"residual_bits = {residual_bits}: 2..8, or None for the layer's bits")


def inserted_bits(desc, bits, weights=True, activations=True, residual=False,
                  residual_bits=None):
    """(wbits, abits) per layer that quantize_model(model, desc, bits, weights,
    activations, residual, residual_bits) makes run: wbits[l] = bits[l] where
    weights are quantized, else 32; abits[l] = the bits of the activation
    quantizer whose output layer l reads (through max pooling, reshapes or
    dropout only), else 32 (an unquantized activation, the model input, an
    addition left at full precision, an average pool, a concatenation...).
    desc.net.bops(plan, wbits, abits) is then what the quantized model
    computes."""
    bits = check_bits(desc, bits)
    _check_residual_bits(residual_bits)
    wbits = [b if weights else 32 for b in bits]
    abits = [32] * len(bits)
    for layer in desc.layers:
        if layer.act >= 0:
            abits[layer.id] = _site_bits(desc.acts[layer.act], bits, activations, residual,
                                         residual_bits)
    return wbits, abits


@torch.no_grad()
def residual_ranges(model, desc, data, quantile=0.9999):
    """{(module, use): upper bound} of every activation applied to a residual
    addition, measured on `data` (a list of input batches): the `quantile` of
    its output values, averaged over the batches (the largest value lets one
    outlier coarsen the whole grid). The scales quantize_model(residual=True,
    residual_scales=...) takes. Eval mode; the model is left as it was."""
    from .describe import example_tensor
    sites = [s for s in desc.acts if s.residual]
    if not sites:
        return {}
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile = {quantile}: in (0, 1]")
    mods = dict(model.named_modules())
    found, calls, hooks = {}, {}, []

    def hook(name):
        def record(m, inp, out):
            use = calls.get(name, 0) % max(1, next(s.uses for s in desc.acts if s.module == name))
            calls[name] = calls.get(name, 0) + 1
            if (name, use) in wanted:
                v = out.detach().float().flatten()
                if v.numel() > 1 << 22:   # torch.quantile's limit: an even subsample
                    v = v[::(v.numel() >> 22) + 1]
                found.setdefault((name, use), []).append(float(torch.quantile(v, quantile)))
        return record
    wanted = {(s.module, s.use) for s in sites}
    for name in {s.module for s in sites}:
        hooks.append(mods[name].register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        for x in data:
            calls.clear()
            model(example_tensor(x).to(next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    if not found:
        raise ValueError("residual_ranges: data holds no batch")
    return {k: max(sum(v) / len(v), 1e-6) for k, v in sorted(found.items())}


def quantize_model(model, desc, bits, weights=True, activations=True, residual=False,
                   residual_bits=None, residual_scales=None):
    """In place: each call of a ReLU-like activation (ReLU, ReLU6,
    Hardtanh(0, m)) that sees the channels of layer l with bits[l] < 32 runs
    ActQuant(bits[l], scale = its upper bound) (activations), and weights of
    layers with bits < 32 get a WeightQuant parametrization (weights). An
    activation module called several times per forward becomes a PerUseAct
    (one quantizer per call). Activations applied to a residual addition stay
    full precision unless residual=True (METHOD §8 placement: the reference
    quantizes no tensor after an addition); then they run
    ActQuant(residual_bits (None: bits[l]), scale = residual_scales[(module,
    use)] (a dict, as residual_ranges() measures), a float for all, or None:
    the activation's upper bound). Other activations (SiLU, Hardswish,
    functional relu calls) stay full precision. inserted_bits() gives the
    (wbits, abits) this makes run, for net.bops(). `desc` must describe this
    model or the model it was pruned from; its layer ids index `bits` (one
    per layer, 1..8 or 32)."""
    check_description(model, desc)
    bits = check_bits(desc, bits)
    _check_residual_bits(residual_bits)
    mods = dict(model.named_modules())
    if activations:
        by_module = {}
        for site in desc.acts:
            by_module.setdefault(site.module, []).append(site)
        per_use = False
        for name, sites in by_module.items():
            cur = mods[name]
            if isinstance(cur, (ActQuant, PerUseAct)):
                continue
            calls = [None] * sites[0].uses
            for s in sites:
                b = _site_bits(s, bits, True, residual, residual_bits)
                calls[s.use] = ActQuant(b, _site_scale(s, residual_scales)) if b < 32 else None
            if all(c is None for c in calls):
                continue
            if len(calls) == 1:
                new = calls[0]
            else:
                new = PerUseAct([c if c is not None else copy.deepcopy(cur) for c in calls])
                per_use = True
            parent, _, attr = name.rpartition(".")
            setattr(mods[parent] if parent else model, attr, new)
        if per_use and not any(getattr(h, "__name__", "") == "_restart_uses"
                               for h in model._forward_pre_hooks.values()):
            model.register_forward_pre_hook(_restart_uses)
    if weights:
        for layer in desc.layers:
            b = int(bits[layer.id])
            m = mods[layer.name]
            if b < 32 and not parametrize.is_parametrized(m, "weight"):
                parametrize.register_parametrization(m, "weight", WeightQuant(b))
    return model


def _site_scale(site, scales):
    if not site.residual or scales is None:
        return site.scale
    if isinstance(scales, dict):
        if (site.module, site.use) not in scales:
            raise ValueError(f"residual_scales has no entry for ({site.module!r}, {site.use})")
        scale = scales[(site.module, site.use)]
    else:
        scale = scales
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"residual scale of {site.module} = {scale}: a positive number")
    return scale


def bops_of_model(model, example_input):
    """Bit operations of what `model` computes, from the modules present:
    Σ MACs · wbits · abits over its Conv2d and Linear modules, MACs measured
    by forward hooks on `example_input` (per sample), wbits the bits of the
    layer's WeightQuant parametrization (else 32), abits the bits of the
    ActQuant whose output the layer reads through max pooling, reshapes or
    dropout only (found by tracing the model with torch.fx; else 32).
    Returns (bops, {module name: (macs, wbits, abits)})."""
    from .describe import _GRID_FUNCTIONS, _GRID_METHODS, _GRID_MODULES, _Tracer, example_tensor
    x = example_tensor(example_input)
    was_training = model.training
    model.eval()
    try:
        graph = _Tracer().trace(model)
    finally:
        model.train(was_training)
    mods = dict(model.named_modules())
    grid, abits, calls = {}, {}, {}
    for node in graph.nodes:
        src = node.args[0] if node.args and isinstance(node.args[0], torch.fx.Node) else None
        g = grid.get(src) if src is not None else None
        if node.op == "call_module":
            m = mods[node.target]
            if isinstance(m, PerUseAct):
                k = calls.get(node.target, 0)
                calls[node.target] = k + 1
                m = m.ops[k % len(m.ops)]
            if isinstance(m, ActQuant):
                grid[node] = m.bits if m.bits < 32 else None
            elif isinstance(m, _GRID_MODULES):
                grid[node] = g
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                abits.setdefault(node.target, g if g is not None else 32)
        elif (node.op == "call_function" and node.target in _GRID_FUNCTIONS) or \
                (node.op == "call_method" and node.target in _GRID_METHODS):
            grid[node] = g
    macs, hooks = {}, []

    def count(name):
        def hook(m, inp, out):
            if isinstance(m, nn.Conv2d):
                k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
                macs[name] = out[0].numel() * k
            else:
                macs[name] = m.in_features * m.out_features
        return hook
    for name, m in mods.items():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(count(name)))
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    per, total = {}, 0
    for name, n in macs.items():
        m = mods[name]
        w = 32
        if parametrize.is_parametrized(m, "weight"):
            w = next(p.bits for p in m.parametrizations.weight if isinstance(p, WeightQuant))
        a = abits.get(name, 32)
        per[name] = (n, w, a)
        total += n * w * a
    return total, per
