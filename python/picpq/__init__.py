"""libpicpq from Python: PIC-PQ pruning-quantization for CNNs, through ctypes.

    import picpq
    with picpq.Net() as net:
        stem = net.add_conv(3, 16, 3, out_size=32)
        ...
        plan = picpq.Plan(net)
        plan.compute(a, b, keep_fraction=0.5)

Torch helpers (describe an nn.Module, rank, prune, QAT, export) are in
picpq.torch, importable when PyTorch is installed.

Every C function is also callable raw as picpq.lib.picpq_*, with its
declared signature; a negative status raises the same exceptions. Only the
raw route reaches the allocator variants (*_create_ex, *_load_ex,
picpq_tensor_wrap_ex with a picpq._native.Allocator) and the tensor
accessors (dtype, strides, data pointer), which numpy already gives.
"""
from ._errors import (ArgumentError, InternalError, NumericalError, OutOfMemory, PicpqError,
                      StateError)
from ._handles import (CHAIN_MAX, CHAIN_MEAN, CHAIN_SUM, Model, Net, Plan, Ranker, Search,
                       bits_assign, bits_fill, bits_solve, compute_multi, matrix_rank, pack_bits,
                       packed_size, param_key, quantize_activations, quantize_linear,
                       quantize_weights, sparsity_from_plan, sparsity_l1, sparsity_l1_masked,
                       unpack_bits, weights_export)
from ._io import write_atomic
from ._native import lib
from ._tensor import Tensor


def version():
    """The library's version string, e.g. "0.3.0"."""
    return lib.picpq_version_string().decode()


def status_string(status):
    """Static description of a status code."""
    return lib.picpq_status_string(status).decode()


def param_range(name):
    """(type, lo, hi, default) of a parameter given by its dotted name,
    e.g. param_range("search.population") -> ("int", 2.0, 1048576.0, 64.0)."""
    import ctypes
    key = ctypes.c_int()
    lib.picpq_param_from_name(name.encode(), ctypes.byref(key))
    kind, lo, hi, default = ctypes.c_int(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    lib.picpq_param_range(key, ctypes.byref(kind), ctypes.byref(lo), ctypes.byref(hi),
                          ctypes.byref(default))
    return ("int" if kind.value == 1 else "double", lo.value, hi.value, default.value)


__all__ = ["ArgumentError", "CHAIN_MAX", "CHAIN_MEAN", "CHAIN_SUM", "InternalError", "Model",
           "Net", "NumericalError", "OutOfMemory", "PicpqError", "Plan", "Ranker", "Search",
           "StateError", "Tensor", "bits_assign", "bits_fill", "bits_solve",
           "compute_multi", "matrix_rank", "pack_bits", "packed_size", "param_key", "param_range",
           "quantize_activations", "quantize_linear", "quantize_weights", "sparsity_from_plan",
           "sparsity_l1", "sparsity_l1_masked", "status_string", "unpack_bits", "version",
           "weights_export", "write_atomic"]
