"""Quantization-aware training: the (E7) weight and (E8) activation quantizers
in torch ops on the tensor's own device, their straight-through modules, and
quantize_model, which inserts them into a (pruned) model."""

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
    """Activation quantizer (E8) replacing a ReLU: clip to [0, 1], round to
    2^bits − 1 levels (32 bits = identity)."""

    def __init__(self, bits):
        super().__init__()
        self.bits = int(bits)

    def forward(self, x):
        return _ActSTE.apply(x, self.bits)

    def extra_repr(self):
        return f"bits={self.bits}"


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
