"""libpicpq from Python: PIC-PQ pruning-quantization for CNNs, through ctypes.

    import picpq
    print(picpq.version())
"""
from ._errors import (ArgumentError, InternalError, NumericalError, OutOfMemory, PicpqError,
                      StateError)
from ._native import lib
from ._tensor import Tensor


def version():
    """The library's version string, e.g. "0.1.0"."""
    return lib.picpq_version_string().decode()


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


__all__ = ["ArgumentError", "InternalError", "NumericalError", "OutOfMemory", "PicpqError",
           "StateError", "Tensor", "param_range", "version"]
