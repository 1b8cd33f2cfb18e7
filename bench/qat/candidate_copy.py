#!/usr/bin/env python3
"""A search candidate's model-building cost: apply_plan with a deep copy of
the whole model (before) against apply_plan(out=...) rebuilding one reused
module from the base weights (after), on torchvision's vgg11_bn at a small
input. Prints seconds per candidate (median of --reps) and checks that both
give identical tensors.

    PICPQ_LIBRARY=$PWD/lib/libpicpq.so /usr/bin/python3 bench/qat/candidate_copy.py
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
import torchvision  # noqa: E402

import picpq  # noqa: E402
import picpq.torch as ptq  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.vgg11_bn(num_classes=10)
    example = torch.zeros(1, 3, args.size, args.size)
    desc = ptq.describe(model, example)
    rng = np.random.default_rng(0)
    for l in desc.convs:
        desc.net.set_fp(l.id, rng.uniform(0, args.size, desc.net.layer_channels(l.id)[1]))
    plan = picpq.Plan(desc.net)
    n = desc.net.num_layers
    nparam = sum(t.numel() for t in model.parameters())
    print(f"vgg11_bn(num_classes=10), {nparam / 1e6:.1f} M parameters, input "
          f"3x{args.size}x{args.size}, {args.threads} thread(s)")
    before, after, out = [], [], copy.deepcopy(model)
    for r in range(args.reps):
        plan.compute(rng.uniform(0.5, 2, n), rng.uniform(-1, 1, n), 0.5)
        t = time.perf_counter()
        a = ptq.apply_plan(model, desc, plan)
        before.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = ptq.apply_plan(model, desc, plan, out=out)
        after.append(time.perf_counter() - t)
        sa, so = a.state_dict(), out.state_dict()
        assert sa.keys() == so.keys() and all(torch.equal(sa[k], so[k]) for k in sa)
        del a
    b, f = statistics.median(before), statistics.median(after)
    print(f"apply_plan, deep copy (before):   {b:.3f} s per candidate")
    print(f"apply_plan(out=...) (after):      {f:.3f} s per candidate ({b / f:.1f}x less)")


if __name__ == "__main__":
    main()
