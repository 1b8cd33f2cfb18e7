"""Saving and loading a compressed (pruned, QAT) model, and atomic writes.

torch.save(model) refuses a model with parametrized weights ("Serialization
of parametrized modules is only supported through state_dict()"), and a
state_dict alone cannot be loaded without rebuilding the pruned shapes.
save_compressed() pickles the model with its WeightQuant parametrizations
taken off (the float weights stay, the bits are recorded) and puts them back
at once; load_compressed() unpickles and registers them again. The model's
classes must be importable where it is loaded, as for torch.save(model).
"""
import io

import torch
from torch.nn.utils import parametrize

from picpq import write_atomic

from .qat import WeightQuant

FORMAT, VERSION = "picpq-compressed-model", 1


def _weight_quants(model):
    """{module name: [bits of its weight parametrizations]}."""
    out = {}
    for name, m in model.named_modules():
        if parametrize.is_parametrized(m, "weight"):
            plist = m.parametrizations.weight
            if not all(isinstance(p, WeightQuant) for p in plist):
                raise ValueError(f"{name}: only WeightQuant parametrizations can be saved")
            out[name] = [p.bits for p in plist]
    return out


def _reattach(model, quants):
    mods = dict(model.named_modules())
    for name, bits in quants.items():
        for b in bits:
            parametrize.register_parametrization(mods[name], "weight", WeightQuant(b))


def save_compressed(model, path=None, **meta):
    """Save a compressed model (pruned shapes, ActQuant modules, WeightQuant
    parametrizations) with optional metadata (e.g. bits=..., kept=...) to
    `path`, atomically. Returns the file's bytes. The model is left as it
    was (same Parameter objects, so an optimizer over it stays valid)."""
    quants = _weight_quants(model)
    mods = dict(model.named_modules())
    for name in quants:
        parametrize.remove_parametrizations(mods[name], "weight", leave_parametrized=False)
    try:
        buf = io.BytesIO()
        torch.save(dict(format=FORMAT, version=VERSION, model=model, weight_quant=quants,
                        meta=meta), buf)
    finally:
        _reattach(model, quants)
    data = buf.getvalue()
    if path is not None:
        write_atomic(path, data)
    return data


def load_compressed(source, map_location=None, with_meta=False):
    """The model saved by save_compressed (a path or its bytes), its
    WeightQuant parametrizations registered again; with with_meta also the
    metadata dict: (model, meta)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    obj = torch.load(source, map_location=map_location)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError("not a file written by picpq.torch.save_compressed")
    if obj.get("version") != VERSION:
        raise ValueError(f"compressed model version {obj.get('version')} is not supported "
                         f"(this picpq reads {VERSION})")
    model = obj["model"]
    _reattach(model, obj["weight_quant"])
    return (model, obj["meta"]) if with_meta else model
