"""Model file size and C runtime speed against torch, side by side at one
thread (docs/BENCHMARKS.md, "Runtime"): ResNet-20 of picpq.torch.models for
1x28x28 inputs, unpruned and pruned (plan at a 0.5 MACs budget) in fp32 and
pruned+quantized (bits 2..8). Run with OPENBLAS_NUM_THREADS=1:
  OPENBLAS_NUM_THREADS=1 PICPQ_LIBRARY=lib/libpicpq.so PYTHONPATH=python \\
    /usr/bin/python3 bench/runtime/bench_runtime.py"""
import io
import time

import numpy as np
import torch

import picpq
from picpq._handles import Model
from picpq.torch import apply_plan, describe, model_file_bytes, quantize_model, rank_filters
from picpq.torch.models import resnet20


def timed(fn, reps):
    fn()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t) / reps


def row(name, model, data, x1, x64):
    model.eval()
    with Model(data=data) as cm, torch.no_grad():
        c1 = timed(lambda: cm.run(x1.numpy()), 200)
        c64 = timed(lambda: cm.run(x64.numpy(), batch=64), 10)
        t1 = timed(lambda: model(x1), 200)
        t64 = timed(lambda: model(x64), 10)
    print(f"| {name} | {len(data)} | {1e3 * c1:.3f} | {1e3 * t1:.3f} | "
          f"{64 / c64:.0f} | {64 / t64:.0f} |")


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = resnet20().eval()
    x = torch.rand(64, 1, 28, 28)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    print(f"fp32 state_dict: {len(buf.getvalue())} bytes")
    print("| model | file bytes | C batch-1 ms | torch batch-1 ms | C img/s b64 "
          "| torch img/s b64 |")
    print("|---|---|---|---|---|---|")
    desc = describe(model, x[:2])
    n = desc.net.num_layers
    row("unpruned fp32", model, model_file_bytes(model, desc, [32] * n, x[:1]), x[:1], x)
    rank_filters(model, desc, [x[:16]])
    plan = picpq.Plan(desc.net)
    plan.compute(np.ones(n), np.zeros(n), 0.5)
    small = apply_plan(model, desc, plan).eval()
    d2 = describe(small, x[:2])
    row("pruned fp32", small, model_file_bytes(small, d2, [32] * n, x[:1]), x[:1], x)
    bits = [8] + [4] * (n - 2) + [8]
    quantize_model(small, d2, bits)
    row("pruned 4-bit (8 first/last)", small, model_file_bytes(small, d2, bits, x[:1]), x[:1], x)


if __name__ == "__main__":
    main()
