#!/usr/bin/env python3
"""PIC-PQ's (a, b) search spread over MPI processes: rank 0 owns the
picpq.Search, every other rank evaluates candidates (prune its copy of the
ResNet-20, fine-tune tau_hat steps, validation loss) for the Fashion-MNIST
setup of compress_fmnist.py, and the filter properties come from a sharded
calibration pass merged exactly.

    mpirun -np 3 /usr/bin/python3 examples/python/search_mpi.py --out run1
    mpirun -np 3 /usr/bin/python3 examples/python/search_mpi.py --out run1 --resume

Guarantees (docs/SCALING.md): every told result is saved (write + fsync +
rename) before the worker gets its next candidate; --resume continues from the
last save and re-dispatches the candidates that were out; a worker that dies
(mpirun --enable-recovery), times out, raises or reports a non-finite loss
costs only its candidate; results for ids a worker was not given, or given
twice, are logged and ignored. A candidate that prunes the same filters as
one already scored gets that score without a second evaluation (each
evaluation is deterministic: common random numbers).
"""
import argparse
import io
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compress_fmnist as job  # noqa: E402  (exits with a hint when torch/picpq are missing)
from search_checkpoint import (CheckpointError, lock_checkpoint, read_checkpoint,  # noqa: E402
                               resume_hint, save_checkpoint, write_atomic)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import picpq  # noqa: E402
import picpq.torch as ptq  # noqa: E402
from picpq.torch.models import resnet20  # noqa: E402

TAG_WORK, TAG_STOP, TAG_RESULT = 1, 2, 3
SEARCH_KEYS = ("population", "sample", "generations", "tau_hat")
MPI = None  # mpi4py.MPI, imported by main(): importing it initializes MPI


def import_mpi():
    global MPI
    try:
        from mpi4py import MPI as mpi
    except ImportError:
        sys.exit("search_mpi: mpi4py is missing; install it with `sh scripts/install-deps.sh "
                 "mpi` (Debian packages openmpi-bin, libopenmpi-dev, python3-mpi4py)")
    MPI = mpi
    return MPI


def log(msg):
    sys.stderr.write(f"search_mpi[{MPI.COMM_WORLD.Get_rank()}]: {msg}\n")
    sys.stderr.flush()


# ---- setup common to every rank ------------------------------------------------------------------
def settings_of(args):
    prof = dict(job.PROFILES[args.profile])
    for key in SEARCH_KEYS:
        if getattr(args, key) is not None:
            prof[key] = getattr(args, key)
    prof.update({k: getattr(args, k) for k in job.PLAN_DEFAULTS})
    return dict(profile=args.profile, seed=args.seed, threads=args.threads,
                search={k: prof[k] for k in SEARCH_KEYS}, prof=prof)


def shard(images, rank, size):
    """This rank's contiguous share of the calibration images."""
    n = images.shape[0]
    return images[rank * n // size:(rank + 1) * n // size]


def calibrate(comm, model, desc, train_data, prof, seed, threads):
    """Sharded FP: each rank ranks its share of the calibration images, rank 0
    merges the saved rankers (integer sums: exact) and every rank gets the
    merged filter properties as its net's scores."""
    images = torch.cat(job.calibration_batches(train_data, prof["calib_images"], seed))
    mine = shard(images, comm.Get_rank(), comm.Get_size())
    with picpq.Ranker(net=desc.net) as ranker:
        ranker.set("rank.threads", threads)
        ptq.feed_ranker(ranker, model, desc, mine.split(128), at=prof["fp_at"])
        blobs = comm.gather(ranker.save(), root=0)
    merged = None
    if comm.Get_rank() == 0:
        with picpq.Ranker.load(blobs[0]) as total:
            for blob in blobs[1:]:
                with picpq.Ranker.load(blob) as part:
                    total.merge(part)
            merged = {l.id: total.filter_property(l.id) for l in desc.convs}
    merged = comm.bcast(merged, root=0)
    for layer, fp in merged.items():
        desc.net.set_fp(layer, fp)
    return merged


def setup(comm, cfg, args):
    """Data, the baseline model (rank 0's, trained there if not cached, sent
    to all), its description and the sharded filter properties, on every rank."""
    prof = cfg["prof"]
    train_data, val_data, _ = job.load_fmnist(prof)
    fitness = (val_data[0][:prof["fitness_images"]], val_data[1][:prof["fitness_images"]])
    weights = None
    if comm.Get_rank() == 0:  # from rank 0's cache (or trained there): no shared disk needed
        job_args = argparse.Namespace(seed=cfg["seed"], cache_dir=args.cache_dir)
        weights = job.baseline(job_args, prof, train_data)[0].state_dict()
    model = resnet20().to(memory_format=torch.channels_last)
    model.load_state_dict(comm.bcast(weights, root=0))
    example = train_data[0][:2].contiguous(memory_format=torch.channels_last)
    comp = job.compressor(model, example, prof, cfg["seed"], cfg["threads"])
    fps = calibrate(comm, model, comp.desc, train_data, prof, cfg["seed"], cfg["threads"])
    comp.scale_filter_property()
    return model, comp, train_data, fitness, fps


# ---- worker --------------------------------------------------------------------------------------
FAULTS = ("nan", "dup", "unknown", "die", "hang", "raise")


def fault_spec(text):
    """--inject KIND:RANK:K (a testing aid) as (kind, rank, k)."""
    try:
        kind, rank, k = text.split(":")
        if kind in FAULTS and int(rank) >= 1 and int(k) >= 1:
            return kind, int(rank), int(k)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not KIND:RANK:K with KIND one of "
                                     f"{', '.join(FAULTS)} and RANK, K >= 1")


def wait_for_master(comm, timeout):
    """Poll for the master's next message; None after `timeout` seconds."""
    status = MPI.Status()
    deadline = time.time() + timeout
    while not comm.Iprobe(source=0, tag=MPI.ANY_TAG, status=status):
        if time.time() > deadline:
            return None
        time.sleep(0.005)
    return comm.recv(source=0, tag=status.Get_tag()), status.Get_tag()


def worker(comm, cfg, args, comp, train_data, fitness):
    settings = job.fitness_settings(cfg["prof"], train_data, fitness)
    faults = {k: kind for kind, rank, k in args.inject if rank == comm.Get_rank()}
    count = 0
    while True:
        got = wait_for_master(comm, args.master_timeout)
        if got is None:
            log(f"no word from rank 0 for {args.master_timeout:.0f} s: it is gone, exiting")
            return 1
        msg, tag = got
        if tag == TAG_STOP:
            return 0
        cid, a, b = msg
        count += 1
        fault = faults.get(count)
        if fault == "die":
            os._exit(9)
        start = time.time()
        try:
            if fault == "raise":
                raise RuntimeError("injected evaluation error")
            loss, _, _ = comp.score(a, b, **settings, macs=cfg["prof"]["keep_fraction"])
        except Exception as exc:  # the candidate fails, the worker carries on
            log(f"candidate {cid} failed: {exc}")
            loss = math.nan
        if fault == "hang":
            time.sleep(args.eval_timeout + 1)
        if fault == "nan":
            loss = math.nan
        if fault == "unknown":
            comm.send((cid + 1_000_000, 0.5, 0.0), dest=0, tag=TAG_RESULT)
        report = (cid, loss, time.time() - start)
        comm.send(report, dest=0, tag=TAG_RESULT)
        if fault == "dup":
            comm.send(report, dest=0, tag=TAG_RESULT)


# ---- master --------------------------------------------------------------------------------------
class Master:
    """Rank 0: hands out candidates, tells results, saves after each tell."""

    def __init__(self, comm, args, cfg, search, told, desc):
        self.comm, self.args, self.cfg = comm, args, cfg
        self.search, self.told = search, told
        self.desc, self.plan = desc, job.new_plan(desc.net, cfg["prof"])
        # pruned network -> loss: with common random numbers an evaluation depends
        # on the pruned network alone, so a candidate pruning the same filters as
        # one already scored gets that loss (exact, not an estimate)
        self.scored = {t["plan"]: t["loss"] for t in told
                       if t.get("plan") and t["loss"] is not None}
        self.queue = [search.pending(i) for i in range(search.num_pending)]  # re-dispatched first
        self.exhausted = False
        self.idle = list(range(1, comm.Get_size()))
        self.busy = {}       # worker -> (id, sent at, plan digest)
        self.lost = set()    # workers that timed out
        self.busy_seconds = {w: 0.0 for w in self.idle}
        if self.queue:
            log(f"re-dispatching {len(self.queue)} pending candidate(s): "
                f"{[c[0] for c in self.queue]}")

    def next_candidate(self):
        if self.queue:
            return self.queue.pop(0)
        if not self.exhausted:
            cand = self.search.ask()
            self.exhausted = cand is None
            return cand
        return None

    def plan_digest(self, a, b):
        """The pruned network of (a, b) as a digest; None when no plan meets
        the budget (the workers would report +inf)."""
        if not self.plan.compute(a, b, self.cfg["prof"]["keep_fraction"]):
            return None
        return str(self.plan.key())

    def dispatch(self):
        while self.idle:
            cand = self.next_candidate()
            if cand is None:
                return
            key = self.plan_digest(cand[1], cand[2])
            if key is None:
                self.commit(cand[0], math.inf, 0, 0.0, note="budget unmet")
            elif key in self.scored and not self.args.no_reuse:
                self.commit(cand[0], self.scored[key], 0, 0.0, note="reused", plan=key)
            else:
                w = self.idle.pop(0)
                self.comm.send(cand, dest=w, tag=TAG_WORK)
                self.busy[w] = (cand[0], time.time(), key)

    def commit(self, cid, loss, worker, seconds, note=None, plan=None):
        """Tell, then make it durable; only then may the worker get more work.
        Rank 0 as `worker` means rank 0 decided the loss itself."""
        self.search.tell(cid, loss)
        entry = dict(id=cid, loss=loss if math.isfinite(loss) else None, rank=worker,
                     seconds=round(seconds, 3))
        for key, value in (("note", note), ("plan", plan)):
            if value:
                entry[key] = value
        self.told.append(entry)
        save_checkpoint(self.args.state, self.cfg, self.search, self.told)
        print(f"told {cid} {loss:.6g} rank {worker}" + (f" ({note})" if note else ""), flush=True)

    def receive(self, worker, report):
        try:
            cid, loss, seconds = report
            cid, loss, seconds = int(cid), float(loss), float(seconds)
        except (TypeError, ValueError):
            log(f"rank {worker} sent a malformed report {report!r}: ignored")
            return
        if worker in self.lost:  # it came back: its candidate was already told as failed
            self.lost.discard(worker)
            self.idle.append(worker)
            log(f"rank {worker} is back; its late result for id {cid} is ignored")
            return
        if worker not in self.busy or self.busy[worker][0] != cid:
            log(f"rank {worker} reported id {cid}, which it was not given or which was "
                "already told: ignored")
            return
        key = self.busy.pop(worker)[2]
        self.busy_seconds[worker] += seconds
        if not math.isfinite(loss):
            log(f"rank {worker}: non-finite loss for id {cid}: a failed evaluation")
        try:
            self.commit(cid, loss, worker, seconds, plan=key)
        except picpq.PicpqError as exc:
            log(f"tell({cid}) refused: {exc}: ignored")
        if math.isfinite(loss):
            self.scored[key] = loss
        self.idle.append(worker)

    def expire(self):
        """Candidates out for longer than --eval-timeout are failed evaluations.
        Returns whether any expired."""
        now = time.time()
        late = [(w, cid, sent) for w, (cid, sent, _) in self.busy.items()
                if now - sent > self.args.eval_timeout]
        for w, cid, sent in late:
            del self.busy[w]
            self.lost.add(w)
            log(f"rank {w} did not report id {cid} within {self.args.eval_timeout:g} s: "
                "told as a failed evaluation; it gets no more work unless it reports back")
            self.commit(cid, math.nan, w, now - sent, note="timeout")
        return bool(late)

    def run(self):
        """Serve the workers until every candidate is told (0), or until no
        worker is left and none came back within --eval-timeout (3)."""
        status = MPI.Status()
        start = last_event = time.time()
        while True:
            self.dispatch()
            if not self.busy and self.exhausted and not self.queue:
                break
            if self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_RESULT, status=status):
                w = status.Get_source()
                self.receive(w, self.comm.recv(source=w, tag=TAG_RESULT))
                last_event = time.time()
                continue
            if self.expire():
                last_event = time.time()
            if (not self.busy and not self.idle
                    and time.time() - last_event > self.args.eval_timeout):
                log("no worker is left; every told result is saved: run again with --resume")
                return 3
            time.sleep(0.002)
        for w in range(1, self.comm.Get_size()):
            if w not in self.lost:  # a lost rank may be dead: never message it
                self.comm.send(None, dest=w, tag=TAG_STOP)
        self.wall = time.time() - start
        return 0

    def report(self, desc):
        a, b, loss = self.search.best()
        stats = self.search.stats()
        workers = self.comm.Get_size() - 1
        util = sum(self.busy_seconds.values()) / max(self.wall * workers, 1e-9)
        summary = dict(stats=stats, best_loss=loss, a=a.tolist(), b=b.tolist(),
                       wall_seconds=self.wall, workers=workers, utilization=util,
                       settings=self.cfg, told=self.told)
        out = os.path.dirname(os.path.abspath(self.args.state))
        write_atomic(os.path.join(out, "search_results.json"),
                     json.dumps(job.strict_json(summary), indent=1, allow_nan=False))
        write_atomic(os.path.join(out, "best.lub"), desc.net.lub_write(a, b))
        print(f"done: issued {stats['issued']} told {stats['told']} failed {stats['failed']} "
              f"best {loss:.6g}; {workers} workers, utilization {100 * util:.0f}% "
              f"(this session {self.wall:.1f} s)", flush=True)


def open_search(args, cfg, net):
    """A new search, or the checkpoint's when resuming: (search, told)."""
    if args.resume:
        _, blob, told = read_checkpoint(args.state)
        return picpq.Search.load(net, blob), told
    s = cfg["search"]
    search = picpq.Search(net, cfg["seed"], population=s["population"], sample=s["sample"],
                          generations=s["generations"])
    return search, []


def check_state_path(args):
    """Rank 0, before any work: None if we may go on, else the refusal."""
    if not args.resume:
        if os.path.exists(args.state):
            return (f"{args.state} exists: pass --resume to continue that search, or remove "
                    "it to start over")
        return None
    try:  # the digest covers the search bytes too; picpq_search_load re-checks them
        saved, _, _ = read_checkpoint(args.state)
    except CheckpointError as exc:
        return (f"cannot resume from {args.state}: {exc}; the file is left as it is"
                + resume_hint(args.state))
    wanted = settings_of(args)
    saved = dict(saved, **{k: saved["prof"].get(k, v) for k, v in job.PLAN_DEFAULTS.items()})
    wanted.update({k: wanted["prof"][k] for k in job.PLAN_DEFAULTS})
    for key in ("profile", "seed", *job.PLAN_DEFAULTS):
        if args.explicit[key] and saved[key] != wanted[key]:
            option = key.replace("_", "-")
            return (f"{args.state} was made with --{option} {saved[key]}, not {wanted[key]}; "
                    "drop the option to continue it")
    return None


# ---- main ----------------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", choices=sorted(job.PROFILES), default="quick",
                   help="data, model and search sizes of compress_fmnist.py (default quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results-mpi", help="directory of the checkpoint and "
                   "results (default results-mpi/)")
    p.add_argument("--state", default=None, help="checkpoint file (default OUT/search.ckpt)")
    p.add_argument("--resume", action="store_true", help="continue the search in --state")
    for key in SEARCH_KEYS:
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None,
                       help=f"override the profile's {key}")
    p.add_argument("--chain-reduce", choices=sorted(job.CHAIN_REDUCE),
                   default=job.PLAN_DEFAULTS["chain_reduce"],
                   help="score of coupled layers, as compress_fmnist.py (default sum)")
    p.add_argument("--fp-scale", choices=job.FP_SCALES, default=job.PLAN_DEFAULTS["fp_scale"],
                   help="filter property scaling, as compress_fmnist.py")
    p.add_argument("--fp-at", choices=ptq.FP_AT, default=job.PLAN_DEFAULTS["fp_at"],
                   help="where the filter property is measured, as compress_fmnist.py")
    p.add_argument("--no-reuse", action="store_true",
                   help="evaluate every candidate, even one that prunes the same filters "
                   "as a candidate already scored")
    p.add_argument("--threads", type=int, default=1, help="torch threads per rank (default 1)")
    p.add_argument("--eval-timeout", type=float, default=3600.0,
                   help="seconds after which an unreported candidate is a failed evaluation")
    p.add_argument("--master-timeout", type=float, default=7200.0,
                   help="seconds a worker waits for rank 0 before it gives up")
    p.add_argument("--cache-dir", default=None, help="baseline checkpoints (as compress_fmnist)")
    p.add_argument("--calibrate-only", action="store_true",
                   help="stop after the sharded calibration, writing OUT/fp.npz")
    p.add_argument("--inject", action="append", default=[], metavar="KIND:RANK:K",
                   type=fault_spec,
                   help="testing aid: worker RANK's K-th evaluation does KIND "
                   "(nan, dup, unknown, die, hang, raise)")
    args = p.parse_args(argv)
    args.explicit = {k: any(a.startswith("--" + k.replace("_", "-"))
                            for a in (argv or sys.argv[1:]))
                     for k in ("profile", "seed", *job.PLAN_DEFAULTS)}
    args.state = args.state or os.path.join(args.out, "search.ckpt")
    return args


def main(argv=None):
    args = parse_args(argv)
    comm = import_mpi().COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    refusal = None
    if rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(args.state)), exist_ok=True)
        if not args.calibrate_only:
            try:
                args.lock = lock_checkpoint(args.state)
                refusal = check_state_path(args)
            except CheckpointError as exc:
                refusal = f"{args.state}: {exc}"
        if refusal is None and size < 2 and not args.calibrate_only:
            refusal = "needs at least 2 MPI processes (rank 0 searches, the others evaluate)"
    refusal = comm.bcast(refusal, root=0)
    if refusal:
        if rank == 0:
            log(refusal)
        return 2

    cfg = settings_of(args)
    if args.resume:  # the saved settings rule (rank 0 checked the file above)
        cfg = comm.bcast(read_checkpoint(args.state)[0] if rank == 0 else None, root=0)
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    model, comp, train_data, fitness, fps = setup(comm, cfg, args)
    desc = comp.desc
    if args.calibrate_only:
        if rank == 0:
            buf = io.BytesIO()
            np.savez(buf, **{str(k): v for k, v in fps.items()})
            write_atomic(os.path.join(args.out, "fp.npz"), buf.getvalue())
            print(f"calibration: {len(fps)} convs from {size} shards", flush=True)
        return 0
    if rank != 0:
        return worker(comm, cfg, args, comp, train_data, fitness)

    search, told = open_search(args, cfg, desc.net)
    if not args.resume:
        save_checkpoint(args.state, cfg, search, told)
    with open(args.state + ".pid", "w") as f:
        f.write(f"{os.getpid()}\n")
    print(f"master pid {os.getpid()}: {size - 1} workers, {len(told)} told so far", flush=True)
    master = Master(comm, args, cfg, search, told, desc)
    code = master.run()
    if code == 0:
        master.report(desc)
    if code != 0 or master.lost:
        # a lost rank may be dead (MPI_Finalize could wait for it forever) or
        # still busy: everything is saved, so end the whole job now
        log(f"ending the job: rank(s) {sorted(master.lost)} never reported back" if code == 0
            else "ending the job")
        sys.stdout.flush()
        comm.Abort(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
