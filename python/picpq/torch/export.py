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
