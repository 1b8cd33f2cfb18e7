"""One Python class per libpicpq handle: Ranker, Net, Plan, Search.

Every class frees its C object in close() (also on `with` exit and, as a
fallback, when garbage-collected); using a closed object raises ValueError.
Arrays go to C without copies when they already are C-contiguous of the
right dtype; anything else is converted (never reinterpreted)."""
import ctypes
import weakref

import numpy as np

from ._native import lib
from ._handle import _Handle
from ._tensor import Tensor

OK, DONE, BUDGET_UNMET = 0, 1, 2
LAYER_CONV, LAYER_LINEAR = 1, 2
CHAIN_SUM, CHAIN_MEAN, CHAIN_MAX = 0, 1, 2  # picpq_chain_reduce (plan.chain_reduce)


def param_key(name):
    """The picpq_param key of a dotted name ("plan.safeguard") or an int key."""
    if isinstance(name, int):
        return name
    key = ctypes.c_int()
    lib.picpq_param_from_name(name.encode(), ctypes.byref(key))
    return key.value


def as_c_array(values, dtype, name, length=None):
    """A C-contiguous numpy array of `dtype` (a copy only when needed).
    Refuses values that would have to be reinterpreted (e.g. floats for ints)."""
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if np.dtype(dtype).kind in "iu" and arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError(f"{name}: expected integers, got non-integral values")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if length is not None and arr.shape[0] != length:
        raise ValueError(f"{name}: expected {length} values, got {arr.shape[0]}")
    return arr


def ptr(arr, ctype):
    """ctypes pointer to a numpy array's first element."""
    return arr.ctypes.data_as(ctypes.POINTER(ctype))


def sized_output(call, ctype=ctypes.c_uint8):
    """The bytes of a C call with the (buf, cap, &needed) convention: the size
    first, then the filled buffer (of `ctype` elements)."""
    needed = ctypes.c_size_t()
    call(None, 0, ctypes.byref(needed))
    buf = (ctype * needed.value)()
    call(buf, needed.value, ctypes.byref(needed))
    return bytes(buf)[:needed.value]


def _set_param(prefix, handle, key, value):
    k = param_key(key)
    kind = ctypes.c_int()
    lib.picpq_param_range(k, ctypes.byref(kind), None, None, None)
    if kind.value == 1:
        if isinstance(value, float) and not value.is_integer():
            raise TypeError(f"parameter {key} is an integer, got {value}")
        getattr(lib, f"picpq_{prefix}_set_int")(handle, k, int(value))
    else:
        getattr(lib, f"picpq_{prefix}_set_double")(handle, k, float(value))


def _get_param(prefix, handle, key):
    k = param_key(key)
    kind = ctypes.c_int()
    lib.picpq_param_range(k, ctypes.byref(kind), None, None, None)
    if kind.value == 1:
        v = ctypes.c_int64()
        getattr(lib, f"picpq_{prefix}_get_int")(handle, k, ctypes.byref(v))
    else:
        v = ctypes.c_double()
        getattr(lib, f"picpq_{prefix}_get_double")(handle, k, ctypes.byref(v))
    return v.value


class _Configurable(_Handle):
    """A handle with typed parameters (picpq_<prefix>_set/get_int/double)."""
    _param_prefix = None

    def set(self, key, value):
        """Set a parameter by dotted name ("plan.safeguard") or picpq_param key."""
        _set_param(self._param_prefix, self.ptr, key, value)

    def get(self, key):
        """Read a parameter by dotted name or picpq_param key."""
        return _get_param(self._param_prefix, self.ptr, key)


def matrix_rank(matrix):
    """Rank of a 2-D float32 matrix by the reference rule (numpy/torch's default
    tolerance σ1·max(rows, cols)·FLT_EPSILON). Any row stride; columns must be
    contiguous (other layouts are copied)."""
    a = np.asarray(matrix)
    if a.ndim != 2:
        raise ValueError(f"matrix: expected 2-D, got {a.ndim}-D")
    if a.dtype != np.float32:
        raise TypeError(f"matrix: expected float32, got {a.dtype}")
    if a.strides[1] != 4 or a.strides[0] % 4 or a.strides[0] < 4 * a.shape[1]:
        a = np.ascontiguousarray(a)
    rank = ctypes.c_int64()
    lib.picpq_matrix_rank_f32(ptr(a, ctypes.c_float), a.shape[0], a.shape[1],
                              a.strides[0] // 4, ctypes.byref(rank))
    return rank.value


class Ranker(_Configurable):
    """Accumulates the filter property (mean feature-map rank per filter,
    METHOD §3) of every layer over batches of output maps."""
    _free_name = "picpq_ranker_free"
    _what = "ranker"
    _param_prefix = "ranker"

    def __init__(self, channels=None, net=None):
        """Ranker(channels=[16, 32, ...]) or Ranker(net=net): one accumulator
        per layer, sized by its number of output channels."""
        handle = ctypes.c_void_p()
        if net is not None:
            lib.picpq_ranker_create_for_net(net.ptr, ctypes.byref(handle))
        else:
            ch = as_c_array(channels, np.int64, "channels")
            lib.picpq_ranker_create(ch.shape[0], ptr(ch, ctypes.c_int64), ctypes.byref(handle))
        self._ptr = handle.value
        self._read_channels()

    def _read_channels(self):
        count = ctypes.c_int64()
        self.channels = []
        for layer in range(lib.picpq_ranker_num_layers(self.ptr)):
            lib.picpq_ranker_layer_channels(self.ptr, layer, ctypes.byref(count))
            self.channels.append(count.value)

    @property
    def num_layers(self):
        """Layers the ranker accumulates (one per conv it was created for)."""
        return len(self.channels)

    def reset(self):
        """Forget every image fed and restore the default parameters."""
        lib.picpq_ranker_reset(self.ptr)

    def feed(self, layer, maps):
        """Add a batch of layer outputs [N, C, H, W] (float32 numpy array or
        CPU torch tensor, any strides, read in place)."""
        with Tensor(maps) as t:
            lib.picpq_ranker_feed(self.ptr, layer, t.ptr)

    def filter_property(self, layer):
        """Mean rank per filter of `layer` (float64 array of its channel count)."""
        n = self.channels[layer] if 0 <= layer < len(self.channels) else 1
        out = np.empty(n, dtype=np.float64)
        lib.picpq_ranker_fp(self.ptr, layer, ptr(out, ctypes.c_double), n)
        return out

    def to_net(self, net):
        """Store the filter property of every fed layer in `net` (a ranker
        made with Ranker(net=net)); unfed layers keep theirs."""
        lib.picpq_ranker_fp_to_net(self.ptr, net.ptr)

    def images(self, layer):
        """Number of images fed to `layer`."""
        n = ctypes.c_int64()
        lib.picpq_ranker_images(self.ptr, layer, ctypes.byref(n))
        return n.value

    def stats(self):
        """(certified, fallback): maps decided by the cheap certificate vs by SVD."""
        c, f = ctypes.c_int64(), ctypes.c_int64()
        lib.picpq_ranker_stats(self.ptr, ctypes.byref(c), ctypes.byref(f))
        return c.value, f.value

    def merge(self, other):
        """Add another ranker's sums and counts (same layers and channels)."""
        lib.picpq_ranker_merge(self.ptr, other.ptr)

    def save(self):
        """The ranker's state (sums, image counts, parameters, statistics) as
        bytes; another process restores it with Ranker.load and merges."""
        return sized_output(lambda *out: lib.picpq_ranker_save(self.ptr, *out))

    @classmethod
    def load(cls, data):
        """A ranker restored from save()'s bytes."""
        raw = bytes(data)
        handle = ctypes.c_void_p()
        lib.picpq_ranker_load(raw, len(raw), ctypes.byref(handle))
        self = cls.__new__(cls)
        self._ptr = handle.value
        self._read_channels()
        return self


class Net(_Handle):
    """Description of a CNN for pruning: its conv and linear layers (ids in
    the order added), who feeds whom, which layers prune the same channels,
    and each prunable layer's filter property. Computes MACs, parameters and
    BOPs, unpruned or under a Plan. Plans and searches made on a net borrow
    it: closing the net closes them first."""
    _free_name = "picpq_net_free"
    _what = "net"

    def __init__(self):
        handle = ctypes.c_void_p()
        lib.picpq_net_create(ctypes.byref(handle))
        self._ptr = handle.value
        self._dependents = weakref.WeakSet()

    def close(self):
        """Close the plans and searches that borrow this net, then the net."""
        for dep in list(getattr(self, "_dependents", ())):
            dep.close()
        super().close()

    def add_conv(self, in_ch, out_ch, kernel, groups=1, out_size=(1, 1)):
        """Append a conv layer (kernel and out_size are int or (h, w)); returns its id."""
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        oh, ow = (out_size, out_size) if isinstance(out_size, int) else out_size
        layer = ctypes.c_int32()
        lib.picpq_net_add_conv(self.ptr, in_ch, out_ch, kh, kw, groups, oh, ow,
                               ctypes.byref(layer))
        return layer.value

    def add_linear(self, in_features, out_features):
        """Append a fully connected layer; returns its id."""
        layer = ctypes.c_int32()
        lib.picpq_net_add_linear(self.ptr, in_features, out_features, ctypes.byref(layer))
        return layer.value

    def connect(self, producer, consumer):
        """`consumer`'s inputs are `producer`'s outputs."""
        lib.picpq_net_connect(self.ptr, producer, consumer)

    def couple(self, a, b):
        """Conv layers a and b prune the same output channel indices."""
        lib.picpq_net_couple(self.ptr, a, b)

    def set(self, key, value):
        """Set a cost convention, e.g. set("net.bops_skip_first", 1)."""
        _set_param("net", self.ptr, key, value)

    def get(self, key):
        """Read a cost convention by dotted name, e.g. get("net.bops_skip_first")."""
        return _get_param("net", self.ptr, key)

    def set_prunable(self, layer, prunable):
        """Exclude a layer from pruning (False) or include it again (True);
        a layer that is not prunable keeps all its filters in every plan."""
        lib.picpq_net_set_prunable(self.ptr, layer, int(bool(prunable)))

    def is_prunable(self, layer):
        """Whether plans may remove filters of this layer."""
        v = ctypes.c_int()
        lib.picpq_net_is_prunable(self.ptr, layer, ctypes.byref(v))
        return bool(v.value)

    def set_fp(self, layer, fp):
        """Store a layer's filter property (one value per output channel)."""
        arr = as_c_array(fp, np.float64, "fp")
        lib.picpq_net_set_fp(self.ptr, layer, ptr(arr, ctypes.c_double), arr.shape[0])

    def fp(self, layer):
        """The layer's stored filter property (what set_fp stored)."""
        n = self.layer_channels(layer)[1]
        out = np.empty(n, dtype=np.float64)
        lib.picpq_net_fp(self.ptr, layer, ptr(out, ctypes.c_double), n)
        return out

    @property
    def num_layers(self):
        """Layers added so far (ids are 0..num_layers-1)."""
        return lib.picpq_net_num_layers(self.ptr)

    def layer_kind(self, layer):
        """"conv" or "linear"."""
        v = ctypes.c_int()
        lib.picpq_net_layer_kind(self.ptr, layer, ctypes.byref(v))
        return "conv" if v.value == LAYER_CONV else "linear"

    def layer_channels(self, layer):
        """(in_ch, out_ch) as declared."""
        i, o = ctypes.c_int64(), ctypes.c_int64()
        lib.picpq_net_layer_channels(self.ptr, layer, ctypes.byref(i), ctypes.byref(o))
        return i.value, o.value

    def layer_geometry(self, layer):
        """(kh, kw, groups, out_h, out_w) as declared (1s for a linear layer)."""
        v = [ctypes.c_int64() for _ in range(5)]
        lib.picpq_net_layer_geometry(self.ptr, layer, *[ctypes.byref(x) for x in v])
        return tuple(x.value for x in v)

    def layer_links(self, layer):
        """(producer or -1, chain): layers with equal chain prune the same indices."""
        p, c = ctypes.c_int32(), ctypes.c_int32()
        lib.picpq_net_layer_links(self.ptr, layer, ctypes.byref(p), ctypes.byref(c))
        return p.value, c.value

    def validate(self):
        """Raise if the description is inconsistent (names the layers)."""
        lib.picpq_net_validate(self.ptr)

    def _cost(self, net_func, plan_func, plan, *bits):
        if plan is not None and plan.net is not self:
            raise ValueError("the plan was made on another net")
        v = ctypes.c_double()
        if plan is None:
            net_func(self.ptr, *bits, ctypes.byref(v))
        else:
            plan_func(plan.ptr, *bits, ctypes.byref(v))
        return v.value

    def macs(self, plan=None):
        """Multiply-accumulates, unpruned or under `plan`."""
        return self._cost(lib.picpq_net_macs, lib.picpq_plan_macs, plan)

    def params(self, plan=None):
        """Conv and linear weight count, unpruned or under `plan`."""
        return self._cost(lib.picpq_net_params, lib.picpq_plan_params, plan)

    def bops(self, plan=None, wbits=None, abits=None):
        """Bit operations Σ MACs·wbits·abits; bits None = 32 everywhere.
        Pass abits=wbits for the reference's convention."""
        n = self.num_layers
        w = as_c_array(wbits, np.int32, "wbits", n) if wbits is not None else None
        a = as_c_array(abits, np.int32, "abits", n) if abits is not None else None
        return self._cost(lib.picpq_net_bops, lib.picpq_plan_bops, plan,
                          ptr(w, ctypes.c_int32) if w is not None else None,
                          ptr(a, ctypes.c_int32) if a is not None else None)

    def _ab(self, a, b):
        n = self.num_layers
        return as_c_array(a, np.float64, "a", n), as_c_array(b, np.float64, "b", n)

    def lub_write(self, a, b):
        """(a, b) in the reference's --lub text format."""
        a, b = self._ab(a, b)
        text = sized_output(lambda *out: lib.picpq_lub_write(
            self.ptr, ptr(a, ctypes.c_double), ptr(b, ctypes.c_double), a.shape[0], *out),
            ctypes.c_char)
        return text.split(b"\0", 1)[0].decode()

    def lub_read(self, text):
        """Parse the --lub text format: returns (a, b) arrays per layer."""
        raw = text.encode() if isinstance(text, str) else bytes(text)
        n = self.num_layers
        a, b = np.empty(n), np.empty(n)
        lib.picpq_lub_read(self.ptr, raw, len(raw), ptr(a, ctypes.c_double),
                           ptr(b, ctypes.c_double), n)
        return a, b


class Plan(_Configurable):
    """A pruning plan on a Net: which filters each layer keeps. compute()
    ranks all filters globally by I = a·FP + b and removes the least
    important ones until the MACs budget is met (METHOD §5)."""
    _free_name = "picpq_plan_free"
    _what = "plan"
    _param_prefix = "plan"

    def __init__(self, net, **params):
        """Plan(net, faithful=1, safeguard=0.1, ...): parameters by short name."""
        handle = ctypes.c_void_p()
        lib.picpq_plan_create(net.ptr, ctypes.byref(handle))
        self._ptr = handle.value
        self.net = net  # the C plan borrows the net: keep it alive
        net._dependents.add(self)
        for key, value in params.items():
            self.set("plan." + key, value)

    def compute(self, a, b, keep_fraction):
        """Plan for importances a[l]·FP + b[l] within keep_fraction of the
        unpruned MACs. Returns True if the budget is met, False if the
        safeguard quotas ran out first (the plan is then the most pruned allowed)."""
        a, b = self.net._ab(a, b)
        status = lib.picpq_plan_compute(self.ptr, ptr(a, ctypes.c_double),
                                        ptr(b, ctypes.c_double), float(keep_fraction))
        return status == OK

    def importance(self, layer, a, b):
        """The importances compute() would use for one layer's filters."""
        n = self.net.layer_channels(layer)[1]
        out = np.empty(n)
        lib.picpq_plan_importance(self.ptr, layer, float(a), float(b),
                                  ptr(out, ctypes.c_double), n)
        return out

    def budget(self):
        """(budget, cost) of the last compute()."""
        budget, cost = ctypes.c_double(), ctypes.c_double()
        lib.picpq_plan_budget(self.ptr, ctypes.byref(budget), ctypes.byref(cost))
        return budget.value, cost.value

    def kept(self, layer):
        """Number of filters kept in `layer`."""
        v = ctypes.c_int64()
        lib.picpq_plan_kept(self.ptr, layer, ctypes.byref(v))
        return v.value

    def key(self):
        """A 64-bit key of the kept filters (int): equal plans, equal keys."""
        v = ctypes.c_uint64()
        lib.picpq_plan_key(self.ptr, ctypes.byref(v))
        return v.value

    def keep_mask(self, layer):
        """Boolean array: True where the layer keeps the filter."""
        n = self.net.layer_channels(layer)[1]
        mask = np.empty(n, dtype=np.uint8)
        lib.picpq_plan_keep_mask(self.ptr, layer, ptr(mask, ctypes.c_uint8), n)
        return mask.astype(bool)

    def set_keep_mask(self, layer, mask):
        """Set a layer's kept filters by hand (also its equal-width coupled layers)."""
        arr = np.asarray(mask)
        if arr.dtype.kind not in "biu":
            raise TypeError("mask: expected booleans or 0/1 integers")
        if arr.dtype.kind != "b" and (arr.min(initial=0) < 0 or arr.max(initial=0) > 1):
            raise ValueError("mask: values must be 0 or 1")
        m = np.ascontiguousarray(arr.astype(np.uint8).reshape(-1))
        lib.picpq_plan_set_keep_mask(self.ptr, layer, ptr(m, ctypes.c_uint8), m.shape[0])

    def kept_all(self):
        """Kept filter count of every layer (a list indexed by layer id)."""
        return [self.kept(l) for l in range(self.net.num_layers)]


def compute_multi(plans, a, b, keep_fractions):
    """Several plans (same net and parameters) for several budgets from one
    ranking. Returns a list of booleans (budget met)."""
    plans = list(plans)
    if not plans:
        raise ValueError("plans: at least one plan is needed")
    a, b = plans[0].net._ab(a, b)
    kf = as_c_array(keep_fractions, np.float64, "keep_fractions", len(plans))
    arr = (ctypes.c_void_p * len(plans))(*[p.ptr for p in plans])
    statuses = (ctypes.c_int * len(plans))()
    lib.picpq_plan_compute_multi(arr, len(plans), ptr(a, ctypes.c_double),
                                 ptr(b, ctypes.c_double), ptr(kf, ctypes.c_double), statuses)
    return [s == OK for s in statuses]


class Search(_Configurable):
    """Regularized evolutionary search over the (a, b) of a Net (METHOD §6),
    driven by ask()/tell(): the host evaluates each candidate (prune,
    fine-tune, validation loss) and reports the loss."""
    _free_name = "picpq_search_free"
    _what = "search"
    _param_prefix = "search"

    def __init__(self, net, seed=0, _handle=None, **params):
        """Search(net, seed, population=64, sample=16, generations=400, ...)."""
        if _handle is None:
            handle = ctypes.c_void_p()
            lib.picpq_search_create(net.ptr, int(seed) & (2**64 - 1), ctypes.byref(handle))
            _handle = handle.value
        self._ptr = _handle
        self.net = net  # borrowed by the C search
        net._dependents.add(self)
        for key, value in params.items():
            self.set("search." + key, value)

    def _buffers(self):
        n = self.net.num_layers
        return np.empty(n), np.empty(n), n

    def ask(self):
        """The next candidate as (id, a, b), or None when all are issued."""
        a, b, n = self._buffers()
        cid = ctypes.c_uint64()
        status = lib.picpq_search_ask(self.ptr, ctypes.byref(cid), ptr(a, ctypes.c_double),
                                      ptr(b, ctypes.c_double), n)
        return None if status == DONE else (cid.value, a, b)

    def tell(self, cid, loss, repeat=False):
        """Report a candidate's loss (NaN or inf = failed evaluation).
        repeat=True: its network was already scored (Plan.key); the search
        drops it and issues another candidate in its place, up to
        search.max_repeats times (then it is told as usual)."""
        tell = lib.picpq_search_tell_repeat if repeat else lib.picpq_search_tell
        tell(self.ptr, cid, float(loss))

    def best(self):
        """(a, b, loss) of the best candidate told so far."""
        a, b, n = self._buffers()
        loss = ctypes.c_double()
        lib.picpq_search_best(self.ptr, ptr(a, ctypes.c_double), ptr(b, ctypes.c_double), n,
                              ctypes.byref(loss))
        return a, b, loss.value

    @property
    def num_pending(self):
        """Candidates asked for and not yet told (evaluations in flight)."""
        return lib.picpq_search_num_pending(self.ptr)

    def pending(self, i):
        """The i-th issued-but-untold candidate as (id, a, b)."""
        a, b, n = self._buffers()
        cid = ctypes.c_uint64()
        lib.picpq_search_pending(self.ptr, i, ctypes.byref(cid), ptr(a, ctypes.c_double),
                                 ptr(b, ctypes.c_double), n)
        return cid.value, a, b

    def stats(self):
        """dict(issued, told, failed, repeats, best_loss)."""
        v = [ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()]
        best = ctypes.c_double()
        lib.picpq_search_stats(self.ptr, *[ctypes.byref(x) for x in v], ctypes.byref(best))
        return dict(issued=v[0].value, told=v[1].value, failed=v[2].value,
                    repeats=lib.picpq_search_num_repeats(self.ptr), best_loss=best.value)

    def history(self):
        """Mean population loss after each tell (float64 array)."""
        count = ctypes.c_int64()
        lib.picpq_search_history(self.ptr, None, 0, ctypes.byref(count))
        out = np.empty(count.value)
        if count.value:
            lib.picpq_search_history(self.ptr, ptr(out, ctypes.c_double), count.value,
                                     ctypes.byref(count))
        return out

    def save(self):
        """The whole search state as bytes (resume with Search.load)."""
        return sized_output(lambda *out: lib.picpq_search_save(self.ptr, *out))

    @classmethod
    def load(cls, net, blob):
        """A search restored from save()'s bytes, over the same net."""
        raw = bytes(blob)
        handle = ctypes.c_void_p()
        lib.picpq_search_load(net.ptr, raw, len(raw), ctypes.byref(handle))
        return cls(net, _handle=handle.value)


# ---- quantizer ----------------------------------------------------------------------------------
def _f32_tensor(x, name, writable=False):
    dtype = getattr(x, "dtype", None)
    if str(dtype) not in ("float32", "torch.float32"):
        raise TypeError(f"{name}: expected a float32 array or tensor")
    return Tensor(x, writable=writable)


def _quantize(kind, x, name, bits, out):
    """picpq_quant_<kind> in place (out None) or picpq_quant_<kind>_into out."""
    with _f32_tensor(x, name, writable=out is None) as src:
        if out is None:
            getattr(lib, f"picpq_quant_{kind}")(src.ptr, int(bits))
            return x
        with _f32_tensor(out, "out", writable=True) as dst:
            getattr(lib, f"picpq_quant_{kind}_into")(src.ptr, dst.ptr, int(bits))
        return out


def quantize_weights(w, bits, out=None):
    """METHOD (E7) weight quantizer. In place when out is None (w must be
    writable float32), else written into out (same shape)."""
    return _quantize("weights", w, "w", bits, out)


def quantize_activations(x, bits, out=None):
    """METHOD (E8) activation quantizer, in place or into out."""
    return _quantize("activations", x, "x", bits, out)


def weights_export(w, bits):
    """Integer codes of the weight quantizer: (codes int8 in C order, levels,
    magnitude); the quantized weight is magnitude·codes/levels."""
    with _f32_tensor(w, "w") as t:
        n = lib.picpq_tensor_numel(t.ptr)
        codes = np.empty(n, dtype=np.int8)
        levels, mag = ctypes.c_int32(), ctypes.c_float()
        lib.picpq_quant_weight_codes(t.ptr, int(bits), ptr(codes, ctypes.c_int8), n,
                                     ctypes.byref(levels), ctypes.byref(mag))
    return codes, levels.value, mag.value


def quantize_linear(w, bits):
    """Per-output-channel symmetric linear codes: (codes, scales)."""
    with _f32_tensor(w, "w") as t:
        n = lib.picpq_tensor_numel(t.ptr)
        n_out = lib.picpq_tensor_dim(t.ptr, 0)
        codes, scales = np.empty(n, dtype=np.int8), np.empty(n_out, dtype=np.float32)
        lib.picpq_quant_linear_codes(t.ptr, int(bits), ptr(codes, ctypes.c_int8), n,
                                     ptr(scales, ctypes.c_float), n_out)
    return codes, scales


def pack_bits(codes, bits):
    """Pack signed codes of `bits` bits each into bytes (little-endian bit stream)."""
    c = as_c_array(codes, np.int8, "codes")
    return sized_output(lambda *out: lib.picpq_quant_pack(ptr(c, ctypes.c_int8), c.shape[0],
                                                          int(bits), *out))


def unpack_bits(data, bits, n):
    """Inverse of pack_bits: n int8 codes."""
    raw = np.frombuffer(bytes(data), dtype=np.uint8)
    out = np.empty(n, dtype=np.int8)
    lib.picpq_quant_unpack(ptr(raw, ctypes.c_uint8) if raw.size else None, raw.shape[0],
                           int(bits), ptr(out, ctypes.c_int8), n)
    return out


def packed_size(numel, bits):
    """Bytes of a packed model: per tensor ⌈numel·bits/8⌉, or 4·numel at 32 bits."""
    ne = as_c_array(numel, np.int64, "numel")
    b = as_c_array(bits, np.int32, "bits", ne.shape[0])
    out = ctypes.c_int64()
    lib.picpq_quant_packed_size(ne.shape[0], ptr(ne, ctypes.c_int64), ptr(b, ctypes.c_int32),
                                ctypes.byref(out))
    return out.value


def sparsity_l1(w_orig, w_pruned):
    """‖W_pruned‖₁ / ‖W_orig‖₁ (METHOD §7.1)."""
    s = ctypes.c_double()
    with Tensor(w_orig) as a, Tensor(w_pruned) as b:
        lib.picpq_quant_sparsity_l1(a.ptr, b.ptr, ctypes.byref(s))
    return s.value


def sparsity_l1_masked(w_orig, out_keep=None, in_keep=None):
    """sparsity_l1 of the sub-tensor kept by boolean masks over axes 0 and 1."""
    s = ctypes.c_double()
    om = as_c_array(out_keep, np.uint8, "out_keep") if out_keep is not None else None
    im = as_c_array(in_keep, np.uint8, "in_keep") if in_keep is not None else None
    with Tensor(w_orig) as t:
        lib.picpq_quant_sparsity_l1_masked(t.ptr,
                                           ptr(om, ctypes.c_uint8) if om is not None else None,
                                           om.shape[0] if om is not None else 0,
                                           ptr(im, ctypes.c_uint8) if im is not None else None,
                                           im.shape[0] if im is not None else 0, ctypes.byref(s))
    return s.value


def sparsity_from_plan(plan):
    """Kept-filter ratio n'/n of every layer (METHOD §7.2)."""
    out = np.empty(plan.net.num_layers)
    lib.picpq_quant_sparsity_from_plan(plan.net.ptr, plan.ptr, ptr(out, ctypes.c_double))
    return out


def bits_assign(sparsity, max_bits, tau, min_bits=2):
    """q_l = B_l − ⌈τ/s_l⌉ (B_l when s_l = 1; 32 stays 32), raised to min_bits."""
    s = as_c_array(sparsity, np.float64, "sparsity")
    mb = as_c_array(max_bits, np.int32, "max_bits", s.shape[0])
    out = np.empty(s.shape[0], dtype=np.int32)
    lib.picpq_quant_bits_assign(s.shape[0], ptr(s, ctypes.c_double), ptr(mb, ctypes.c_int32),
                                float(tau), int(min_bits), ptr(out, ctypes.c_int32))
    return out


def bits_solve(plan, sparsity, max_bits, max_bops, min_bits=2):
    """The τ whose bits give the largest BOPs <= max_bops: (tau, bits, met)."""
    n = plan.net.num_layers
    s = as_c_array(sparsity, np.float64, "sparsity", n)
    mb = as_c_array(max_bits, np.int32, "max_bits", n)
    tau = ctypes.c_double()
    out = np.empty(n, dtype=np.int32)
    status = lib.picpq_quant_bits_solve(plan.net.ptr, plan.ptr, ptr(s, ctypes.c_double),
                                        ptr(mb, ctypes.c_int32), int(min_bits), float(max_bops),
                                        ctypes.byref(tau), ptr(out, ctypes.c_int32))
    return tau.value, out, status == OK


def bits_fill(plan, sparsity, max_bits, bits, max_bops, min_bits=2):
    """Fit bits to a BOPs budget (picpq_quant_bits_fill): over it, layers
    lose one bit at a time in the order a rising tau would (unpruned layers
    included) down to min_bits; then layers gain one bit at a time in the
    order a falling tau would while the BOPs stay <= max_bops. Returns
    (bits as an int32 array, met): met False when even the floor is over
    the budget (the bits are then the floor)."""
    n = plan.net.num_layers
    s = as_c_array(sparsity, np.float64, "sparsity", n)
    mb = as_c_array(max_bits, np.int32, "max_bits", n)
    out = np.array(as_c_array(bits, np.int32, "bits", n), dtype=np.int32)
    status = lib.picpq_quant_bits_fill(plan.net.ptr, plan.ptr, ptr(s, ctypes.c_double),
                                       ptr(mb, ctypes.c_int32), int(min_bits), float(max_bops),
                                       ptr(out, ctypes.c_int32))
    return out, status == OK


class Model(_Handle):
    """A compressed model loaded from a model file (picpq.torch.save_model)
    and run by the C runtime (picpq_model_*): Model(data=bytes) or
    Model(path=...); integer=True (with data) runs quantized convs on the
    codes (PICPQ_MODEL_INTEGER). run(x) takes an (N, C, H, W) float32 array
    before normalisation and returns (N, classes) logits; it keeps one
    workspace per thread it runs, grown to the largest part seen (one
    Model per calling thread)."""
    _free_name = "picpq_model_free"
    _what = "model"

    def __init__(self, data=None, path=None, integer=False):
        if (data is None) == (path is None):
            raise ValueError("give exactly one of data and path")
        if integer and data is None:
            raise ValueError("integer=True needs data (the file's bytes)")
        out = ctypes.c_void_p()
        if integer:  # PICPQ_MODEL_INTEGER: quantized convs on the codes
            data = bytes(data)
            lib.picpq_model_load_opts(data, len(data), None, 1, ctypes.byref(out))
        elif data is not None:
            data = bytes(data)
            lib.picpq_model_load(data, len(data), ctypes.byref(out))
        else:
            lib.picpq_model_load_file(str(path).encode(), ctypes.byref(out))
        self._ptr = out.value
        self._ws = []      # [(images, workspace)] per thread of run()
        self._pool = None  # (threads, executor) of run()

    @property
    def input_shape(self):
        """(C, H, W) of one image."""
        c, h, w = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.picpq_model_input_shape(self.ptr, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        return c.value, h.value, w.value

    @property
    def num_classes(self):
        n = ctypes.c_int64()
        lib.picpq_model_num_classes(self.ptr, ctypes.byref(n))
        return n.value

    @property
    def conv_counts(self):
        """(convolutions, those run on their codes): what integer=True made
        of this file; the others run in float."""
        convs, codes = ctypes.c_int32(), ctypes.c_int32()
        lib.picpq_model_conv_counts(self.ptr, ctypes.byref(convs), ctypes.byref(codes))
        return convs.value, codes.value

    def _workspace(self, k, n):
        """The workspace of run()'s thread k, for at least n images."""
        while len(self._ws) <= k:
            self._ws.append((0, None))
        if n > self._ws[k][0]:
            if self._ws[k][1]:
                lib.picpq_model_workspace_free(self._ws[k][1])
                self._ws[k] = (0, None)
            ws = ctypes.c_void_p()
            lib.picpq_model_workspace_create(self.ptr, n, ctypes.byref(ws))
            self._ws[k] = (n, ws.value)
        return self._ws[k][1]

    def _free_ws(self):
        for _, ws in self._ws:
            if ws:
                lib.picpq_model_workspace_free(ws)
        self._ws = []

    def run(self, x, batch=256, threads=1):
        """Logits (N, classes) float32 of images x (N, C, H, W), in chunks
        of at most `batch` images. threads > 1 splits each chunk into that
        many parts run at once, one workspace each (picpq_model_run is
        thread-safe on one model with distinct workspaces; ctypes lets go
        of the GIL during the call). Each part's logits are those a run of
        that part alone gives (with OpenBLAS the batch size can move the
        last bits of a float layer's sums)."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        shape = self.input_shape
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"x: expected (N, {shape[0]}, {shape[1]}, {shape[2]}), "
                             f"got {x.shape}")
        if int(threads) < 1:
            raise ValueError(f"threads = {threads}: 1 or more")
        out = np.empty((x.shape[0], self.num_classes), dtype=np.float32)
        for i in range(0, x.shape[0], batch):
            chunk, dest = x[i:i + batch], out[i:i + batch]
            cuts = np.linspace(0, chunk.shape[0], min(int(threads), chunk.shape[0]) + 1)
            parts = [(k, int(a), int(b)) for k, (a, b) in
                     enumerate(zip(cuts[:-1].round(), cuts[1:].round()))]
            for k, a, b in parts:   # workspaces first: no allocation races
                self._workspace(k, b - a)
            if len(parts) == 1:
                self._run_part(chunk, dest, 0)
                continue
            if self._pool is None or self._pool[0] < len(parts):
                import concurrent.futures
                if self._pool is not None:
                    self._pool[1].shutdown()
                self._pool = (len(parts), concurrent.futures.ThreadPoolExecutor(len(parts)))
            for f in [self._pool[1].submit(self._run_part, chunk[a:b], dest[a:b], k)
                      for k, a, b in parts]:
                f.result()
        return out

    def _run_part(self, x, out, k):
        lib.picpq_model_run(self.ptr, self._ws[k][1], ptr(x, ctypes.c_float), x.shape[0],
                            ptr(out, ctypes.c_float))

    def close(self):
        if getattr(self, "_pool", None) is not None:
            self._pool[1].shutdown()
            self._pool = None
        if getattr(self, "_ptr", None):
            self._free_ws()
        super().close()
