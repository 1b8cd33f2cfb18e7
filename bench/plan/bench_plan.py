"""bench/plan: the reference's greedy rule (METHOD §5.2-5.5) in plain
Python/numpy, as the reference code runs it: float32 importances and chain
sums, a stable sort, and the §5.2 cost recomputed from all selections every
10 entries. It reads the nets, scores and (a, b) that `bench_plan dump`
prints, checks that its plans equal libpicpq's faithful plans filter count
for filter count, and times itself next to the C driver's figures.

Usage: bench_plan.py BENCH_PLAN_BINARY
"""
import subprocess
import sys
import time

import numpy as np


def resnet56_structure():
    """(in, out, cost_map, depthwise, producer, chain root) of ResNet-56's convs."""
    convs = [(3, 16, 32 * 32 * 9)]
    for st, (w, size) in enumerate([(16, 32), (32, 16), (64, 8)]):
        for b in range(9):
            cin = (16, 32)[st - 1] if st > 0 and b == 0 else w
            convs.append((cin, w, size * size * 9))
            convs.append((w, w, size * size * 9))
    roots = [0 if l % 2 == 0 else l for l in range(55)]
    return convs, [False] * 55, roots, 10


def vgg16_structure():
    widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    sizes = [32, 32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2]
    convs, cin = [], 3
    for w, s in zip(widths, sizes):
        convs.append((cin, w, s * s * 9))
        cin = w
    return convs, [False] * 13, list(range(13)), 10


def mobilenetv2_structure():
    cfg = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 1), (6, 96, 3, 1),
           (6, 160, 3, 2), (6, 320, 1, 1)]
    convs, dw, roots = [(3, 32, 32 * 32 * 9)], [False], [0]
    cin, size, last_proj = 32, 32, 0
    for t, c, n, s in cfg:
        for b in range(n):
            hidden = cin * t
            in_size = size
            if b == 0 and s == 2:
                size //= 2
            producer = len(convs) - 1
            if t != 1:
                convs.append((cin, hidden, in_size * in_size))
                dw.append(False)
                roots.append(len(convs) - 1)
                producer = len(convs) - 1
            # METHOD: cost_map without /groups, in = 1
            convs.append((hidden, hidden, size * size * 9))
            dw.append(True)
            roots.append(roots[producer])
            convs.append((hidden, c, size * size))
            dw.append(False)
            roots.append(roots[last_proj] if b > 0 else len(convs) - 1)
            last_proj = len(convs) - 1
            cin = c
    convs.append((320, 1280, 64))
    dw.append(False)
    roots.append(len(convs) - 1)
    return convs, dw, roots, 100


STRUCTURES = {"resnet56": resnet56_structure, "vgg16": vgg16_structure,
              "mobilenetv2": mobilenetv2_structure}


def parse_dump(text):
    nets, cur = [], None
    for line in text.splitlines():
        tok = line.split()
        if tok[0] == "net":
            cur = {"name": tok[1], "C": float(tok[3]), "keep": float(tok[4]),
                   "a": [], "b": [], "scores": {}, "kind": []}
            nets.append(cur)
        elif tok[0] == "layer":
            cur["kind"].append(int(tok[2]))
            cur["a"].append(float(tok[6]))
            cur["b"].append(float(tok[7]))
            last = int(tok[1])
        elif tok[0] == "scores":
            cur["scores"][last] = np.array([float(v) for v in tok[1:]], dtype=np.float32)
        elif tok[0] == "kept":
            cur["kept"] = [int(v) for v in tok[1:]]
    return nets


def reference_plan(net, safeguard=0.1):
    """One plan, the reference's way. Returns the kept count per conv layer."""
    convs, dw, roots, num_classes = STRUCTURES[net["name"]]()
    nconv = len(convs)
    n = np.array([c[1] for c in convs])
    in0 = np.array([c[0] for c in convs])
    cost_map = np.array([c[2] for c in convs], dtype=np.int64)
    dwm = np.array(dw)
    # the reference's ranks: float32 FP * scale + shift (numpy casts the scalars)
    imp = [net["scores"][l] * np.float32(net["a"][l]) + np.float32(net["b"][l])
           for l in range(nconv)]
    chains = {}
    for l in range(nconv):
        chains.setdefault(roots[l], []).append(l)
    entries, visited = [], set()
    for l in range(nconv):  # chains by their first layer, METHOD §5.5 step 1
        if roots[l] in visited:
            continue
        visited.add(roots[l])
        members = chains[roots[l]]
        width = max(n[m] for m in members)
        score = np.zeros(width, dtype=np.float32)
        for m in members:  # chain order, float32, zero padding
            padded = np.zeros(width, dtype=np.float32)
            padded[:n[m]] = imp[m]
            score = score + padded
        entries.extend((score[j], members, j) for j in range(width))
    entries = sorted(entries, key=lambda e: e[0])  # stable
    if safeguard == 0:
        quota = n - 1
    else:
        quota = np.minimum(np.floor(n * (1 - safeguard)).astype(np.int64), n - 2)
    quota = np.maximum(quota, 0)
    removed = np.zeros(nconv, dtype=np.int64)
    zeta = net["keep"] * net["C"]
    for idx, (_, members, j) in enumerate(entries):
        for m in members:
            if quota[m] > 0 and j < n[m]:
                removed[m] += 1
                quota[m] -= 1
        if idx % 10 == 0:
            out = n - removed
            cin = in0.copy()
            cin[1:] = np.where(dwm[1:], 1, out[:-1])  # next_conv l -> l+1, depthwise in = 1
            cin[0] = in0[0]
            cost = int((cost_map * cin * out).sum()) + int(out[-1]) * num_classes
            if cost < zeta:
                break
        if quota.sum() <= 0:
            break
    return list(n - removed)


def main():
    binary = sys.argv[1]
    nets = parse_dump(subprocess.run([binary, "dump"], check=True, capture_output=True,
                                     text=True).stdout)
    ok = True
    for net in nets:
        kept = reference_plan(net)
        same = kept == net["kept"][:len(kept)]
        ok &= same
        reps = 20 if net["name"] != "mobilenetv2" else 5
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                reference_plan(net)
            best = min(best, (time.perf_counter() - t0) / reps)
        print(f"{net['name']:<12} numpy reference (faithful) {best * 1e6:10.1f} us   "
              f"same plan as libpicpq faithful: {'yes' if same else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
