"""The PIC-PQ pipeline as an API: Compressor(model, example_inputs) with the
steps calibrate -> search -> prune -> assign_bits -> quantize -> export, and
compress(), the whole pipeline in one call.

The user brings the model, the data and how a candidate is scored; the
library keeps the rest: candidates whose pruned network was already scored
are not trained again, every candidate sees the same batches (common random
numbers), batch norms are recalibrated, the candidate model is rebuilt in
one reused module instead of a deep copy, the search can be saved and
resumed, several budgets come from one (a, b), progress goes to stderr.
"""
import base64
import copy
import json
import os
from dataclasses import dataclass, field

import numpy as np
import torch

import picpq

from . import data as _data
from .describe import describe
from .export import export, save_model
from .io import write_atomic
from .onnx_export import export_onnx
from .qat import ActQuant, PerUseAct, inserted_bits, quantize_model, residual_ranges
from .rank import FP_AT, rank_filters
from .surgery import apply_plan

CHAIN_REDUCE = {"sum": picpq.CHAIN_SUM, "mean": picpq.CHAIN_MEAN, "max": picpq.CHAIN_MAX}
FP_SCALES = ("raw", "minmax")
# the pipeline's choices where it departs from the paper, and the paper's
# (docs/RESULTS.md measures each)
DEFAULTS = dict(fp_at="act", fp_scale="minmax", distinct=True, fill=True, bits="uniform",
                residual_bits=8)
FAITHFUL = dict(fp_at="conv", fp_scale="raw", distinct=False, fill=False, bits="sparsity",
                residual_bits=0)
BIT_RULES = ("sparsity", "uniform")
STATE_FORMAT, STATE_VERSION = "picpq-torch-search", 1


def _residual_bits(rb):
    rb = int(rb)
    if rb != 0 and not 2 <= rb <= 8:
        raise ValueError(f"residual_bits = {rb}: 2..8, or 0 for a float32 residual stream")
    return rb


def _bops_fraction(bops):
    bops = float(bops)
    if not 0 < bops < float("inf"):
        raise ValueError(f"bops = {bops}: a fraction > 0 of the fp32 model's BOPs")
    return bops


# ---- threads ------------------------------------------------------------------------------------
def _passive_at_load():
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"


def configure_threads(threads=None):
    """CPU threading for training on a machine that may be shared.

    Torch's OpenMP threads spin-wait at every parallel region's barrier by
    default; when another job holds a core, a 2-thread region waits a whole
    scheduler slice for its descheduled thread, spinning (measured: a
    training run 14x slower under one busy loop per core, CPU time up 7x;
    docs/BENCHMARKS.md). OMP_WAIT_POLICY=PASSIVE, read once when torch
    loads, removes the spinning: importing picpq.torch before torch sets it
    unless the environment says otherwise. `threads`: torch's intra-op
    thread count; None keeps torch's when the passive policy is in effect
    and uses 1 otherwise (torch was imported first without the policy: one
    thread never waits at a barrier). Inter-op threads are left alone:
    training does not use them, and torch aborts the process when their
    count is set twice. Returns the thread count in effect."""
    if threads is None:
        threads = torch.get_num_threads() if _PASSIVE else 1
    torch.set_num_threads(int(threads))
    return torch.get_num_threads()


_PASSIVE = _passive_at_load()


# ---- bits and keys ------------------------------------------------------------------------------
def default_bits(desc, max_bits=8):
    """The default per-layer maximum bits B_l: the first conv and the last
    linear layer at 32 (full precision, as the method and most quantization
    schemes keep them), every other layer at `max_bits`."""
    first = next((l.id for l in desc.layers if l.kind == "conv"), None)
    last = next((l.id for l in reversed(desc.layers) if l.kind == "linear"), None)
    return [32 if l.id in (first, last) else int(max_bits) for l in desc.layers]


def _loss_and_info(result):
    if isinstance(result, (tuple, list)):
        return float(result[0]), (list(result[1:]) if len(result) > 2 else result[1])
    return float(result), None


@dataclass
class SearchResult:
    """What Compressor.search found: the best (a, b) and its loss, every
    candidate (trace: id, loss, info, budget_met, reused, macs, best) and the
    population's mean loss after each tell."""
    a: np.ndarray
    b: np.ndarray
    loss: float
    trace: list = field(default_factory=list)
    history: list = field(default_factory=list)


class Compressor:
    """PIC-PQ for one model, step by step (Torch-Pruning/NNCF style):

        c = Compressor(model, example_inputs, macs=0.5)
        c.calibrate(batches)                      # filter property of every conv
        best = c.search(evaluate, data)           # (a, b) by evolutionary search
        small = c.prune(best.a, best.b)           # physically pruned copy
        bits = c.assign_bits(bops=1 / 32)         # bits from sparsity
        qat = c.quantize()                        # QAT modules, train it as usual
        c.export("model.picpq")

    `macs`: the fraction of the model's MACs to keep (the budget);
    `max_bits`: an int (default_bits policy) or a per-layer list of B_l;
    `seed`: the search's seed and the common random numbers' base;
    `threads`: see configure_threads; `memory_format`: applied to 4-D inputs
    (e.g. torch.channels_last); `chain_reduce`, `fp_scale`: plan options
    (METHOD §5.3; fp_scale "minmax" maps each layer's FP onto [0, 1]);
    `fp_at`: where calibrate takes the maps (rank_filters: "conv", "bn",
    "act"); `distinct`, `fill`, `bits`: the defaults of search and
    assign_bits; `residual_bits`: quantize()'s default for the residual
    stream (0: float32);
    `faithful=True`: the paper's choices wherever this pipeline
    has its own default (FAITHFUL: FP before batch norm, raw, repeated
    networks counted as evaluations, bits without filling the budget, a
    float32 residual stream);
    other keyword arguments are plan parameters (e.g. safeguard=0.2)."""

    def __init__(self, model, example_inputs, macs=0.5, max_bits=8, seed=0, threads=None,
                 memory_format=None, chain_reduce="sum", fp_scale=None, fp_at=None,
                 distinct=None, fill=None, bits=None, residual_bits=None, faithful=False,
                 **plan_params):
        choice = FAITHFUL if faithful else DEFAULTS
        fp_scale = choice["fp_scale"] if fp_scale is None else fp_scale
        fp_at = choice["fp_at"] if fp_at is None else fp_at
        if fp_scale not in FP_SCALES:
            raise ValueError(f"fp_scale must be one of {FP_SCALES}")
        if fp_at not in FP_AT:
            raise ValueError(f"fp_at must be one of {FP_AT}")
        self.threads = configure_threads(threads)
        self.model, self.example_inputs = model, example_inputs
        self.macs, self.seed, self.memory_format = float(macs), int(seed), memory_format
        self.chain_reduce, self.fp_scale, self.fp_at = chain_reduce, fp_scale, fp_at
        self.distinct = choice["distinct"] if distinct is None else bool(distinct)
        self.fill = choice["fill"] if fill is None else bool(fill)
        self.bit_rule = choice["bits"] if bits is None else bits
        if self.bit_rule not in BIT_RULES:
            raise ValueError(f"bits must be one of {BIT_RULES}")
        self.residual_bits = _residual_bits(choice["residual_bits"] if residual_bits is None
                                            else residual_bits)
        self.plan_params = dict(plan_params, chain_reduce=CHAIN_REDUCE[chain_reduce])
        self.desc = describe(model, example_inputs)
        self.net = self.desc.net
        n = self.net.num_layers
        self.max_bits = (default_bits(self.desc, max_bits) if np.isscalar(max_bits)
                         else [int(b) for b in max_bits])
        if len(self.max_bits) != n:
            raise ValueError(f"max_bits: {len(self.max_bits)} values for {n} layers")
        self.plan = self.new_plan()
        self.fps = None
        self.a = self.b = None
        self.budget_met = None
        self.pruned = self.pruned_desc = None
        self.bits = self.tau = self.bops_met = None
        self.residual = dict(residual=False, residual_bits=None)
        self._calib = []
        self._scratch = None
        self.base_cost = self.cost(None, [32] * n)

    # -- helpers --
    def new_plan(self):
        """A picpq.Plan over the model's net with this compressor's options."""
        return picpq.Plan(self.net, **self.plan_params)

    def cost(self, plan=None, bits=None):
        """dict(macs, params, bops, bops_run) of the model pruned by `plan`
        (None: not pruned) at `bits` (None: 32 everywhere). `bops` counts
        each layer's own bits for its input (the paper's convention, what
        assign_bits targets); `bops_run` the bits quantize() makes run
        (inserted_bits: an input read after a residual addition stays 32
        unless quantize(residual=True))."""
        bits = bits if bits is not None else [32] * self.net.num_layers
        return dict(macs=self.net.macs(plan), params=self.net.params(plan),
                    bops=self.net.bops(plan, bits, bits),
                    bops_run=self.net.bops(plan, *inserted_bits(self.desc, bits,
                                                                **self.residual)))

    def stream(self, data, batch=128, seed=0, transform=None):
        """A seeded Batches stream over `data`, torch's global seed set too."""
        torch.manual_seed(self.seed + seed)
        return _data.Batches(data, batch, self.seed + seed, transform)

    # -- 1. calibrate --
    def calibrate(self, batches, images=None, threads=1):
        """The filter property of every conv from one pass over `batches`
        (input tensors, tensors (x, y) or a DataLoader; at most `images`),
        stored in the net; "minmax" scaling applied. Returns {layer: FP}."""
        inputs = [_data.to_model(x, self.model, self.memory_format)
                  for x in _data.input_batches(batches, images)]
        self.fps = rank_filters(self.model, self.desc, inputs, threads=threads, at=self.fp_at)
        self._calib = inputs[:8]   # the residual ranges' default data (quantize)
        self.scale_filter_property()
        return self.fps

    def scale_filter_property(self):
        """fp_scale "minmax": each conv's FP mapped onto [0, 1] (a constant
        FP becomes 0); "raw" leaves it."""
        if self.fp_scale == "raw":
            return
        for l in self.desc.convs:
            fp = self.net.fp(l.id)
            span = fp.max() - fp.min()
            self.net.set_fp(l.id, (fp - fp.min()) / span if span > 0 else np.zeros_like(fp))

    # -- 2. search --
    def candidate(self, a, b, macs=None):
        """The pruned model of (a, b) at `macs`, rebuilt inside one reused
        module (no deep copy per candidate), or None when no plan meets the
        budget. The module is overwritten by the next call."""
        if not self.plan.compute(a, b, self.macs if macs is None else macs):
            return None
        if self._scratch is None:
            self._scratch = copy.deepcopy(self.model)
        self._scratch = apply_plan(self.model, self.desc, self.plan, out=self._scratch)
        if self.memory_format is not None:
            self._scratch = self._scratch.to(memory_format=self.memory_format)
        return self._scratch

    def score(self, a, b, evaluate, data=None, finetune=None, steps=60, lr=0.01, batch=128,
              transform=None, bn_recal_batches=0, macs=None, bops=None):
        """The fitness of one (a, b) (METHOD E5): prune to the budget,
        fine-tune on the common random numbers (`finetune(model, batches)`,
        or by default `steps` SGD steps at constant `lr` without Nesterov on
        a Batches stream of `data`), recompute batch norms from
        `bn_recal_batches` further batches, then `evaluate(model)` -> loss
        or (loss, info). Returns (loss, info, budget_met); the loss is +inf
        when no plan meets the budget.

        `bops` (a fraction of the fp32 BOPs, as assign_bits): a fitness that
        sees the bits. A copy of the candidate gets the bits its plan would
        (fit_bits with the compressor's rule and fill) and is fine-tuned and
        evaluated with its weights and activations quantized at them
        (quantize_model; the residual stream stays float32)."""
        bops = None if bops is None else _bops_fraction(bops)
        small = self.candidate(a, b, macs)
        if small is None:
            return float("inf"), None, False
        if bops is not None:
            bits, _, _ = fit_bits(self.plan, self.max_bits, self.base_cost["bops"] * bops,
                                  self.bit_rule, self.fill)
            small = quantize_model(copy.deepcopy(small), self.desc, bits)
        batches = self.stream(data, batch, 2, transform) if data is not None else None
        if finetune is not None:
            finetune(small, batches)
        elif steps:
            _data.train(small, batches, steps, lr, None, nesterov=False, cosine=False,
                        memory_format=self.memory_format)
        if bn_recal_batches and batches is not None:
            _data.recalibrate_bn(small, batches, bn_recal_batches, self.memory_format)
        loss, info = _loss_and_info(evaluate(small))
        return loss, info, True

    def search(self, evaluate, data=None, finetune=None, steps=60, lr=0.01, batch=128,
               transform=None, bn_recal_batches=0, population=16, sample=4, generations=48,
               state=None, progress=True, macs=None, distinct=None, bops=None):
        """Regularized evolutionary search over (a, b) (METHOD §6), every
        candidate scored by score() with these arguments. A candidate that
        prunes the same filters as one already scored (Plan.key) is not
        trained again: with common random numbers the fitness depends on the
        pruned network alone. `distinct` (default: the compressor's, True
        unless faithful): such a candidate is dropped and another asked for
        (Search.tell(repeat=True)), so `generations` counts distinct
        networks; False: it is told the stored loss and counts, as the
        reference. `bops`: score each candidate quantized at its bits (see
        score). `state`: a file written atomically after every candidate
        (search state, scored networks, trace); an existing one is resumed.
        Returns a SearchResult and sets self.a, self.b."""
        distinct = self.distinct if distinct is None else bool(distinct)
        settings = dict(seed=self.seed, macs=self.macs if macs is None else macs,
                        population=population, sample=sample, generations=generations,
                        steps=steps, lr=lr, batch=batch, bn_recal_batches=bn_recal_batches,
                        distinct=distinct)
        if bops is not None:
            settings["bops"] = _bops_fraction(bops)
        kf = settings["macs"]
        search, scored, trace = None, {}, []
        if state is not None and os.path.exists(state):
            search, scored, trace = self._load_state(state, settings)
        if search is None:
            search = picpq.Search(self.net, self.seed, population=population, sample=sample,
                                  generations=generations)
        try:
            while True:
                cand = search.ask()
                if cand is None:
                    break
                cid, a, b = cand
                met = self.plan.compute(a, b, kf)
                key = str(self.plan.key()) if met else None
                reused = key is not None and key in scored
                if reused:
                    loss, info = scored[key]
                else:
                    loss, info, met = self.score(a, b, evaluate, data, finetune, steps, lr, batch,
                                                 transform, bn_recal_batches, kf, bops)
                    if key is not None:
                        scored[key] = (loss, info)
                search.tell(cid, loss, repeat=reused and distinct)
                stats = search.stats()
                trace.append(dict(id=cid, loss=loss, info=info, budget_met=met, reused=reused,
                                  macs=self.net.macs(self.plan), best=stats["best_loss"]))
                done = len(trace) - (stats["repeats"] if distinct else 0)
                if state is not None:
                    self._save_state(state, settings, search, scored, trace)
                if progress:
                    _data.progress("search", done, generations,
                                   f"loss {loss:.3f} best {trace[-1]['best']:.3f}")
            a, b, loss = search.best()
            result = SearchResult(a, b, loss, trace, search.history().tolist())
        finally:
            search.close()
        self.a, self.b = a, b
        return result

    @staticmethod
    def _save_state(path, settings, search, scored, trace):
        body = dict(format=STATE_FORMAT, version=STATE_VERSION, settings=settings,
                    search=base64.b64encode(search.save()).decode(),
                    scored={k: list(v) for k, v in scored.items()}, trace=trace)
        write_atomic(path, json.dumps(body, default=_json_default))

    def _load_state(self, path, settings):
        with open(path) as f:
            body = json.load(f)
        if body.get("format") != STATE_FORMAT or body.get("version") != STATE_VERSION:
            raise ValueError(f"{path}: not a picpq.torch search state")
        if body["settings"] != json.loads(json.dumps(settings)):
            raise ValueError(f"{path}: saved with other settings {body['settings']}")
        search = picpq.Search.load(self.net, base64.b64decode(body["search"]))
        scored = {k: tuple(v) for k, v in body["scored"].items()}
        return search, scored, body["trace"]

    # -- 3. prune --
    def prune(self, a=None, b=None, macs=None, plan=None):
        """The physically pruned copy of the model for (a, b) (default: the
        search's best) at `macs` (default: the compressor's), or for a given
        picpq.Plan over this net (`plan`, e.g. a baseline's); sets
        self.pruned, self.pruned_desc (its description), self.budget_met."""
        if plan is None:
            a = self.a if a is None else a
            b = self.b if b is None else b
            if a is None:
                raise ValueError("prune: no (a, b) given and no search has run")
            self.a, self.b = np.asarray(a, float), np.asarray(b, float)
            self.budget_met = self.plan.compute(self.a, self.b,
                                                self.macs if macs is None else macs)
            plan = self.plan
        else:
            self.budget_met = True
        small = apply_plan(self.model, self.desc, plan)
        if self.memory_format is not None:
            small = small.to(memory_format=self.memory_format)
        self.pruned = small
        if self.pruned_desc is not None:
            self.pruned_desc.close()
        self.pruned_desc = describe(small, self.example_inputs)
        if [l.name for l in self.pruned_desc.layers] != [l.name for l in self.desc.layers]:
            raise RuntimeError("the pruned model's layers differ from the original's")
        return small

    def plans(self, macs_list, a=None, b=None):
        """Several budgets from one (a, b) (default: the search's best):
        [(plan, budget met)] for each fraction in macs_list, from one
        ranking (picpq.compute_multi). The caller closes the plans."""
        a = self.a if a is None else a
        b = self.b if b is None else b
        plans = [self.new_plan() for _ in macs_list]
        met = picpq.compute_multi(plans, a, b, list(macs_list))
        return list(zip(plans, met))

    def finetune(self, data, steps, lr=0.01, batch=128, transform=None, seed=3,
                 label="fine-tune", **train_kw):
        """Default fine-tune of the pruned (or quantized) model: `steps` SGD
        steps (cosine lr, Nesterov) on a Batches stream of `data` seeded with
        seed + `seed`. Returns the last loss."""
        return _data.train(self.pruned, self._stream_for(data, batch, seed, transform), steps,
                           lr, label, memory_format=self.memory_format, **train_kw)

    def _stream_for(self, data, batch, seed, transform):
        if isinstance(data, _data.Batches):
            return data
        return self.stream(data, batch, seed, transform)

    # -- 4. bits --
    def assign_bits(self, max_bits=None, bops=None, tau=None, min_bits=2, fill=None, rule=None):
        """Bits for the pruned model. `bops`: a fraction of the unpruned fp32
        model's BOPs (e.g. 1/32): fit_bits with `rule` and `fill` (defaults:
        the compressor's `bits` and `fill`); without it, bits from sparsity
        (METHOD §7) at `tau` (default 1/6, the reference's). `max_bits`: int
        or per-layer list (default: the compressor's). Returns the bits
        (list); self.bops_met says whether the BOPs target was met (the
        32-bit layers alone can exceed it), self.tau the penalty (None for
        the uniform rule)."""
        if self.budget_met is None:
            raise ValueError("assign_bits: prune first")
        if max_bits is not None:
            self.max_bits = (default_bits(self.desc, max_bits) if np.isscalar(max_bits)
                             else [int(x) for x in max_bits])
        if bops is not None:
            self.bits, self.tau, self.bops_met = fit_bits(
                self.plan, self.max_bits, self.base_cost["bops"] * _bops_fraction(bops),
                self.bit_rule if rule is None else rule, self.fill if fill is None else fill,
                min_bits)
            return self.bits
        if rule == "uniform":
            raise ValueError("assign_bits: the uniform rule needs a bops target")
        self.tau, self.bops_met = (1 / 6 if tau is None else tau), None
        bits = picpq.bits_assign(picpq.sparsity_from_plan(self.plan), self.max_bits, tau=self.tau,
                                 min_bits=min_bits)
        self.bits = [int(x) for x in bits]
        return self.bits

    # -- 5. quantize --
    def quantize(self, weights=True, activations=True, residual_bits=None, data=None):
        """Quantization-aware training modules inserted into the pruned model
        (in place; see quantize_model). Train it afterwards as usual (e.g.
        activations only first, then weights too: METHOD §9.2).
        `residual_bits` (None: the compressor's, 8 unless faithful): the bits
        of the activations after residual additions, the residual stream,
        so that every conv that reads one runs on codes; 0 keeps them
        float32 (METHOD §8 placement). Their ranges are measured
        (residual_ranges) on `data` (input batches; default: the
        calibration images) when the quantizers are first inserted."""
        if self.pruned is None or self.bits is None:
            raise ValueError("quantize: prune and assign_bits first")
        rb = self.residual_bits if residual_bits is None else _residual_bits(residual_bits)
        res = dict(residual=rb > 0, residual_bits=rb or None)
        scales, mods = None, dict(self.pruned.named_modules())
        if rb and activations and any(not isinstance(mods[s.module], (ActQuant, PerUseAct))
                                      for s in self.pruned_desc.acts if s.residual):
            data = self._calib if data is None else _data.input_batches(data)
            if not data:
                raise ValueError("quantize: the residual ranges need data: calibrate first, "
                                 "pass data, or residual_bits=0")
            scales = residual_ranges(self.pruned, self.pruned_desc,
                                     [_data.to_model(x, self.pruned, self.memory_format)
                                      for x in data])
        model = quantize_model(self.pruned, self.pruned_desc, self.bits, weights=weights,
                               activations=activations, residual_scales=scales, **res)
        if activations:
            self.residual = res
        return model

    # -- 6. export --
    def export(self, path, **kw):
        """Write the compressed model to `path`: a path ending in .onnx gets
        ONNX (picpq.torch.export_onnx; keywords mean, std, dequantized), any
        other the self-contained model file the C runtime loads
        (picpq.torch.save_model; keywords mean, std). Returns (layers,
        summary) of picpq.torch.export()."""
        layers, summary = export(self.pruned, self.pruned_desc, self.bits)
        example = _data.to_model(self.example_inputs, self.pruned, self.memory_format)
        write = export_onnx if str(path).endswith(".onnx") else save_model
        write(self.pruned, self.pruned_desc, self.bits, path, example, **kw)
        return layers, summary

    def close(self):
        """Free the plan and the descriptions' nets."""
        self.plan.close()
        if self.pruned_desc is not None:
            self.pruned_desc.close()
        self.desc.close()


def fit_bits(plan, max_bits, max_bops, rule="sparsity", fill=True, min_bits=2):
    """Bits for `plan` within `max_bops` BOPs (paper convention): rule
    "sparsity", the smallest tau whose bits from sparsity fit (METHOD §7,
    picpq.bits_solve); rule "uniform", the largest single bitwidth (capped
    at each layer's B_l) that fits. Then with `fill` the bits are fitted to
    the budget one bit at a time (picpq.bits_fill: over it, unpruned layers
    give bits up too; under it, the rest is spent). Returns (bits as a list,
    tau or None, met)."""
    if rule not in BIT_RULES:
        raise ValueError(f"rule must be one of {BIT_RULES}")
    sparsity = picpq.sparsity_from_plan(plan)
    floor = max(min_bits, 1)
    if rule == "sparsity":
        tau, bits, met = picpq.bits_solve(plan, sparsity, max_bits, max_bops, min_bits)
    else:
        def at(q):
            return [32 if m == 32 else min(q, m) for m in max_bits]
        fits = [q for q in range(floor, 9) if plan.net.bops(plan, at(q), at(q)) <= max_bops]
        tau, bits = None, at(fits[-1] if fits else floor)
        met = bool(fits)
    if fill:
        bits, met = picpq.bits_fill(plan, sparsity, max_bits, bits, max_bops, floor)
    return [int(b) for b in bits], tau, bool(met)


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def compress(model, data, evaluate, macs=0.5, bops=None, example_inputs=None, max_bits=8,
             calib_images=256, batch=128, search_steps=60, population=8, sample=4,
             generations=16, finetune_steps=200, qat_steps=200, lr=0.01, seed=0,
             bn_recal_batches=2, transform=None, state=None, export=None, threads=None,
             progress=True):
    """The whole pipeline in one call: calibrate on `data` (tensors (x, y) or
    a DataLoader), search (a, b) scoring candidates with `evaluate(model)`
    -> loss (lower is better) after `search_steps` SGD steps, prune to
    `macs` of the MACs, fine-tune `finetune_steps`, bits for `bops` (a
    fraction of the fp32 BOPs; None: tau = 1/6), QAT (activations for half
    of `qat_steps`, then weights too), export to `export` when given.
    Returns the Compressor: .pruned is the compressed model, .bits its bits."""
    if example_inputs is None:
        example_inputs = _data.input_batches(data, 1)[0][:1]
    c = Compressor(model, example_inputs, macs=macs, max_bits=max_bits, seed=seed,
                   threads=threads)
    c.calibrate(data, images=calib_images)
    c.search(evaluate, data, steps=search_steps, lr=lr, batch=batch, transform=transform,
             bn_recal_batches=bn_recal_batches, population=population, sample=sample,
             generations=generations, state=state, progress=progress)
    c.prune()
    label = (lambda s: s) if progress else (lambda s: None)
    stream = c.stream(data, batch, 3, transform)
    _data.train(c.pruned, stream, finetune_steps, lr, label("fine-tune"),
                memory_format=c.memory_format)
    c.assign_bits(bops=bops)
    c.quantize(weights=False)
    _data.train(c.pruned, stream, qat_steps // 2, lr, label("QAT activations"),
                memory_format=c.memory_format)
    c.quantize()
    _data.train(c.pruned, stream, qat_steps - qat_steps // 2, lr, label("QAT weights+act"),
                memory_format=c.memory_format)
    if export is not None:
        c.export(export)
    return c


__all__ = ["CHAIN_REDUCE", "Compressor", "FP_SCALES", "SearchResult", "compress",
           "configure_threads", "default_bits", "fit_bits", "BIT_RULES", "DEFAULTS", "FAITHFUL"]
