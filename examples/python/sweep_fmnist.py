#!/usr/bin/env python3
"""The quality sweep behind docs/RESULTS.md: ResNet-20 / Fashion-MNIST
compressed at several MACs budgets (each with its BOPs target) and seeds,
by PIC-PQ with the library's defaults and against the paper's choices and
the baselines, on compress_fmnist's profile, data and baseline model.

Methods (all fine-tuned, quantized and tested alike; bits within the
BOPs target):
  pic-pq    Compressor defaults (picpq.torch.DEFAULTS), one search per seed
            at the middle budget serving every budget (Compressor.plans),
            candidates fine-tuned the profile's tau_hat steps (quick: 60)
  faithful  the paper's choices (picpq.torch.FAITHFUL), same search budget
  ab10      (a, b) = (1, 0): the default FP ranked globally, no search
  random    a random global ranking (the reference's --global_random_rank)
  uniform   the same fraction of every layer, one bitwidth for all
  (ab10 and random take pic-pq-sbits' bit rule, so that against it they
  measure the ranking alone.)
Levers, each against the configuration it changes (LEVERS); their searches
fine-tune candidates 20 steps (SHORT) but those of pic-pq-qbits60 and
pic-pq-each60 (the profile's tau_hat, as pic-pq):
  pic-pq-tau20    pic-pq with candidates fine-tuned 20 steps
  pic-pq-sbits    pic-pq-tau20 with bits from sparsity (the paper's rule), fitted
  pic-pq-nofill   pic-pq-sbits without the fitting (tau alone)
  pic-pq-conv, pic-pq-bn  pic-pq-sbits with FP before / after batch norm
  pic-pq-raw      pic-pq-sbits with raw FP
  pic-pq-counted  pic-pq-sbits with repeated networks counted
  pic-pq-sg3      pic-pq-sbits' (a, b) with plan.safeguard 0.3 (every layer
                  keeps >= 30 % of its filters), the two smaller budgets
  pic-pq-each     pic-pq-tau20 with a search at each budget
  pic-pq-qbits    pic-pq-tau20 with a fitness that sees the bits: each
                  candidate trains its steps with weights and activations
                  quantized at the bits its plan gets at the BOPs target
  pic-pq-qbits60  pic-pq (60 steps) with that fitness, at every budget
  pic-pq-each60   pic-pq (60 steps) with a search at each budget

Resumable and parallel: every (seed, method, budget) result is a file in
OUT; a search keeps its state file; processes started side by side take
tasks through claim files. `--report` writes the tables and the plot.

    /usr/bin/python3 examples/python/sweep_fmnist.py --out results/sweep &
    /usr/bin/python3 examples/python/sweep_fmnist.py --out results/sweep &
    /usr/bin/python3 examples/python/sweep_fmnist.py --out results/sweep --report
"""
import argparse
import errno
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compress_fmnist as cf  # noqa: E402  (sets the thread policy, imports torch)

np, torch, picpq, ptq = cf.np, cf.torch, cf.picpq, cf.ptq

SBITS = dict(bits="sparsity")
OPTIONS = {"pic-pq": {}, "faithful": dict(faithful=True), "ab10": SBITS, "random": SBITS,
           "pic-pq-sbits": SBITS, "pic-pq-nofill": dict(SBITS, fill=False),
           "pic-pq-conv": dict(SBITS, fp_at="conv"), "pic-pq-bn": dict(SBITS, fp_at="bn"),
           "pic-pq-raw": dict(SBITS, fp_scale="raw"),
           "pic-pq-counted": dict(SBITS, distinct=False), "pic-pq-each": {},
           "pic-pq-sg3": dict(SBITS, safeguard=0.3), "pic-pq-tau20": {}, "pic-pq-qbits": {},
           "pic-pq-qbits60": {}, "pic-pq-each60": {}}
METHODS = ["pic-pq", "faithful", "ab10", "random", "uniform"]
ABLATIONS = ["pic-pq-tau20", "pic-pq-sbits", "pic-pq-nofill", "pic-pq-sg3", "pic-pq-conv",
             "pic-pq-bn", "pic-pq-raw", "pic-pq-counted", "pic-pq-each", "pic-pq-qbits",
             "pic-pq-qbits60", "pic-pq-each60"]
# the levers search with a third of the default's fitness training (compute)
SHORT = dict(tau_hat=20)
FULL_FITNESS = ("pic-pq-qbits60", "pic-pq-each60")   # the profile's tau_hat, as pic-pq
PROFILE_CHANGES = {m: SHORT for m in ABLATIONS if m not in FULL_FITNESS}
BITS_FITNESS = ("pic-pq-qbits", "pic-pq-qbits60")   # Compressor.search(bops=)
REUSED = ("pic-pq-sbits", "pic-pq-nofill", "pic-pq-sg3")   # pic-pq-tau20's search, other bits
# a search at each budget but the middle one, where they are pic-pq-tau20 and pic-pq
EACH = ("pic-pq-each", "pic-pq-each60")
# the final fine-tune and QAT of every result: half of the quick profile's (compute)
FINAL_STEPS = dict(finetune_steps=200, qat_a_steps=150, qat_w_steps=250)
# lever: (the configuration it changes, what it changes)
LEVERS = {"pic-pq-tau20": ("pic-pq", "candidates fine-tuned 60 steps (default, quick) vs "
                           "20"),
          "pic-pq-sbits": ("pic-pq-tau20", "bits: one bitwidth capped at B_l (default) vs "
                           "bits from sparsity (paper)"),
          "pic-pq-nofill": ("pic-pq-sbits", "bits fitted to the budget (default) vs tau "
                            "alone (paper)"),
          "pic-pq-conv": ("pic-pq-sbits", "FP after the activation (default) vs before batch "
                          "norm (paper)"),
          "pic-pq-bn": ("pic-pq-sbits", "FP after the activation (default) vs after batch "
                        "norm"),
          "pic-pq-raw": ("pic-pq-sbits", "FP mapped onto [0, 1] per layer (default) vs raw "
                         "(paper)"),
          "pic-pq-counted": ("pic-pq-sbits", "48 distinct networks (default) vs repeats "
                             "counted (paper)"),
          "pic-pq-sg3": ("pic-pq-sbits", "safeguard 0.1 (default, paper) vs 0.3"),
          "pic-pq-each": ("pic-pq-tau20", "one search for every budget (default) vs one "
                          "per budget"),
          "pic-pq-qbits": ("pic-pq-tau20", "fitness trained in float (default, paper) vs "
                           "quantized at its bits"),
          "pic-pq-qbits60": ("pic-pq", "fitness trained in float (default) vs quantized at "
                             "its bits, 60 steps"),
          "pic-pq-each60": ("pic-pq", "one search for every budget (default) vs one per "
                            "budget, 60 steps")}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(cf.PROFILES), default="quick")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--budgets", type=float, nargs="+", default=[0.5, 0.35, 0.25],
                   help="fractions of the MACs kept")
    p.add_argument("--ratios", type=float, nargs="+", default=[48, 80, 128],
                   help="BOPs ratio target of each budget (paper convention)")
    p.add_argument("--methods", nargs="+", default=METHODS + ABLATIONS,
                   choices=METHODS + ABLATIONS)
    p.add_argument("--ablation-budgets", type=float, nargs="+", default=None,
                   help="budgets of the ablations (default: the middle budget)")
    p.add_argument("--baseline-seed", type=int, default=0,
                   help="the trained model every seed compresses (cached by compress_fmnist)")
    p.add_argument("--out", default="results/sweep")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--report", action="store_true", help="only aggregate what is in OUT")
    args = p.parse_args(argv)
    if len(args.ratios) != len(args.budgets):
        p.error("--ratios needs one value per budget")
    if args.ablation_budgets is None:
        args.ablation_budgets = [args.budgets[len(args.budgets) // 2]]
    if not set(args.ablation_budgets) <= set(args.budgets):
        p.error("--ablation-budgets must be among --budgets")
    return args


# ---- claims: processes side by side take distinct tasks ----------------------------------------
def claim(out, name):
    """True when this process now owns task `name` (a claim file with its
    pid; the claim of a process that is gone is taken over)."""
    path = os.path.join(out, "claims", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                with open(path) as f:
                    os.kill(int(f.read() or 0), 0)
                return False            # its owner is alive
            except (OSError, ValueError) as exc:
                if isinstance(exc, OSError) and exc.errno == errno.EPERM:
                    return False
                os.unlink(path)         # stale: take it over
                continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


# ---- one task: a method on one seed, every budget ------------------------------------------------
def result_path(out, seed, method, kf):
    return os.path.join(out, f"seed{seed}-{method}-macs{kf:g}.json")


class Context:
    """What every task of a process shares: data, baseline, profile."""

    def __init__(self, args):
        self.args = args
        # the recorded sweep's QAT keeps the residual stream in float32 (residual_bits 0)
        self.prof = dict(cf.PROFILES[args.profile], residual_bits=0)
        if args.profile != "smoke":
            self.prof.update(FINAL_STEPS)
        torch.set_num_threads(args.threads)
        self.train, val, self.test = cf.load_fmnist(self.prof)
        n = self.prof["fitness_images"]
        self.fitness = (val[0][:n], val[1][:n])
        base_args = argparse.Namespace(seed=args.baseline_seed, cache_dir=args.cache_dir)
        self.model, self.model_path, _ = cf.baseline(base_args, self.prof, self.train)
        self.base_acc, _ = cf.evaluate(self.model, self.test, self.prof["eval_batch"])


def compressor(ctx, seed, method):
    example = ctx.train[0][:2].contiguous(memory_format=torch.channels_last)
    comp = ptq.Compressor(ctx.model, example, macs=ctx.args.budgets[len(ctx.args.budgets) // 2],
                          seed=seed, threads=ctx.args.threads, memory_format=cf.CL,
                          **OPTIONS.get(method, {}))
    comp.max_bits = cf.max_bits_of(comp.desc, blocks_per_stage=3)
    comp.calibrate(cf.calibration_batches(ctx.train, ctx.prof["calib_images"], seed),
                   threads=ctx.args.threads)
    return comp


def ranking(ctx, comp, seed, method, out, macs=None):
    """(a, b) of a method: searched (at `macs`, default the middle budget),
    or (1, 0) over the FP it ranks (random: the FP replaced by uniform
    random numbers, seeded)."""
    n = comp.net.num_layers
    if method == "random":
        rng = np.random.default_rng(1000 + seed)
        for l in comp.desc.convs:
            comp.net.set_fp(l.id, rng.uniform(0, 1, comp.net.layer_channels(l.id)[1]))
    if method in ("ab10", "random", "uniform"):
        return np.ones(n), np.zeros(n), None
    name = "pic-pq-tau20" if method in REUSED else method
    name += f"-macs{macs:g}" if macs is not None else ""
    prof = dict(ctx.prof, **PROFILE_CHANGES.get(method, {}))
    t = time.time()
    settings = cf.fitness_settings(prof, ctx.train, ctx.fitness)
    if method in BITS_FITNESS:   # the bits each candidate gets at the searched budget's target
        settings["bops"] = 1 / ctx.args.ratios[ctx.args.budgets.index(macs or comp.macs)]
    res = comp.search(**settings, population=prof["population"], sample=prof["sample"],
                      generations=prof["generations"], macs=macs,
                      state=os.path.join(out, f"seed{seed}-{name}-search.json"))
    info = dict(best_loss=res.loss, candidates=len(res.trace),
                networks=sum(not t["reused"] for t in res.trace), seconds=time.time() - t)
    return res.a, res.b, info


def budgets_of(args, method):
    if method in ("pic-pq-tau20", "pic-pq-sbits", "pic-pq-qbits60"):
        return args.budgets
    if method == "pic-pq-sg3":
        return args.budgets[1:]
    if method in EACH:
        return [kf for kf in args.budgets if kf != args.budgets[len(args.budgets) // 2]]
    return args.ablation_budgets if method in ABLATIONS else args.budgets


def run_task(ctx, seed, method):
    args, out = ctx.args, ctx.args.out
    todo = [(kf, r) for kf, r in zip(args.budgets, args.ratios)
            if kf in budgets_of(args, method)
            and not os.path.exists(result_path(out, seed, method, kf))]
    if not todo:
        return
    t0 = time.time()
    comp = compressor(ctx, seed, method)
    base = comp.base_cost
    if method not in EACH:
        a, b, search_info = ranking(ctx, comp, seed, method, out)
    for kf, ratio in todo:
        target = base["bops"] / ratio
        if method in EACH:
            a, b, search_info = ranking(ctx, comp, seed, method, out, macs=kf)
        if method == "uniform":
            for layer, fp in comp.fps.items():   # uniform keeps by the raw FP
                comp.net.set_fp(layer, fp)
            plan, bits = cf.uniform_baseline(comp.desc, kf * base["macs"], target,
                                             comp.max_bits)
            met = True
        else:
            [(plan, met)] = comp.plans([kf], a, b)
            bits, _, _ = ptq.fit_bits(plan, comp.max_bits, target, comp.bit_rule, comp.fill)
        cost = cf.cost_summary(comp.desc, plan, bits)
        t = time.time()
        small, _, _, summary = cf.compress(comp, plan, bits, ctx.train, ctx.prof, seed,
                                           f"seed {seed} {method} {kf:g}")
        acc, _ = cf.evaluate(small, ctx.test, ctx.prof["eval_batch"])
        result = dict(seed=seed, method=method, macs_fraction=kf, bops_ratio_target=ratio,
                      test_acc=acc, base_acc=ctx.base_acc, budget_met=bool(met),
                      bops_met=cost["bops"] <= target * (1 + 1e-9),
                      bits=bits, kept=plan.kept_all(), **cost,
                      bops_ratio=base["bops"] / cost["bops"],
                      bops_run_ratio=base["bops"] / cost["bops_run"],
                      macs_ratio=cost["macs"] / base["macs"], packed_bytes=summary["packed_bytes"],
                      search=search_info, seconds=time.time() - t, profile=args.profile,
                      baseline=ctx.model_path, library=picpq.version())
        plan.close()
        cf.write_atomic(result_path(out, seed, method, kf), json.dumps(result, indent=1))
        print(f"seed {seed} {method} macs {kf:g}: top-1 {acc:.2f}% at "
              f"{result['bops_ratio']:.1f}x BOPs ({time.time() - t0:.0f} s)", flush=True)
    comp.close()


# ---- report ----------------------------------------------------------------------------------
def load_results(out):
    rows = []
    for name in sorted(os.listdir(out)):
        if name.startswith("seed") and "-macs" in name and name.endswith(".json") \
                and not name.endswith("-search.json"):
            with open(os.path.join(out, name)) as f:
                rows.append(json.load(f))
    return rows


def mean_std(values):
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def paired(by, a, b, kf):
    """a's top-1 minus b's at budget kf, paired by seed: (mean, std, n) or None."""
    d = [by[(a, kf, s)]["test_acc"] - by[(b, kf, s)]["test_acc"]
         for (m, k, s) in by if m == a and k == kf and (b, kf, s) in by]
    return (*mean_std(d), len(d)) if d else None


def cell(diff):
    return "-" if diff is None else f"{diff[0]:+.2f} ± {diff[1]:.2f} (n={diff[2]})"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def report(args):
    rows = load_results(args.out)
    by = {(r["method"], r["macs_fraction"], r["seed"]): r for r in rows}
    methods = [m for m in METHODS + ABLATIONS if any(k[0] == m for k in by)]
    budgets = sorted({r["macs_fraction"] for r in rows}, reverse=True)
    cols = [f"{100 * kf:g} % MACs, {r:g}× target" for kf, r in
            sorted(zip(args.budgets, args.ratios), reverse=True) if kf in budgets]
    summary, main = {}, []
    for m in methods:
        cells = []
        for kf in budgets:
            rs = [r for (mm, k, _), r in by.items() if mm == m and k == kf]
            if not rs:
                cells.append("-")
                continue
            acc, sd = mean_std([r["test_acc"] for r in rs])
            ratio = np.mean([r["bops_ratio"] for r in rs])
            run = np.mean([r["bops_run_ratio"] for r in rs])
            summary[(m, kf)] = (acc, sd, ratio, np.std([r["bops_ratio"] for r in rs]), len(rs))
            missed = "†" if not all(r["bops_met"] for r in rs) else ""
            cells.append(f"{acc:.2f} ± {sd:.2f} ({ratio:.0f}×{missed}; {run:.0f}× as run; "
                         f"n={len(rs)})")
        main.append([m] + cells)
    diffs = [[f"pic-pq − {o}"] + [cell(paired(by, "pic-pq", o, kf)) for kf in budgets]
             for o in ("faithful", "ab10", "random", "uniform") if o in methods]
    diffs += [[f"pic-pq-sbits − {o}"] +
              [cell(paired(by, "pic-pq-sbits", o, kf)) for kf in budgets]
              for o in ("ab10", "random") if o in methods and "pic-pq-sbits" in methods]
    diffs += [[f"{m} − uniform"] + [cell(paired(by, m, "uniform", kf)) for kf in budgets]
              for m in ("pic-pq-tau20", "pic-pq-each", "pic-pq-qbits", "pic-pq-qbits60",
                        "pic-pq-each60")
              if m in methods and "uniform" in methods]
    levers = [[LEVERS[m][1], f"{LEVERS[m][0]} − {m}"] +
              [cell(paired(by, LEVERS[m][0], m, kf)) for kf in budgets]
              for m in ABLATIONS if m in methods]
    text = "\n\n".join([
        table(["method"] + cols, main),
        "Top-1 (%) on the 10,000 test images, mean ± std over seeds; in brackets the BOPs "
        "ratio (paper convention; † = over the BOPs target for at least one seed), the ratio "
        "of the quantized model as it runs, and the number of seeds.",
        table(["paired difference (points)"] + cols, diffs),
        table(["lever", "difference"] + cols, levers),
        "Paired differences: top-1 of the first minus the second, seed by seed, mean ± std; "
        "for a lever, positive = the default is better."]) + "\n"
    cf.write_atomic(os.path.join(args.out, "sweep.md"), text)
    plot(args.out, summary, [m for m in METHODS + ["pic-pq-sbits"] if m in methods])
    print(text)
    return summary


def plot(out, summary, methods):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot)")
        return
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for m in methods:
        pts = sorted((v[2], v[0], v[1], v[3]) for (mm, _), v in summary.items() if mm == m)
        if not pts:
            continue
        x, y, e, xe = zip(*pts)
        ax.errorbar(x, y, yerr=[0 if math.isnan(v) else v for v in e], xerr=xe, marker="o",
                    capsize=3, label=m, linestyle="-" if m in METHODS else ":")
    ax.set_xscale("log")
    ax.set_xlabel("BOPs compression ratio (paper convention)")
    ax.set_ylabel("test top-1 (%), mean ± std over seeds")
    ax.legend(fontsize="small", ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "sweep.png"), dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.report:
        return report(args)
    ctx = None
    # every seed's methods first, then each ablation on every seed in turn
    tasks = [(seed, m) for seed in args.seeds for m in METHODS if m in args.methods]
    tasks += [(seed, m) for m in ABLATIONS if m in args.methods for seed in args.seeds]
    for seed, method in tasks:
        if done(args, seed, method):
            continue
        if method in REUSED and not done(args, seed, "pic-pq-tau20"):
            continue   # it reuses pic-pq-tau20's search: after that has finished
        if not claim(args.out, f"seed{seed}-{method}"):
            continue
        ctx = ctx or Context(args)
        run_task(ctx, seed, method)
    return report(args)


def done(args, seed, method):
    return all(os.path.exists(result_path(args.out, seed, method, kf))
               for kf in budgets_of(args, method))


if __name__ == "__main__":
    main()
