"""Massive check that the certificate never changes a rank: every map is
ranked by the full route, by sgesdd alone and by the certificate alone (AVX2
and portable kernels); any disagreement with sgesdd is counted.
Usage: verify_exact.py PROBE_SO  (run by `sh bench/rank/run.sh --verify`)."""
import ctypes
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_rank as B  # noqa: E402  (map generators)

lib = ctypes.CDLL(sys.argv[1])
fn = lib.picpq_probe_rank
fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int,
               ctypes.POINTER(ctypes.c_int64)]


def rank(m, mode):
    r = ctypes.c_int64()
    s = fn(m.ctypes.data, m.shape[0], m.shape[1], mode, ctypes.byref(r))
    assert s == 0, s
    return r.value


def check(name, maps):
    maps = np.ascontiguousarray(maps, np.float32)
    bad = fast = 0
    for m in maps:
        ref, auto, cert, port = rank(m, 1), rank(m, 0), rank(m, 2), rank(m, 6)
        fast += cert >= 0
        bad += auto != ref or (cert >= 0 and cert != ref) or (port >= 0 and port != ref)
    print(f"| {name} | {len(maps)} | {100 * fast / len(maps):.2f}% | {bad} |", flush=True)
    return bad


def near_threshold(s, n, rng):
    out = np.empty((n, s, s), np.float32)
    for i in range(n):
        u, _ = np.linalg.qr(rng.standard_normal((s, s)))
        v, _ = np.linalg.qr(rng.standard_normal((s, s)))
        sv = np.sort(rng.uniform(0, 1, s))[::-1]
        sv[0] = 1
        sv[1:] = np.where(rng.random(s - 1) < 0.5,
                          s * np.finfo(np.float32).eps * rng.uniform(0.3, 3, s - 1), sv[1:])
        out[i] = (u * sv) @ v.T
    return out


def main():
    rng = np.random.default_rng(7)
    print("| maps | count | decided by the certificate | disagreements with sgesdd |")
    print("|---|---|---|---|")
    bad = 0
    for name, v in B.fashion_mnist_maps(256).items():
        bad += check(name, v.reshape(-1, v.shape[2], v.shape[3]))
    for s in (7, 8, 14, 16, 28, 32, 56):
        n = 3000 if s < 30 else 1000
        bad += check(f"random {s}x{s}", B.random_maps(s, s, n))
        bad += check(f"low-rank {s}x{s}", B.low_rank_maps(s, s, n))
        relu = np.maximum(B.low_rank_maps(s, s, n), 0)
        bad += check(f"post-ReLU low-rank {s}x{s}", relu)
        bad += check(f"near-threshold {s}x{s}", near_threshold(s, 1000, rng))
    for h, w in ((7, 30), (30, 7), (13, 28), (28, 13), (3, 56)):
        bad += check(f"random {h}x{w}", B.random_maps(h, w, 1000))
        bad += check(f"post-ReLU low-rank {h}x{w}", np.maximum(B.low_rank_maps(h, w, 1000), 0))
    print(f"total disagreements: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
