"""Weight/activation quantizer: libpicpq vs torch on the same data, 1 thread.

Times torch doing the reference's ops (tanh, abs().max(), div, mul, round,
div; clamp for activations) and libpicpq's picpq_quantize_*_into through
ctypes in the same process, best of REPS, and counts the elements whose codes
differ (C's tanhf vs torch's tanh can differ by one ulp, which moves a value
by one code only at an exact rounding boundary).

Usage: /usr/bin/python3 compare_torch.py [path/to/libpicpq.so]
"""
import ctypes
import os
import sys
import time

import numpy as np
import torch

REPS = 15
N = 1 << 20
torch.set_num_threads(1)

here = os.path.dirname(os.path.abspath(__file__))
libpath = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "lib", "libpicpq.so")
lib = ctypes.CDLL(libpath)
lib.picpq_tensor_wrap.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32,
                                  ctypes.POINTER(ctypes.c_int64), ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_void_p)]
lib.picpq_tensor_free.argtypes = [ctypes.c_void_p]
for fn in (lib.picpq_quant_weights_into, lib.picpq_quant_activations_into):
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32]
lib.picpq_last_error.restype = ctypes.c_char_p
PICPQ_F32 = 1


def wrap(a):
    shape = (ctypes.c_int64 * 1)(a.size)
    t = ctypes.c_void_p()
    st = lib.picpq_tensor_wrap(a.ctypes.data, PICPQ_F32, 1, shape, None, ctypes.byref(t))
    assert st == 0, lib.picpq_last_error()
    return t


def best_of(fn):
    best = float("inf")
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_weights(w, k):
    if k == 2:
        return torch.sign(w)
    n = 2 ** (k - 1) - 1
    t = torch.tanh(w)
    m = t.abs().max()
    return torch.round(t / m * n) / n


def torch_acts(x, k):
    n = 2 ** k - 1
    return torch.round(torch.clamp(x, 0, 1) * n) / n


def main():
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread, {N} elements, "
          f"best of {REPS}")
    gen = torch.Generator().manual_seed(7)
    cases = {"normal(0,0.05)": torch.randn(N, generator=gen) * 0.05,
             "normal(0,1)": torch.randn(N, generator=gen),
             "uniform(-3,3)": (torch.rand(N, generator=gen) * 6 - 3)}
    w = cases["normal(0,0.05)"]
    wn = w.numpy()
    out = np.empty_like(wn)
    tw, to = wrap(wn), wrap(out)
    for k in (2, 4, 8):
        tt = best_of(lambda: torch_weights(w, k))
        tc = best_of(lambda: lib.picpq_quant_weights_into(tw, to, k))
        print(f"weights k={k}: torch {tt*1e3:.3f} ms, libpicpq {tc*1e3:.3f} ms, "
              f"libpicpq/torch speed {tt/tc:.2f}x")
    x = w * 20
    xn = x.numpy()
    tx = wrap(xn)
    for k in (4, 8):
        tt = best_of(lambda: torch_acts(x, k))
        tc = best_of(lambda: lib.picpq_quant_activations_into(tx, to, k))
        print(f"activations k={k}: torch {tt*1e3:.3f} ms, libpicpq {tc*1e3:.3f} ms, "
              f"speed {tt/tc:.2f}x")
    # agreement: codes of every width on several distributions
    for name, v in cases.items():
        vn = v.numpy()
        tv = wrap(vn)
        diffs = []
        for k in range(2, 9):
            n = max(2 ** (k - 1) - 1, 1)
            assert lib.picpq_quant_weights_into(tv, to, k) == 0
            ref = torch_weights(v, k).numpy()
            dc = np.abs(np.rint(out * n) - np.rint(ref * n))
            diffs.append(f"k={k}:{int((dc > 0).sum())}(max {int(dc.max())})")
        lib.picpq_tensor_free(tv)
        print(f"weights codes differing from torch on {name}: " + " ".join(diffs))
    for k in range(1, 9):
        assert lib.picpq_quant_activations_into(tx, to, k) == 0
        ref = (torch.sign(torch.clamp(x, 0, 1)) if k == 1 else torch_acts(x, k)).numpy()
        assert np.array_equal(out, ref), f"activations k={k} differ"
    print("activations: identical to torch for k = 1..8")
    for t in (tw, to, tx):
        lib.picpq_tensor_free(t)


if __name__ == "__main__":
    main()
