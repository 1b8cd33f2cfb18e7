"""Loading libpicpq and declaring the C signatures (one table for all)."""
import ctypes
import ctypes.util
import os

from ._errors import error_for

_HERE = os.path.dirname(os.path.abspath(__file__))
_SUPPORTED_MAJOR = 0

class c_status(ctypes.c_int):
    """picpq_status: a distinct type so that only status returns are checked."""
c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_void_pp = ctypes.POINTER(ctypes.c_void_p)


def _candidates():
    env = os.environ.get("PICPQ_LIBRARY")
    if env:
        yield env
        return
    yield os.path.join(_HERE, "..", "..", "lib", "libpicpq.so")
    found = ctypes.util.find_library("picpq")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            tried.append(f"{path}: {exc}")
    raise ImportError("libpicpq not found; build it with `make` or set PICPQ_LIBRARY.\n"
                      + "\n".join(tried))


lib = _load()

# name: (restype, argtypes). c_status functions raise on a negative status.
_SIGNATURES = {
    "picpq_version_number": (ctypes.c_int, []),
    "picpq_version_string": (ctypes.c_char_p, []),
    "picpq_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "picpq_last_error": (ctypes.c_char_p, []),
    "picpq_param_range": (c_status, [ctypes.c_int, ctypes.POINTER(ctypes.c_int), c_double_p,
                                     c_double_p, c_double_p]),
    "picpq_param_from_name": (c_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "picpq_param_name": (ctypes.c_char_p, [ctypes.c_int]),
    "picpq_dtype_size": (ctypes.c_size_t, [ctypes.c_int]),
    "picpq_tensor_create": (c_status, [ctypes.c_int, ctypes.c_int32, c_int64_p, c_void_pp]),
    "picpq_tensor_wrap": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32, c_int64_p,
                                     c_int64_p, c_void_pp]),
    "picpq_tensor_free": (None, [ctypes.c_void_p]),
    "picpq_tensor_data": (ctypes.c_void_p, [ctypes.c_void_p]),
    "picpq_tensor_dtype": (ctypes.c_int, [ctypes.c_void_p]),
    "picpq_tensor_ndim": (ctypes.c_int32, [ctypes.c_void_p]),
    "picpq_tensor_dim": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int32]),
    "picpq_tensor_stride": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int32]),
    "picpq_tensor_numel": (ctypes.c_int64, [ctypes.c_void_p]),
    "picpq_tensor_is_contiguous": (ctypes.c_int, [ctypes.c_void_p]),
    "picpq_tensor_owns_data": (ctypes.c_int, [ctypes.c_void_p]),
    "picpq_tensor_view": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64,
                                     ctypes.c_int64, c_void_pp]),
    "picpq_tensor_copy": (c_status, [ctypes.c_void_p, ctypes.c_int, c_void_pp]),
    "picpq_tensor_copy_into": (c_status, [ctypes.c_void_p, ctypes.c_void_p]),
    "picpq_tensor_l1_per_filter": (c_status, [ctypes.c_void_p, c_double_p, ctypes.c_int64]),
    "picpq_tensor_check_finite": (c_status, [ctypes.c_void_p]),
}


def _errcheck(result, func, args):
    status = result.value
    if status < 0:
        message = lib.picpq_last_error().decode("utf-8", "replace")
        raise error_for(status, func.__name__, message)
    return status


def _declare():
    for name, (restype, argtypes) in _SIGNATURES.items():
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = argtypes
        if restype is c_status:
            func.errcheck = _errcheck


_declare()

_major = lib.picpq_version_number() // 10000
if _major != _SUPPORTED_MAJOR:
    raise ImportError(f"libpicpq major version {_major} is not supported by this binding "
                      f"(needs {_SUPPORTED_MAJOR})")
