#!/usr/bin/env python3
"""A short training run (torchvision resnet18, 3x32x32, batch 64, SGD) timed in wall and
CPU seconds, in a child process per setting (OpenMP reads OMP_WAIT_POLICY
when torch loads), quiet and then beside one busy loop per core, the load
the main job met on a shared machine.

    PICPQ_LIBRARY=$PWD/lib/libpicpq.so /usr/bin/python3 bench/qat/busy.py
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = r"""
import os, resource, sys, time, json
sys.path.insert(0, %r)
import torch, torch.nn.functional as F
import torchvision
threads, steps, pipeline = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
if pipeline:
    import picpq.torch as ptq
    ptq.configure_threads(threads or None)
else:
    torch.set_num_threads(threads)
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,))
def step():
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
step()
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
for _ in range(steps):
    step()
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(wall=time.time() - t0,
                      cpu=r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)))
"""


def run(threads, steps, env_extra, pipeline):
    env = dict(os.environ, **env_extra)
    env.pop("OMP_WAIT_POLICY", None) if "OMP_WAIT_POLICY" not in env_extra else None
    out = subprocess.run([sys.executable, "-c", CHILD % os.path.join(HERE, "..", "..", "python"),
                          str(threads), str(steps), "1" if pipeline else "0"],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--load", type=int, default=os.cpu_count(), help="busy loops (one per core)")
    args = p.parse_args()
    settings = [("2 threads, default wait policy (before)", 2, {}, False),
                ("2 threads, OMP_WAIT_POLICY=PASSIVE (demo)", 2, {"OMP_WAIT_POLICY": "PASSIVE"},
                 False),
                ("configure_threads(), torch first (1 thr)", None, {}, True)]
    print(f"{args.steps} SGD steps of resnet18, 3x32x32, batch 64; {os.cpu_count()} cores")
    for loaded in (False, True):
        busy = [subprocess.Popen(["sh", "-c", "while :; do :; done"])
                for _ in range(args.load if loaded else 0)]
        try:
            for label, threads, env, pipeline in settings:
                r = run(threads if threads else 0, args.steps, env, pipeline)
                print(f"  {'loaded' if loaded else 'quiet ':6} {label:<42} wall {r['wall']:6.1f} s"
                      f"  cpu {r['cpu']:6.1f} s", flush=True)
        finally:
            for b in busy:
                b.kill()
                b.wait()


if __name__ == "__main__":
    main()
