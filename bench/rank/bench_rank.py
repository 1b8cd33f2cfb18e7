"""Python side of bench/rank: builds the map sets, runs the C driver on each
and torch.linalg.matrix_rank (batched) and numpy.linalg.matrix_rank side by
side, and reports maps/s and agreement of libpicpq's ranks with numpy's
float32 rule.  Usage: bench_rank.py DRIVER [--quick]"""
import gzip
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

DRIVER = sys.argv[1] if __name__ == "__main__" else None
QUICK = "--quick" in sys.argv
rng = np.random.default_rng(2026)


def best_time(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def count_for(h, w):
    """About the same element count per set: 20,000 8x8 maps, at least 1,500."""
    n = min(20000, max(1500, 20000 * 64 // (h * w)))
    return max(200, n // 10) if QUICK else n


def random_maps(h, w, n):
    return rng.standard_normal((n, h, w)).astype(np.float32)


def low_rank_maps(h, w, n):
    m = min(h, w)
    k = rng.integers(0, m + 1, size=n)
    out = np.empty((n, h, w), np.float32)
    for i in range(n):
        out[i] = rng.standard_normal((h, k[i])) @ rng.standard_normal((k[i], w))
    return out


def fashion_mnist_maps(n_images):
    """Post-ReLU maps of a small conv stack with fixed random (Kaiming)
    weights on Fashion-MNIST training images: 28x28 (conv1, conv2),
    14x14 (conv3 after 2x2 max-pool) and 7x7 (conv4 after another pool)."""
    path = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
    with gzip.open(path, "rb") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16)
    x = torch.from_numpy(raw[: n_images * 784].reshape(n_images,
                         1, 28, 28).astype(np.float32) / 255)
    torch.manual_seed(0)
    c1 = torch.nn.Conv2d(1, 16, 3, padding=1)
    c2 = torch.nn.Conv2d(16, 16, 3, padding=1)
    c3 = torch.nn.Conv2d(16, 32, 3, padding=1)
    c4 = torch.nn.Conv2d(32, 32, 3, padding=1)
    with torch.no_grad():
        y1 = torch.relu(c1(x))
        y2 = torch.relu(c2(y1))
        y3 = torch.relu(c3(torch.nn.functional.max_pool2d(y2, 2)))
        y4 = torch.relu(c4(torch.nn.functional.max_pool2d(y3, 2)))
    return {"fmnist conv1 28x28": y1.numpy(), "fmnist conv2 28x28": y2.numpy(),
            "fmnist conv3 14x14": y3.numpy(), "fmnist conv4 7x7": y4.numpy()}


def run_case(name, maps4):
    maps4 = np.ascontiguousarray(maps4, np.float32)
    n, c, h, w = maps4.shape
    flat = maps4.reshape(n * c, h, w)
    reps = 1 if QUICK else 3
    with tempfile.TemporaryDirectory() as d:
        fin, fout = os.path.join(d, "maps.f32"), os.path.join(d, "ranks.i64")
        maps4.tofile(fin)
        # The library runs no BLAS threads of its own; OpenBLAS's idle pool
        # busy-waits after start-up and would take a core from the workers
        # (docs/DESIGN.md, rank): the recommended setting for rank workers.
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        out = subprocess.run([DRIVER, fin, str(n), str(c), str(h), str(w), fout, str(reps)],
                             check=True, capture_output=True, text=True, env=env).stdout
        ranks = np.fromfile(fout, np.int64)
    lines, cores = {}, {}
    for line in out.splitlines():
        parts = dict(p.split("=") for p in line.split())
        if "threads" in parts:
            lines[int(parts["threads"])] = float(parts["maps_per_s"])
            cores[int(parts["threads"])] = float(parts["cores"])
        else:
            fast, fb = int(parts["fast"]), int(parts["fallback"])
    xt = torch.from_numpy(flat)
    speeds = {}
    for t in (1, 2):
        torch.set_num_threads(t)
        speeds[t] = flat.shape[0] / best_time(lambda: torch.linalg.matrix_rank(xt), reps)
    torch.set_num_threads(1)
    np_ranks = np.linalg.matrix_rank(flat)
    np_speed = flat.shape[0] / best_time(lambda: np.linalg.matrix_rank(flat), reps)
    agree = np.mean(ranks == np_ranks) * 100
    print(f"| {name} | {n*c} | {lines[1]:.0f} | {lines[2]:.0f} | {speeds[1]:.0f} | {speeds[2]:.0f} "
          f"| {np_speed:.0f} | {lines[1]/speeds[1]:.1f}x "
          f"| {lines[2]/lines[1]:.2f}x ({cores[2]:.2f}) "
          f"| {(lines[2] / cores[2]) / (lines[1] / cores[1]):.2f} "
          f"| {100*fb/(fast+fb):.2f}% | {agree:.3f}% ({int((ranks != np_ranks).sum())}) |",
          flush=True)


def main():
    print(f"torch {torch.__version__}, numpy {np.__version__}; maps/s, best of "
          f"{1 if QUICK else 3}")
    print("| maps | count | picpq 1T | picpq 2T | torch 1T | torch 2T | numpy | picpq/torch 1T "
          "| picpq 2T/1T (cores got) | 2T/1T per CPU-second | fallback | agree with numpy (diff) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in (7, 8, 14, 16, 28, 32, 56):
        n = count_for(s, s)
        run_case(f"random {s}x{s}", random_maps(s, s, n).reshape(n, 1, s, s))
    for s in (8, 14, 28, 32):
        n = count_for(s, s)
        run_case(f"low-rank {s}x{s}", low_rank_maps(s, s, n).reshape(n, 1, s, s))
    for name, maps in fashion_mnist_maps(64 if QUICK else 256).items():
        run_case(name, maps)


if __name__ == "__main__":
    main()
