#!/usr/bin/env python3
"""A QAT training step's time over a plain one, side by side in one run:
ResNet-20 (the main job's, 1x28x28, batch 128) pruned to half its MACs,
SGD steps of the plain pruned model and of the same model with picpq.torch's
QAT modules (activation and weight quantizers, bits 8/6/4 by stage),
alternated in rounds so that load changes hit both alike. Target: <= 1.5x.

    PICPQ_LIBRARY=$PWD/lib/libpicpq.so /usr/bin/python3 bench/qat/qat_step.py
"""
import argparse
import copy
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import picpq  # noqa: E402
import picpq.torch as ptq  # noqa: E402
from picpq.torch.models import resnet20  # noqa: E402


def steps(model, x, y, n):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    t = time.perf_counter()
    for _ in range(n):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) / n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = resnet20()
    desc = ptq.describe(model, torch.zeros(1, 1, 28, 28))
    rng = np.random.default_rng(0)
    for l in desc.convs:
        desc.net.set_fp(l.id, rng.uniform(0, 28, desc.net.layer_channels(l.id)[1]))
    plan = picpq.Plan(desc.net)
    n = desc.net.num_layers
    plan.compute(np.ones(n), np.zeros(n), 0.5)
    plain = ptq.apply_plan(model, desc, plan)
    qat = copy.deepcopy(plain)
    dq = ptq.describe(qat, torch.zeros(1, 1, 28, 28))
    bits = [32] + [8] * 6 + [6] * 6 + [4] * 6 + [32]
    ptq.quantize_model(qat, dq, bits)
    x, y = torch.randn(args.batch, 1, 28, 28), torch.randint(0, 10, (args.batch,))
    steps(plain, x, y, 2)
    steps(qat, x, y, 2)   # warm-up
    tp, tq = [], []
    for _ in range(args.rounds):
        tp.append(steps(plain, x, y, args.steps))
        tq.append(steps(qat, x, y, args.steps))
    mp, mq = statistics.median(tp), statistics.median(tq)
    print(f"ResNet-20 at 50% MACs, batch {args.batch}, {args.threads} thread(s), "
          f"{torch.__version__}")
    print(f"plain step {1000 * mp:.1f} ms, QAT step {1000 * mq:.1f} ms: "
          f"ratio {mq / mp:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
