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
c_float_p = ctypes.POINTER(ctypes.c_float)
c_uint8_p = ctypes.POINTER(ctypes.c_uint8)
c_int8_p = ctypes.POINTER(ctypes.c_int8)
c_uint64_p = ctypes.POINTER(ctypes.c_uint64)
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)


class Allocator(ctypes.Structure):
    """picpq_allocator: per-handle memory hooks of the *_create_ex calls."""
    _fields_ = [("alloc", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)),
                ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)),
                ("ud", ctypes.c_void_p)]


c_alloc_p = ctypes.POINTER(Allocator)


def _candidates():
    env = os.environ.get("PICPQ_LIBRARY")
    if env:
        yield env
        return
    yield os.path.join(_HERE, "libpicpq.so")  # shipped by `pip install`
    yield os.path.join(_HERE, "..", "..", "lib", "libpicpq.so")  # a built checkout
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
    "picpq_param_has_auto": (ctypes.c_int, [ctypes.c_int]),
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
    "picpq_tensor_create_ex": (c_status, [ctypes.c_int, ctypes.c_int32, c_int64_p, c_alloc_p,
                                          c_void_pp]),
    "picpq_tensor_wrap_ex": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32, c_int64_p,
                                        c_int64_p, c_alloc_p, c_void_pp]),
    # rank
    "picpq_ranker_create_ex": (c_status, [ctypes.c_int32, c_int64_p, c_alloc_p, c_void_pp]),
    "picpq_matrix_rank_f32": (c_status, [c_float_p, ctypes.c_int64, ctypes.c_int64,
                                         ctypes.c_int64, c_int64_p]),
    "picpq_ranker_create": (c_status, [ctypes.c_int32, c_int64_p, c_void_pp]),
    "picpq_ranker_create_for_net": (c_status, [ctypes.c_void_p, c_void_pp]),
    "picpq_ranker_free": (None, [ctypes.c_void_p]),
    "picpq_ranker_reset": (c_status, [ctypes.c_void_p]),
    "picpq_ranker_set_int": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]),
    "picpq_ranker_set_double": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]),
    "picpq_ranker_get_int": (c_status, [ctypes.c_void_p, ctypes.c_int, c_int64_p]),
    "picpq_ranker_get_double": (c_status, [ctypes.c_void_p, ctypes.c_int, c_double_p]),
    "picpq_ranker_feed": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p]),
    "picpq_ranker_fp": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_double_p, ctypes.c_int64]),
    "picpq_ranker_fp_to_net": (c_status, [ctypes.c_void_p, ctypes.c_void_p]),
    "picpq_ranker_images": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int64_p]),
    "picpq_ranker_stats": (c_status, [ctypes.c_void_p, c_int64_p, c_int64_p]),
    "picpq_ranker_num_layers": (ctypes.c_int32, [ctypes.c_void_p]),
    "picpq_ranker_layer_channels": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int64_p]),
    "picpq_ranker_merge": (c_status, [ctypes.c_void_p, ctypes.c_void_p]),
    "picpq_ranker_save": (c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     c_size_t_p]),
    "picpq_ranker_load": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_void_pp]),
    "picpq_ranker_load_ex": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_alloc_p, c_void_pp]),
    # net
    "picpq_net_create": (c_status, [c_void_pp]),
    "picpq_net_create_ex": (c_status, [c_alloc_p, c_void_pp]),
    "picpq_net_free": (None, [ctypes.c_void_p]),
    "picpq_net_add_conv": (c_status, [ctypes.c_void_p] + [ctypes.c_int64] * 7 + [c_int32_p]),
    "picpq_net_add_linear": (c_status, [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                        c_int32_p]),
    "picpq_net_connect": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32]),
    "picpq_net_couple": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32]),
    "picpq_net_set_int": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]),
    "picpq_net_get_int": (c_status, [ctypes.c_void_p, ctypes.c_int, c_int64_p]),
    "picpq_net_set_prunable": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int]),
    "picpq_net_set_fp": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_double_p,
                                    ctypes.c_int64]),
    "picpq_net_fp": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_double_p,
                                ctypes.c_int64]),
    "picpq_net_num_layers": (ctypes.c_int32, [ctypes.c_void_p]),
    "picpq_net_layer_kind": (c_status, [ctypes.c_void_p, ctypes.c_int32,
                                        ctypes.POINTER(ctypes.c_int)]),
    "picpq_net_layer_channels": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int64_p,
                                            c_int64_p]),
    "picpq_net_layer_geometry": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int64_p,
                                            c_int64_p, c_int64_p, c_int64_p, c_int64_p]),
    "picpq_net_layer_links": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int32_p, c_int32_p]),
    "picpq_net_is_prunable": (c_status, [ctypes.c_void_p, ctypes.c_int32,
                                         ctypes.POINTER(ctypes.c_int)]),
    "picpq_net_validate": (c_status, [ctypes.c_void_p]),
    "picpq_net_macs": (c_status, [ctypes.c_void_p, c_double_p]),
    "picpq_net_params": (c_status, [ctypes.c_void_p, c_double_p]),
    "picpq_plan_macs": (c_status, [ctypes.c_void_p, c_double_p]),
    "picpq_plan_key": (c_status, [ctypes.c_void_p, c_uint64_p]),
    "picpq_plan_params": (c_status, [ctypes.c_void_p, c_double_p]),
    "picpq_plan_bops": (c_status, [ctypes.c_void_p, c_int32_p, c_int32_p, c_double_p]),
    "picpq_net_bops": (c_status, [ctypes.c_void_p, c_int32_p, c_int32_p,
                                  c_double_p]),
    # plan
    "picpq_plan_create": (c_status, [ctypes.c_void_p, c_void_pp]),
    "picpq_plan_create_ex": (c_status, [ctypes.c_void_p, c_alloc_p, c_void_pp]),
    "picpq_plan_free": (None, [ctypes.c_void_p]),
    "picpq_plan_set_int": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]),
    "picpq_plan_get_int": (c_status, [ctypes.c_void_p, ctypes.c_int, c_int64_p]),
    "picpq_plan_set_double": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]),
    "picpq_plan_get_double": (c_status, [ctypes.c_void_p, ctypes.c_int, c_double_p]),
    "picpq_plan_compute": (c_status, [ctypes.c_void_p, c_double_p, c_double_p, ctypes.c_double]),
    "picpq_plan_compute_multi": (c_status, [c_void_pp, ctypes.c_int32, c_double_p, c_double_p,
                                            c_double_p, ctypes.POINTER(ctypes.c_int)]),
    "picpq_plan_importance": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_double,
                                         ctypes.c_double, c_double_p, ctypes.c_int64]),
    "picpq_plan_budget": (c_status, [ctypes.c_void_p, c_double_p, c_double_p]),
    "picpq_plan_kept": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int64_p]),
    "picpq_plan_keep_mask": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_uint8_p,
                                        ctypes.c_int64]),
    "picpq_plan_set_keep_mask": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_uint8_p,
                                            ctypes.c_int64]),
    # search
    "picpq_search_create": (c_status, [ctypes.c_void_p, ctypes.c_uint64, c_void_pp]),
    "picpq_search_create_ex": (c_status, [ctypes.c_void_p, ctypes.c_uint64, c_alloc_p,
                                          c_void_pp]),
    "picpq_search_free": (None, [ctypes.c_void_p]),
    "picpq_search_set_int": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64]),
    "picpq_search_set_double": (c_status, [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]),
    "picpq_search_get_int": (c_status, [ctypes.c_void_p, ctypes.c_int, c_int64_p]),
    "picpq_search_get_double": (c_status, [ctypes.c_void_p, ctypes.c_int, c_double_p]),
    "picpq_search_ask": (c_status, [ctypes.c_void_p, c_uint64_p, c_double_p, c_double_p,
                                    ctypes.c_int64]),
    "picpq_search_tell": (c_status, [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_double]),
    "picpq_search_best": (c_status, [ctypes.c_void_p, c_double_p, c_double_p, ctypes.c_int64,
                                     c_double_p]),
    "picpq_search_num_pending": (ctypes.c_int64, [ctypes.c_void_p]),
    "picpq_search_pending": (c_status, [ctypes.c_void_p, ctypes.c_int64, c_uint64_p, c_double_p,
                                        c_double_p, ctypes.c_int64]),
    "picpq_search_stats": (c_status, [ctypes.c_void_p, c_int64_p, c_int64_p, c_int64_p,
                                      c_double_p]),
    "picpq_search_history": (c_status, [ctypes.c_void_p, c_double_p, ctypes.c_int64,
                                        c_int64_p]),
    "picpq_search_tell_repeat": (c_status, [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_double]),
    "picpq_search_num_repeats": (ctypes.c_int64, [ctypes.c_void_p]),
    "picpq_search_save": (c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     c_size_t_p]),
    "picpq_search_load": (c_status, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                     c_void_pp]),
    "picpq_search_load_ex": (c_status, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                        c_alloc_p, c_void_pp]),
    "picpq_lub_write": (c_status, [ctypes.c_void_p, c_double_p, c_double_p, ctypes.c_int64,
                                   ctypes.c_char_p, ctypes.c_size_t, c_size_t_p]),
    "picpq_lub_read": (c_status, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, c_double_p,
                                  c_double_p, ctypes.c_int64]),
    # quant
    "picpq_quant_sparsity_l1": (c_status, [ctypes.c_void_p, ctypes.c_void_p, c_double_p]),
    "picpq_quant_sparsity_l1_masked": (c_status, [ctypes.c_void_p, c_uint8_p, ctypes.c_int64,
                                                  c_uint8_p, ctypes.c_int64, c_double_p]),
    "picpq_quant_sparsity_from_plan": (c_status, [ctypes.c_void_p, ctypes.c_void_p, c_double_p]),
    "picpq_quant_bits_assign": (c_status, [ctypes.c_int32, c_double_p, c_int32_p, ctypes.c_double,
                                           ctypes.c_int32, c_int32_p]),
    "picpq_quant_bits_solve": (c_status, [ctypes.c_void_p, ctypes.c_void_p, c_double_p, c_int32_p,
                                          ctypes.c_int32, ctypes.c_double, c_double_p, c_int32_p]),
    "picpq_quant_bits_fill": (c_status, [ctypes.c_void_p, ctypes.c_void_p, c_double_p, c_int32_p,
                                         ctypes.c_int32, ctypes.c_double, c_int32_p]),
    "picpq_quant_weights": (c_status, [ctypes.c_void_p, ctypes.c_int32]),
    "picpq_quant_weights_into": (c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32]),
    "picpq_quant_activations": (c_status, [ctypes.c_void_p, ctypes.c_int32]),
    "picpq_quant_activations_into": (c_status, [ctypes.c_void_p, ctypes.c_void_p,
                                                ctypes.c_int32]),
    "picpq_quant_weight_codes": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int8_p,
                                            ctypes.c_int64,
                                            c_int32_p, c_float_p]),
    "picpq_quant_linear_codes": (c_status, [ctypes.c_void_p, ctypes.c_int32, c_int8_p,
                                            ctypes.c_int64, c_float_p, ctypes.c_int64]),
    "picpq_quant_pack": (c_status, [c_int8_p, ctypes.c_int64, ctypes.c_int32, c_uint8_p,
                                    ctypes.c_size_t, c_size_t_p]),
    "picpq_quant_unpack": (c_status, [c_uint8_p, ctypes.c_size_t, ctypes.c_int32, c_int8_p,
                                      ctypes.c_int64]),
    "picpq_quant_packed_size": (c_status, [ctypes.c_int32, c_int64_p, c_int32_p, c_int64_p]),
    # model runtime (experimental)
    "picpq_model_load": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_void_pp]),
    "picpq_model_load_ex": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_alloc_p, c_void_pp]),
    "picpq_model_load_opts": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_alloc_p,
                                         ctypes.c_uint32, c_void_pp]),
    "picpq_model_load_file": (c_status, [ctypes.c_char_p, c_void_pp]),
    "picpq_model_conv_counts": (c_status, [ctypes.c_void_p, c_int32_p, c_int32_p]),
    "picpq_model_free": (None, [ctypes.c_void_p]),
    "picpq_model_input_shape": (c_status, [ctypes.c_void_p, c_int64_p, c_int64_p, c_int64_p]),
    "picpq_model_num_classes": (c_status, [ctypes.c_void_p, c_int64_p]),
    "picpq_model_workspace_size": (c_status, [ctypes.c_void_p, ctypes.c_int64, c_size_t_p]),
    "picpq_model_workspace_create": (c_status, [ctypes.c_void_p, ctypes.c_int64, c_void_pp]),
    "picpq_model_workspace_free": (None, [ctypes.c_void_p]),
    "picpq_model_run": (c_status, [ctypes.c_void_p, ctypes.c_void_p, c_float_p, ctypes.c_int64,
                                   c_float_p]),
}


def _errcheck(result, func, args):
    status = result.value
    if status < 0:
        message = lib.picpq_last_error().decode("utf-8", "replace")
        raise error_for(status, func.__name__, message)
    return status


def _range_checked(base):
    """`base` as an argument type that refuses Python ints it cannot hold
    (ctypes would silently keep only the low bits: 2**32 → 0)."""
    bits = 8 * ctypes.sizeof(base)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if base(-1).value < 0 else (0, 1 << bits)

    def from_param(cls, value):
        if isinstance(value, int):
            if not lo <= value < hi:
                raise OverflowError(f"{value} is outside [{lo}, {hi - 1}]")
            return base(value)
        return base.from_param(value)  # other types: ctypes' own rules
    return type(base.__name__ + "_checked", (base,), {"from_param": classmethod(from_param)})


_CHECKED = {t: _range_checked(t) for t in (ctypes.c_int, ctypes.c_int8, ctypes.c_uint8,
                                           ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t,
                                           ctypes.c_uint64)}


def _declare():
    for name, (restype, argtypes) in _SIGNATURES.items():
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = [_CHECKED.get(t, t) for t in argtypes]
        if restype is c_status:
            func.errcheck = _errcheck


_declare()

_major = lib.picpq_version_number() // 10000
if _major != _SUPPORTED_MAJOR:
    raise ImportError(f"libpicpq major version {_major} is not supported by this binding "
                      f"(needs {_SUPPORTED_MAJOR})")
