#!/usr/bin/env python3
"""PIC-PQ end to end on a real CNN: ResNet-20 trained on Fashion-MNIST,
pruned by a regularized evolutionary search over (a, b), quantized with
bits from sparsity, fine-tuned with QAT, exported as packed integer codes.
The pipeline is picpq.torch's (Compressor); this file keeps the data, the
model, the profiles, the --compare baselines, the resumable stages and the
report.

    make demo                                   # --profile quick
    /usr/bin/python3 examples/python/compress_fmnist.py --profile smoke --out /tmp/r
"""
import argparse
import gzip
import hashlib
import io
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
# OpenMP threads that spin at barriers make a shared machine 14x slower (docs/BENCHMARKS.md);
# the policy is read when torch loads, so it is set before the import below
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

DATA_DIR = os.environ.get("PICPQ_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
INSTALL_HINT = ("install it with `make deps DEPS_GROUPS=\"core python torch\"` "
                "(Debian packages python3-torch, python3-torchvision, dataset-fashion-mnist)")

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as exc:  # explain instead of a traceback
    sys.exit(f"compress_fmnist: {exc.name} is missing; {INSTALL_HINT}")

try:
    import picpq
except ImportError as exc:  # the library is not built
    sys.exit(f"compress_fmnist: {exc}")
import picpq.torch as ptq  # noqa: E402
from picpq import write_atomic  # noqa: E402
from picpq.torch.models import resnet20  # noqa: E402

# ---- profiles ---------------------------------------------------------------------------------
# steps are SGD steps of `batch` images; images counts are upper bounds on the splits.
PROFILES = {
    "smoke": dict(train_images=256, val_images=128, test_images=128, batch=32,
                  baseline_steps=8, calib_images=64, keep_fraction=0.5,
                  population=3, sample=2, generations=4, tau_hat=2, fitness_images=64,
                  finetune_steps=3, qat_a_steps=2, qat_w_steps=2, eval_batch=128,
                  bops_ratio=0, bn_recal_batches=1),
    "quick": dict(train_images=55000, val_images=5000, test_images=10000, batch=128,
                  baseline_steps=1000, calib_images=768, keep_fraction=0.5,
                  population=16, sample=4, generations=48, tau_hat=60, fitness_images=1000,
                  finetune_steps=400, qat_a_steps=300, qat_w_steps=500, eval_batch=500,
                  bops_ratio=48, bn_recal_batches=8),
    "paper": dict(train_images=55000, val_images=5000, test_images=10000, batch=128,
                  baseline_steps=12900, calib_images=768, keep_fraction=0.45,
                  population=64, sample=16, generations=400, tau_hat=200, fitness_images=5000,
                  finetune_steps=8600, qat_a_steps=4300, qat_w_steps=4300, eval_batch=500,
                  bops_ratio=55, bn_recal_batches=0),
}
MAX_BITS_BY_STAGE = (32, 8, 6, 4)  # stem, stage 1, 2, 3 (METHOD §7.3); the FC stays 32
MEAN, STD = 0.2860, 0.3530          # Fashion-MNIST training pixel statistics


# ---- data -------------------------------------------------------------------------------------
def read_idx(path):
    """An idx file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fmnist(profile):
    """(train, val, test) as (images float32 [N,1,28,28] normalized, labels int64).
    The 5,000 validation images come from a fixed permutation (seed 0) of the
    60,000 training images, whatever --seed says."""
    names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    paths = [os.path.join(DATA_DIR, n) for n in names]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        sys.exit(f"compress_fmnist: Fashion-MNIST not found ({missing[0]}); {INSTALL_HINT}, "
                 "or point PICPQ_FMNIST_DIR at a directory with the four idx .gz files")
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    perm = np.random.default_rng(0).permutation(len(xtr))
    val_idx, tr_idx = perm[:5000], perm[5000:]

    def prep(x, y, limit):
        x = torch.from_numpy(((x[:limit].astype(np.float32) / 255.0) - MEAN) / STD)
        return x.unsqueeze(1).contiguous(), torch.from_numpy(y[:limit].astype(np.int64))

    return (prep(xtr[tr_idx], ytr[tr_idx], profile["train_images"]),
            prep(xtr[val_idx], ytr[val_idx], profile["val_images"]),
            prep(xte, yte, profile["test_images"]))


def augment(x, gen):
    """Random crop (pad 2) and horizontal flip, per image, on a batch."""
    b = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    oy = torch.randint(0, 5, (b,), generator=gen)
    ox = torch.randint(0, 5, (b,), generator=gen)
    rows = (oy[:, None] + torch.arange(28))[:, None, :, None].expand(b, 1, 28, 32)
    x = padded.gather(2, rows)
    cols = (ox[:, None] + torch.arange(28))[:, None, None, :].expand(b, 1, 28, 28)
    x = x.gather(3, cols)
    flip = torch.rand(b, generator=gen) < 0.5
    x[flip] = x[flip].flip(3)
    return x


def Batches(data, batch, seed):
    """An endless stream of shuffled, augmented training batches, seeded."""
    return ptq.Batches(data, batch, seed, augment)


# ---- training and evaluation ------------------------------------------------------------------
CL = torch.channels_last  # the model and its inputs


def train(model, batches, steps, lr, label, nesterov=True, cosine=True, checkpoint=None):
    """SGD (momentum 0.9, weight decay 5e-4) for `steps` steps, cosine lr;
    a progress bar when `label` is given (picpq.torch.train, which saves to
    and resumes from `checkpoint` when given)."""
    return ptq.train(model, batches, steps, lr, label, nesterov=nesterov, cosine=cosine,
                     memory_format=CL, checkpoint=checkpoint)


def evaluate(model, data, batch):
    """(top-1 accuracy in %, mean cross-entropy) of the model on data."""
    return ptq.evaluate(model, data, batch, CL)


def cache_dir(args):
    base = args.cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "picpq")
    os.makedirs(base, exist_ok=True)
    return base


def baseline(args, prof, train_data):
    """The trained ResNet-20: from the cache, or trained now and cached. The
    training saves a checkpoint next to the cache file every 500 steps and a
    new run goes on from it: a long baseline trains in pieces."""
    torch.manual_seed(args.seed)
    model = resnet20().to(memory_format=torch.channels_last)
    path = os.path.join(cache_dir(args), f"resnet20-fmnist-seed{args.seed}-"
                        f"n{prof['train_images']}-steps{prof['baseline_steps']}.pt")
    if os.path.exists(path):
        model.load_state_dict(torch.load(path))
        return model, path, True
    batches = Batches(train_data, prof["batch"], args.seed)
    train(model, batches, prof["baseline_steps"], 0.1, "baseline", checkpoint=path + ".partial")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    write_atomic(path, buf.getvalue())
    return model, path, False


# ---- PIC-PQ steps -------------------------------------------------------------------------------
def max_bits_of(desc, blocks_per_stage):
    """B_l per layer: stem 32, stage s of the ResNet MAX_BITS_BY_STAGE[s], FC 32."""
    bits = []
    for layer in desc.layers:
        if layer.kind == "linear" or not layer.name.startswith("layers."):
            bits.append(32)
        else:
            stage = int(layer.name.split(".")[1]) // blocks_per_stage + 1
            bits.append(MAX_BITS_BY_STAGE[stage])
    return bits


def calibration_batches(train_data, n_images, seed):
    """The FP image set: the first n_images of a seeded shuffle, augmented
    like the training images (METHOD §3.2), in batches of 128."""
    batches = Batches(train_data, min(128, n_images), seed + 1)
    return [batches.next()[0].contiguous(memory_format=torch.channels_last)
            for _ in range(max(1, n_images // batches.batch))]


CHAIN_REDUCE = ptq.pipeline.CHAIN_REDUCE
FP_SCALES = ptq.pipeline.FP_SCALES
# the plan options of a run: the library's defaults (--faithful: the paper's)
PLAN_DEFAULTS = dict(chain_reduce="sum", fp_scale=ptq.DEFAULTS["fp_scale"],
                     fp_at=ptq.DEFAULTS["fp_at"])


def new_plan(net, prof):
    """A plan with the profile's chain score ("sum" as the reference unless
    --chain-reduce says otherwise; METHOD §5.3)."""
    reduce = prof.get("chain_reduce", PLAN_DEFAULTS["chain_reduce"])
    return picpq.Plan(net, chain_reduce=CHAIN_REDUCE[reduce])


def compressor(model, example, prof, seed, threads):
    """The pipeline over the baseline model with the profile's budget and
    plan options (--fp-scale minmax maps each conv's FP onto [0, 1])."""
    return ptq.Compressor(model, example, macs=prof["keep_fraction"], seed=seed,
                          threads=threads, memory_format=CL,
                          faithful=prof.get("faithful", False),
                          **{k: prof.get(k, v) for k, v in PLAN_DEFAULTS.items()})


def fitness_settings(prof, train_data, fitness_data):
    """How a candidate (a, b) is scored (METHOD E5), as Compressor.score and
    .search take it: prune to the budget, fine-tune tau_hat steps (lr 0.01,
    no Nesterov, constant lr) on the same augmented batches for every
    candidate (common random numbers, seed + 2), recompute the batch-norm
    statistics from prof["bn_recal_batches"] batches (0 = as the reference:
    keep the running averages of the tau_hat steps), then the mean
    validation cross-entropy (and the accuracy, kept in the trace)."""
    def score(model):
        acc, loss = evaluate(model, fitness_data, prof["eval_batch"])
        return loss, acc
    return dict(evaluate=score, data=train_data, steps=prof["tau_hat"], lr=0.01,
                batch=prof["batch"], transform=augment,
                bn_recal_batches=prof.get("bn_recal_batches", 0))


def run_search(args, comp, prof, train_data, fitness_data):
    """REA over (a, b) (Compressor.search): a candidate whose plan was
    already scored (REA mutations often move only layers whose kept set does
    not change) gets the stored loss instead of a second identical
    fine-tune (`reused` in the trace). The search state is saved in OUT
    after every candidate, under a name digesting its inputs (profile, seed,
    threads, versions, baseline weights); --resume goes on from it."""
    searched = {k: v for k, v in prof.items() if k != "residual_bits"}   # QAT's alone
    digest = hashlib.sha256(json.dumps(
        dict(prof=searched, seed=args.seed, threads=args.threads, library=picpq.version(),
             torch=torch.__version__, baseline=weights_digest(comp.model)),
        sort_keys=True).encode()).hexdigest()[:16]
    state = os.path.join(args.out, f"search-state-{digest}.json")
    if not args.resume and os.path.exists(state):
        os.remove(state)
    res = comp.search(**fitness_settings(prof, train_data, fitness_data),
                      population=prof["population"], sample=prof["sample"],
                      generations=prof["generations"], state=state)
    trace = [dict(id=t["id"], loss=t["loss"], acc=t["info"] if t["info"] is not None else 0.0,
                  budget_met=t["budget_met"], reused=t["reused"], macs=t["macs"],
                  best=t["best"]) for t in res.trace]
    return res.a, res.b, res.loss, trace, res.history, comp.plan


def residual_text(prof):
    rb = prof.get("residual_bits", 0)
    return f"take {rb} bits" if rb else "stay float32"


def qat(comp, bits, batches, prof):
    """Quantization-aware training of comp.pruned: activations first, then
    weights too (METHOD §9.2); the residual stream at prof["residual_bits"]
    (0: float32) over ranges measured on the calibration images."""
    small, rb = comp.pruned, prof.get("residual_bits", 0)
    comp.bits = list(bits)
    comp.quantize(weights=False, residual_bits=rb)
    train(small, batches, prof["qat_a_steps"], 0.01, "QAT activations")
    comp.quantize(residual_bits=rb)
    train(small, batches, prof["qat_w_steps"], 0.01, "QAT weights+act")
    return small


def compress(comp, plan, bits, train_data, prof, seed, label):
    """Final prune + fine-tune, QAT with `bits`, export. Returns (model, desc, export summary)."""
    batches = Batches(train_data, prof["batch"], seed + 3)
    small = comp.prune(plan=plan)
    train(small, batches, prof["finetune_steps"], 0.01, f"{label} fine-tune")
    qat(comp, bits, batches, prof)
    layers, summary = ptq.export(small, comp.pruned_desc, bits)
    return small, comp.pruned_desc, layers, summary


def deploy(out, small, desc_small, bits, test_data, eval_batch):
    """The deployable files of the compressed model: OUT/model.pqm (the C
    runtime's model file) and OUT/model.onnx (QDQ), and the C runtime's
    agreement with the torch QAT model on the test images (the model file
    normalises, so it gets the pixels in [0, 1])."""
    x, y = test_data
    pqm, onnx_path = os.path.join(out, "model.pqm"), os.path.join(out, "model.onnx")
    ptq.save_model(small, desc_small, bits, pqm, x[:1], mean=MEAN, std=STD)
    info = dict(model_file=pqm, model_file_bytes=os.path.getsize(pqm))
    try:
        info["onnx_bytes"] = ptq.export_onnx(small, desc_small, bits, onnx_path, x[:1])
        info["onnx_file"] = onnx_path
    except ImportError:  # python3-onnx is not installed
        info["onnx_file"] = None
    small.eval()
    with torch.no_grad():
        ref = torch.cat([small(x[i:i + eval_batch]) for i in range(0, len(x), eval_batch)])
    raw = (x * STD + MEAN).numpy()
    t = time.time()
    with picpq.Model(path=pqm) as runtime:
        logits = runtime.run(raw, batch=eval_batch)
    info["c_ms_per_image"] = 1e3 * (time.time() - t) / len(x)
    ref = ref.numpy()
    info["c_test_acc"] = 100.0 * float((logits.argmax(1) == y.numpy()).mean())
    info["c_same_prediction"] = 100.0 * float((logits.argmax(1) == ref.argmax(1)).mean())
    info["c_max_logit_diff"] = float(np.abs(logits - ref).max())
    with open(pqm, "rb") as f, picpq.Model(data=f.read(), integer=True) as runtime:
        codes = runtime.run(raw, batch=eval_batch)   # the integer path against the float one
        info["int_convs"], info["int_convs_on_codes"] = runtime.conv_counts
    info["int_same_prediction"] = 100.0 * float((codes.argmax(1) == logits.argmax(1)).mean())
    info["int_max_logit_diff"] = float(np.abs(codes - logits).max())
    return info


def compressed_result(args, prof, comp, plan, bits, train_data, test_data, name):
    """Fine-tune, QAT and export one plan + bits, then test it: (the method's
    entry of results.json, its packed bytes). Saved in OUT as stage-NAME.json
    and stage-NAME.bin; with --resume a saved stage whose inputs (profile,
    seed, threads, versions, baseline, kept filters, bits) are identical is
    returned instead of being trained again: at a fixed thread count the run
    is deterministic, so the saved result is the one a new run would give."""
    model, desc = comp.model, comp.desc
    paths = [os.path.join(args.out, f"stage-{name}.{ext}") for ext in ("json", "bin")]
    digest = stage_digest(args, prof, model, desc, plan, bits)
    if args.resume:
        saved = read_stage(*paths, digest)
        if saved is not None:
            print(f"  {name}: reusing {paths[0]} (same inputs, --resume)")
            return saved
    t = time.time()
    small, desc_small, layers, summary = compress(comp, plan, bits, train_data, prof,
                                                  args.seed, name)
    acc, _ = evaluate(small, test_data, prof["eval_batch"])
    packed = b"".join(layer["data"] for layer in layers.values())
    result = dict(test_acc=acc, bits=list(bits), kept=plan.kept_all(),
                  **cost_summary(desc, plan, bits, prof), **summary, seconds=time.time() - t)
    if name == "pic-pq":  # the method's deployable model, checked against torch
        result["deploy"] = deploy(args.out, small, desc_small, bits, test_data,
                                  prof["eval_batch"])
    write_atomic(paths[1], packed)  # the bytes first: the json names their digest
    write_atomic(paths[0], json.dumps(dict(digest=digest, result=result,
                                           packed_sha256=hashlib.sha256(packed).hexdigest()),
                                      indent=1).encode())
    return result, packed


def stage_digest(args, prof, model, desc, plan, bits):
    """SHA-256 of everything a stage's result depends on. The plan options
    (PLAN_DEFAULTS' keys) are left out: they only choose the kept filters,
    which are digested themselves."""
    training = {k: v for k, v in prof.items() if k not in PLAN_DEFAULTS}
    return hashlib.sha256(json.dumps(
        dict(prof=training, seed=args.seed, threads=args.threads, bits=list(bits),
             library=picpq.version(), torch=torch.__version__,
             baseline=weights_digest(model)), sort_keys=True).encode()
        + str(plan.key()).encode()).hexdigest()


def weights_digest(model):
    return hashlib.sha256(b"".join(t.detach().cpu().contiguous().numpy().tobytes()
                                   for t in model.state_dict().values())).hexdigest()


def read_stage(json_path, bin_path, digest):
    """(result, packed) of a saved stage, or None when it is missing, made from
    other inputs or damaged (then it is trained again)."""
    try:
        with open(json_path, "rb") as f:
            saved = json.loads(f.read())
        with open(bin_path, "rb") as f:
            packed = f.read()
    except (OSError, ValueError):
        return None
    if (not isinstance(saved, dict) or saved.get("digest") != digest
            or saved.get("packed_sha256") != hashlib.sha256(packed).hexdigest()):
        return None
    return saved["result"], packed


def cost_summary(desc, plan, bits, prof=None):
    """MACs, params and BOPs of the model pruned by `plan` with `bits`: `bops`
    in the paper's convention (each layer's own bits for its input, what the
    search and the bit solver use), `bops_run` with the bits the quantized
    model actually runs (picpq.torch.inserted_bits: the inputs read after a
    residual addition stay float32 unless prof["residual_bits"] says)."""
    net, rb = desc.net, (prof or {}).get("residual_bits", 0)
    run = ptq.inserted_bits(desc, bits, residual=rb > 0, residual_bits=rb or None)
    return dict(macs=net.macs(plan), params=net.params(plan), bops=net.bops(plan, bits, bits),
                bops_run=net.bops(plan, *run))


# ---- baselines of --compare ---------------------------------------------------------------------
def coupled_groups(desc):
    """Conv layers grouped by chain (they prune the same channel indices)."""
    groups = {}
    for l in desc.convs:
        groups.setdefault(desc.net.layer_links(l.id)[1], []).append(l.id)
    return list(groups.values())


def uniform_plan(desc, keep_ratio):
    """Every prunable conv keeps ceil(ratio·n) filters, chosen by the
    group's summed FP (so coupled layers agree)."""
    net = desc.net
    plan = picpq.Plan(net)
    for group in coupled_groups(desc):
        width = max(net.layer_channels(l)[1] for l in group)
        score = np.zeros(width)
        for l in group:
            fp = net.fp(l)
            score[:fp.shape[0]] += fp
        for l in sorted(group, key=lambda l: -net.layer_channels(l)[1]):
            n = net.layer_channels(l)[1]
            keep = np.zeros(n, dtype=bool)
            keep[np.argsort(-score[:n], kind="stable")[:max(2, math.ceil(keep_ratio * n))]] = True
            plan.set_keep_mask(l, keep)
    return plan


def uniform_baseline(desc, target_macs, target_bops, max_bits):
    """Uniform pruning ratio with MACs <= target, then the largest uniform
    bitwidth (same for all quantized layers) with BOPs <= target."""
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = (lo + hi) / 2
        plan = uniform_plan(desc, mid)
        if desc.net.macs(plan) <= target_macs:
            lo = mid
        else:
            hi = mid
        plan.close()
    plan = uniform_plan(desc, lo)
    best = None
    for b in range(2, 9):
        bits = [32 if m == 32 else b for m in max_bits]
        if desc.net.bops(plan, bits, bits) <= target_bops:
            best = bits
    return plan, best or [32 if m == 32 else 2 for m in max_bits]


def global_ranking_baseline(net, prof, target_bops, max_bits):
    """(a, b) = (1, 0) (global ranking by raw FP), bits from sparsity with the
    tau that fits target_bops; if no tau fits at keep_fraction, the largest
    keep fraction (bisection) at which one does."""
    ones, zeros = np.ones(net.num_layers), np.zeros(net.num_layers)

    def attempt(kf):
        plan = new_plan(net, prof)
        plan.compute(ones, zeros, kf)
        _, bits, met = picpq.bits_solve(plan, picpq.sparsity_from_plan(plan), max_bits,
                                        target_bops)
        return plan, bits, met
    plan, bits, met = attempt(prof["keep_fraction"])
    if met:
        return plan, bits
    plan.close()
    lo, hi = 0.01, prof["keep_fraction"]
    for _ in range(12):
        mid = (lo + hi) / 2
        p, _, ok = attempt(mid)
        p.close()
        lo, hi = (mid, hi) if ok else (lo, mid)
    plan, bits, _ = attempt(lo)
    return plan, bits


# ---- reporting ----------------------------------------------------------------------------------
def table_rows(results):
    base = results["baseline"]
    rows = []
    entries = [("baseline (fp32)", dict(base, packed_bytes=base["fp32_bytes"]))] + \
        [(k, results[k]) for k in ("pic-pq", "uniform", "global-ab10") if k in results]
    for name, r in entries:
        rows.append([name, f"{base['test_acc']:.2f}", f"{r['test_acc']:.2f}",
                     f"{base['test_acc'] - r['test_acc']:.2f}",
                     f"{r['macs'] / 1e6:.2f} ({100 * r['macs'] / base['macs']:.1f}%)",
                     f"{r['params'] / 1e3:.1f}k", f"{r['bops'] / 1e9:.3f}G",
                     f"{base['bops'] / r['bops']:.2f}x",
                     f"{base['fp32_bytes']} / {r['packed_bytes']}",
                     f"{r['bops_run'] / 1e9:.3f}G ({base['bops'] / r['bops_run']:.2f}x)"
                     if "bops_run" in r else "-"])  # a stage saved before bops_run existed
    return ["method", "base top-1", "top-1", "drop", "MACs (M)", "params", "BOPs",
            "BOPs ratio", "bytes fp32 / packed", "BOPs as run (ratio)"], rows


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def strict_json(obj):
    """obj with every non-finite float (the +inf loss of a candidate whose
    budget cannot be met) replaced by None, so results.json is strict JSON
    (null, not the non-standard Infinity/NaN tokens)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def write_report(out, results):
    header, rows = table_rows(results)
    layer_rows = [[l["name"], l["channels"], l["kept"], l["max_bits"], l["bits"]]
                  for l in results["layers"]]
    text = [f"# PIC-PQ on Fashion-MNIST / ResNet-20 (profile {results['profile']}, "
            f"seed {results['seed']})", "", markdown_table(header, rows), "",
            f"Baseline: {results['baseline']['source']}. Time: "
            f"{results['seconds']['total']:.0f} s "
            "(" + ", ".join(f"{k} {v:.0f}" for k, v in results["seconds"].items()
                            if k != "total") + ").",
            "", "## Per-layer channels and bits", "",
            markdown_table(["layer", "channels", "kept", "max bits", "bits"], layer_rows), ""]
    write_atomic(os.path.join(out, "report.md"), "\n".join(text))
    write_atomic(os.path.join(out, "results.json"),
                 json.dumps(strict_json(results), indent=1, allow_nan=False))
    return markdown_table(header, rows), markdown_table(
        ["layer", "channels", "kept", "max bits", "bits"], layer_rows)


def write_plots(out, results):
    """search.png (loss of every candidate, best so far) and layers.png."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib missing: no plots)")
        return
    trace = results["search"]["trace"]

    def finite(v):  # an unmet budget (inf in memory, null in results.json) is not drawn
        return v if v is not None and math.isfinite(v) else float("nan")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([finite(t["loss"]) for t in trace], ".", label="candidate")
    ax.plot([finite(t["best"]) for t in trace], "-", label="best so far")
    ax.set_xlabel("candidate")
    ax.set_ylabel("validation loss after tau_hat steps")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "search.png"), dpi=100)
    plt.close(fig)
    layers = [l for l in results["layers"] if l["kind"] == "conv"]
    fig, ax1 = plt.subplots(figsize=(8, 3.5))
    x = np.arange(len(layers))
    ax1.bar(x, [l["channels"] for l in layers], color="#ccc", label="original")
    ax1.bar(x, [l["kept"] for l in layers], color="#4a7", label="kept")
    ax1.set_xlabel("conv layer")
    ax1.set_ylabel("channels")
    ax2 = ax1.twinx()
    ax2.plot(x, [min(l["bits"], 10) for l in layers], "ro-", label="bits (32 drawn as 10)")
    ax2.set_ylabel("bits")
    fig.legend(loc="upper center", ncol=3, fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(os.path.join(out, "layers.png"), dpi=100)
    plt.close(fig)


# ---- main ----------------------------------------------------------------------------------------
def step(title):
    print(f"== {title}", flush=True)
    return time.time()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results", help="output directory (default results/)")
    p.add_argument("--compare", action="store_true",
                   help="also run uniform pruning+bits and (a,b)=(1,0) at the same BOPs")
    p.add_argument("--cache-dir", default=None, help="baseline checkpoints (default "
                   "$XDG_CACHE_HOME/picpq or ~/.cache/picpq)")
    p.add_argument("--bops-ratio", type=float, default=None,
                   help="choose tau so that BOPs <= baseline/ratio (profile default; "
                   "0 = the reference's tau = 1/6)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--residual-bits", type=int, choices=[0] + list(range(2, 9)), default=None,
                   help="bits of the residual stream (the activations after an addition), "
                   "its range measured on the calibration images; 0 = float32, the METHOD §8 "
                   "placement (default: the library's, 8; --faithful: 0)")
    p.add_argument("--resume", action="store_true",
                   help="go on from where an earlier run with identical inputs stopped in "
                   "--out: its search state (search-state-*.json) and the methods it "
                   "finished (stage-*.json/bin). The baseline resumes from its checkpoint "
                   "in the cache either way")
    p.add_argument("--chain-reduce", choices=sorted(CHAIN_REDUCE),
                   default=PLAN_DEFAULTS["chain_reduce"],
                   help="score of coupled layers (residual chains): sum as the reference "
                   "(default), or mean/max (METHOD §5.3; docs/RESULTS.md compares them)")
    p.add_argument("--fp-scale", choices=FP_SCALES, default=None,
                   help="filter property PIC-PQ ranks: minmax maps each layer's mean ranks "
                   "onto [0, 1] (the library's default; the (a, b) of --lub files are then in "
                   "those units), raw keeps them (the paper)")
    p.add_argument("--fp-at", choices=ptq.FP_AT, default=None,
                   help="where the filter property is measured: act (after the activation, "
                   "the library's default), bn, or conv (before batch norm, the paper)")
    p.add_argument("--faithful", action="store_true",
                   help="the paper's choices (picpq.torch.FAITHFUL): FP before batch norm, raw, "
                   "repeated networks counted as evaluations, bits without filling the budget")
    p.add_argument("--lub", default=None, metavar="FILE",
                   help="skip the search: use the (a, b) in FILE (--lub text format, e.g. "
                   "search_mpi.py's best.lub)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    choice = ptq.FAITHFUL if args.faithful else ptq.DEFAULTS
    prof = dict(PROFILES[args.profile], chain_reduce=args.chain_reduce, faithful=args.faithful,
                fp_scale=args.fp_scale or choice["fp_scale"], fp_at=args.fp_at or choice["fp_at"])
    prof["residual_bits"] = (choice["residual_bits"] if args.residual_bits is None
                             else args.residual_bits)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    seconds, t_start = {}, time.time()
    results = dict(profile=args.profile, seed=args.seed, profile_settings=prof,
                   library=picpq.version(), torch=torch.__version__)

    t = step("data")
    train_data, val_data, test_data = load_fmnist(prof)
    fitness_data = (val_data[0][:prof["fitness_images"]], val_data[1][:prof["fitness_images"]])
    print(f"  train {len(train_data[1])}, validation {len(val_data[1])}, "
          f"test {len(test_data[1])} images")

    t = step("1/7 baseline")
    model, path, cached = baseline(args, prof, train_data)
    base_acc, _ = evaluate(model, test_data, prof["eval_batch"])
    example = train_data[0][:2].contiguous(memory_format=torch.channels_last)
    comp = compressor(model, example, prof, args.seed, args.threads)
    desc, net = comp.desc, comp.net
    max_bits = max_bits_of(desc, blocks_per_stage=3)
    base_cost = cost_summary(desc, None, [32] * net.num_layers)
    seconds["baseline"] = time.time() - t
    conv_numel = [m.weight.numel() for m in (dict(model.named_modules())[l.name]
                                             for l in desc.layers)]
    results["baseline"] = dict(test_acc=base_acc, checkpoint=path, fp32_bytes=4 * sum(conv_numel),
                               source="cached checkpoint " + path if cached else "trained now",
                               **base_cost)
    print(f"  {'cached' if cached else 'trained'}: test top-1 {base_acc:.2f}%, "
          f"{base_cost['macs'] / 1e6:.2f} M MACs, {base_cost['params'] / 1e3:.1f}k params, "
          f"{base_cost['bops'] / 1e9:.2f} G BOPs")

    t = step("2/7 filter property")
    calib = calibration_batches(train_data, prof["calib_images"], args.seed)
    fps = comp.calibrate(calib, threads=args.threads)   # raw FP; the net holds the scaled
    seconds["filter_property"] = time.time() - t
    print(f"  {sum(len(c) for c in calib)} images, {len(fps)} convs, mean FP "
          f"{np.mean([fp.mean() for fp in fps.values()]):.2f} ({seconds['filter_property']:.0f} s)")

    t = step("3/7 REA search")
    if args.lub:  # the (a, b) of an earlier search, e.g. search_mpi.py's best.lub
        with open(args.lub) as f:
            a, b = net.lub_read(f.read())
        plan = comp.plan
        results["search"] = dict(source=args.lub, best_loss=None, a=a.tolist(), b=b.tolist(),
                                 trace=[], mean_loss_history=[], lub=net.lub_write(a, b))
        print(f"  skipped: (a, b) read from {args.lub}")
    else:
        a, b, best_loss, trace, history, plan = run_search(args, comp, prof, train_data,
                                                           fitness_data)
        results["search"] = dict(best_loss=best_loss, a=a.tolist(), b=b.tolist(), trace=trace,
                                 mean_loss_history=history, lub=net.lub_write(a, b))
        print(f"  {len(trace)} candidates ({sum(not t['reused'] for t in trace)} distinct "
              f"networks fine-tuned), best validation loss {best_loss:.4f} "
              f"({time.time() - t:.0f} s)")
    seconds["search"] = time.time() - t

    t = step("4/7 final prune")
    met = plan.compute(a, b, prof["keep_fraction"])
    budget, cost = plan.budget()
    kept = plan.kept_all()
    print(f"  MACs {net.macs(plan) / 1e6:.2f} M <= budget {budget / 1e6:.2f} M: {met}")

    step("5/7 bits")
    sparsity = picpq.sparsity_from_plan(plan)
    ratio = args.bops_ratio if args.bops_ratio is not None else prof["bops_ratio"]
    if ratio:  # the compressor's bit rule for the BOPs target (picpq.torch.fit_bits)
        bits, tau, _ = ptq.fit_bits(plan, max_bits, base_cost["bops"] / ratio, comp.bit_rule,
                                    comp.fill)
    else:      # the reference's penalty
        tau = 1 / 6
        bits = picpq.bits_assign(sparsity, max_bits, tau=tau, min_bits=2).tolist()
    cost = cost_summary(desc, plan, bits, prof)
    print(f"  rule {comp.bit_rule}, tau {tau if tau is None else round(tau, 4)}, bits {bits}, "
          f"BOPs {cost['bops'] / 1e9:.3f} G")

    step("4/7 fine-tune, 6/7 QAT, 7/7 export")
    result, packed = compressed_result(args, prof, comp, plan, bits, train_data, test_data,
                                       "pic-pq")
    seconds["finetune_qat_export"] = result["seconds"]
    results["pic-pq"] = dict(result, budget_met=met, budget=budget, tau=tau,
                             sparsity=sparsity.tolist())
    results["layers"] = [dict(name=l.name, kind=l.kind, channels=net.layer_channels(l.id)[1],
                              kept=kept[l.id], max_bits=max_bits[l.id], bits=bits[l.id])
                         for l in desc.layers]
    write_atomic(os.path.join(args.out, "model_packed.bin"), packed)
    print(f"  test top-1 {result['test_acc']:.2f}% (drop {base_acc - result['test_acc']:.2f}), "
          f"{base_cost['bops'] / cost['bops']:.2f}x BOPs "
          f"({base_cost['bops'] / cost['bops_run']:.2f}x as run: the inputs after residual "
          f"additions {residual_text(prof)}), "
          f"{result['fp32_bytes']} -> {result['packed_bytes']} bytes")
    dep = result["deploy"]
    print(f"  C runtime: test top-1 {dep['c_test_acc']:.2f}%, same prediction as torch on "
          f"{dep['c_same_prediction']:.2f}% of the test images (largest logit difference "
          f"{dep['c_max_logit_diff']:.3g}), {dep['c_ms_per_image']:.3f} ms per image; "
          f"{dep['model_file']} is {dep['model_file_bytes']} bytes; its integer path "
          f"(PICPQ_MODEL_INTEGER, {dep['int_convs_on_codes']} of {dep['int_convs']} "
          f"convolutions on codes) predicts as the float path on "
          f"{dep['int_same_prediction']:.2f}% (largest logit difference "
          f"{dep['int_max_logit_diff']:.3g})")
    print(f"  run it without Python: build/examples/classify {dep['model_file']} "
          f"{DATA_DIR}/t10k-images-idx3-ubyte.gz {DATA_DIR}/t10k-labels-idx1-ubyte.gz")

    seconds["total"] = time.time() - t_start
    results["seconds"] = seconds
    write_report(args.out, results)  # PIC-PQ's results stand even if --compare is cut short

    if args.compare:
        t = step("compare: uniform pruning + uniform bits, and (a, b) = (1, 0)")
        for layer, fp in fps.items():  # the baselines rank by the raw FP
            net.set_fp(layer, fp)
        uplan, ubits = uniform_baseline(desc, net.macs(plan), cost["bops"], max_bits)
        gplan, gbits = global_ranking_baseline(net, prof, cost["bops"],
                                               max_bits)
        for name, p, bb in (("uniform", uplan, ubits), ("global-ab10", gplan, gbits.tolist())):
            results[name], _ = compressed_result(args, prof, comp, p, bb, train_data,
                                                 test_data, name)
            print(f"  {name}: test top-1 {results[name]['test_acc']:.2f}%, "
                  f"{base_cost['bops'] / results[name]['bops']:.2f}x BOPs")
            write_report(args.out, results)  # each finished method is on disk at once
        seconds["compare"] = time.time() - t

    seconds["total"] = time.time() - t_start
    results["seconds"] = seconds
    table, layer_table = write_report(args.out, results)
    write_plots(args.out, results)
    print("\n" + table + "\n\n" + layer_table)
    print(f"\nwrote {args.out}/results.json, report.md, search.png, layers.png "
          f"({seconds['total']:.0f} s)")
    comp.close()
    return results


if __name__ == "__main__":
    main()
