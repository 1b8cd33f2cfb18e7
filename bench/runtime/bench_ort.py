"""The C runtime against ONNX Runtime and torch on the same pruned network,
side by side in one run (docs/BENCHMARKS.md, "Runtime against ONNX Runtime"):
ResNet-20 for 1x28x28 pruned to 50 % of its MACs, in fp32 and with 4-bit
layers (8 bits first and last, the residual stream at 8 bits); batch 1 and
64; 1 and 2 threads (one process per thread count, so that OpenBLAS starts
with it; the C runtime splits a batch across the threads, one workspace
each: picpq.Model.run(threads=)); ms per batch, best of 5 rounds; the C
runtime's bytes (model held after load + workspace, one thread). Needs ONNX
Runtime in build/ort (scripts/install-ort.sh):
  PICPQ_LIBRARY=lib/libpicpq.so PYTHONPATH=python /usr/bin/python3 bench/runtime/bench_ort.py"""
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_DIR = os.environ.get("PICPQ_ORT_DIR", os.path.join(HERE, "..", "..", "build", "ort"))


def best_ms(fn, reps, rounds=5):
    fn()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t) / reps)
    return 1e3 * best


def ort_ms(path, shape, threads, reps):
    env = dict(os.environ, NODE_PATH=os.path.join(ORT_DIR, "node_modules"))
    out = subprocess.run(["node", os.path.join(HERE, "ort_time.js"), path, *map(str, shape),
                          str(threads), str(reps), "5"], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip())


def networks(tmp):
    """{name: (model file bytes, ONNX path, torch module)} of the pruned ResNet-20."""
    import copy

    import numpy as np
    import torch

    import picpq
    from picpq.torch import (apply_plan, describe, export_onnx, model_file_bytes,
                             quantize_model, rank_filters, residual_ranges)
    from picpq.torch.models import resnet20
    torch.manual_seed(0)
    model = resnet20().eval()
    x = torch.rand(64, 1, 28, 28)
    desc = describe(model, x[:2])
    n = desc.net.num_layers
    rank_filters(model, desc, [x[:16]])
    plan = picpq.Plan(desc.net)
    plan.compute(np.ones(n), np.zeros(n), 0.5)
    small = apply_plan(model, desc, plan).eval()
    d2 = describe(small, x[:2])
    nets = {"fp32": (model_file_bytes(small, d2, [32] * n, x[:1]), os.path.join(tmp, "f.onnx"),
                     copy.deepcopy(small))}
    export_onnx(small, d2, [32] * n, nets["fp32"][1], x[:1])
    bits = [8] + [4] * (n - 2) + [8]
    # the residual stream at 8 bits over measured ranges, as Compressor.quantize does
    quantize_model(small, d2, bits, residual=True, residual_bits=8,
                   residual_scales=residual_ranges(small, d2, [x[:16]]))
    nets["4-bit"] = (model_file_bytes(small, d2, bits, x[:1]), os.path.join(tmp, "q.onnx"),
                     small)
    export_onnx(small, d2, bits, nets["4-bit"][1], x[:1])
    fp32_weights = sum(4 * p.numel() for p in model.parameters())
    return nets, x, fp32_weights


def rows(threads):
    """The table rows at one thread count (run in its own process)."""
    import ctypes

    import torch

    import picpq
    from picpq._native import lib
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        nets, x, fp32_weights = networks(tmp)
        for name, (data, onnx_path, module) in nets.items():
            for batch in (1, 64):
                xb = x[:batch]
                reps = 200 if batch == 1 else 10
                c_ms = {}
                for integer in (False, True):
                    with picpq.Model(data=data, integer=integer) as m:
                        c_ms[integer] = best_ms(
                            lambda: m.run(xb.numpy(), batch=batch, threads=threads), reps)
                        ws = ctypes.c_size_t()
                        lib.picpq_model_workspace_size(m.ptr, batch, ctypes.byref(ws))
                o = ort_ms(onnx_path, tuple(xb.shape), threads, reps)
                with torch.no_grad():
                    t = best_ms(lambda: module(xb), reps)
                print(f"| {name} | {batch} | {threads} | {c_ms[False]:.3f} | {c_ms[True]:.3f} "
                      f"| {o:.3f} | {t:.3f} | {c_ms[False] / o:.2f} | {len(data)} + {ws.value} "
                      f"| {fp32_weights} |", flush=True)


def main():
    if len(sys.argv) > 1:
        rows(int(sys.argv[1]))
        return
    load = os.getloadavg()[0]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load:.1f}")
    print("| network | batch | threads | C float ms | C integer ms | ORT ms | torch ms | "
          "C float / ORT | C bytes: file + workspace | fp32 unpruned weight bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        subprocess.run([sys.executable, __file__, str(threads)], env=env, check=True)


if __name__ == "__main__":
    main()
