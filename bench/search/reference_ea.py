"""The reference's EA loop (PIC-PQ resnet_main.py::learn_ranking_ea, METHOD §6)
with the fitness replaced by a constant-time stand-in, timed per generation:
the overhead a libpicpq ask + tell replaces."""
import sys
import time

import numpy as np


def reference_ea(L, G=400, P=64, S=16, sigma=1.0, mutate=0.1, seed=0):
    rng = np.random.RandomState(seed)
    std = np.ones(L)
    population, losses, fifo, mean_loss = [], [], [], []
    best_loss, best = 10, None
    for g in range(G):
        step = 1 - g / (1.25 * G)
        if g == P - 1:
            cand = [(1.0, 0.0) for _ in range(L)]
        elif g < P - 1:
            cand = [(np.exp(rng.normal(0, sigma)), rng.normal(0, std[k])) for k in range(L)]
        else:
            mean_loss.append(np.mean(losses))
            idx = rng.choice(P, S)
            w = idx[np.argmin([losses[i] for i in idx])]
            old = fifo.pop(0)
            layers = rng.choice(L, int(mutate * L))
            cand = []
            for k in range(L):
                a, b = population[w][k]
                if k in layers:
                    cand.append((a * np.exp(rng.normal(0, sigma * step)),
                                b + rng.normal(0, std[k])))
                else:
                    cand.append((a, b))
        loss = cand[0][0] + cand[1][1]  # stand-in for prune + fine-tune + validate
        if loss < best_loss:
            best_loss, best = loss, cand
        if g < P:
            population.append(cand)
            losses.append(loss)
            fifo.append(g)
        else:
            population[old] = cand
            losses[old] = loss
            fifo.append(old)
    return best


def per_generation_us(L, G):
    times = []
    for r in range(3):
        t = time.perf_counter()
        reference_ea(L, G=G, seed=r)
        times.append((time.perf_counter() - t) / G * 1e6)
    return sorted(times)[1]


if __name__ == "__main__":
    for L, G in ((55, 2000), (1000, 400)):
        print("reference EA (numpy), per generation, L = %d: %.2f us (median of 3 x %d)"
              % (L, per_generation_us(L, G), G))
    sys.stdout.flush()
