"""examples/python/search_mpi.py under mpirun: a smoke search, a run killed
with SIGKILL to rank 0 and resumed, injected worker faults, refused
checkpoints, and the sharded calibration against a single-process pass."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mpi4py")
MPIRUN = shutil.which(os.environ.get("MPIRUN", "mpirun"))
if MPIRUN is None:
    pytest.skip("mpirun is not installed (scripts/install-deps.sh mpi)", allow_module_level=True)
DATA = os.environ.get("PICPQ_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
    pytest.skip("Fashion-MNIST is not installed", allow_module_level=True)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SCRIPT = os.path.join(ROOT, "examples", "python", "search_mpi.py")
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "examples", "python")]
import search_checkpoint  # noqa: E402  (needs picpq: its atomic writer)


def command(tmp_path, *extra, np=3, recovery=False):
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", str(np)]
    if recovery:
        cmd.append("--enable-recovery")
    return cmd + [sys.executable, SCRIPT, "--profile", "smoke", "--out", str(tmp_path / "run"),
                  "--cache-dir", str(tmp_path.parent / "baseline-cache"),
                  "--master-timeout", "60", *extra]


def run(tmp_path, *extra, np=3, recovery=False, timeout=240):
    return subprocess.run(command(tmp_path, *extra, np=np, recovery=recovery),
                          capture_output=True, text=True, timeout=timeout)


def told_lines(stdout):
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("told ")]


def checkpoint(tmp_path):
    return search_checkpoint.read_checkpoint(str(tmp_path / "run" / "search.ckpt"))


def test_smoke_search_completes(tmp_path):
    r = run(tmp_path, "--generations", "6")
    assert r.returncode == 0, r.stderr
    assert sorted(told_lines(r.stdout)) == list(range(1, 7))
    assert "done: issued 6 told 6 failed 0" in r.stdout
    _, _, told = checkpoint(tmp_path)
    assert sorted(t["id"] for t in told) == list(range(1, 7))
    results = json.loads((tmp_path / "run" / "search_results.json").read_text())
    assert results["stats"]["told"] == 6 and results["workers"] == 2
    assert results["best_loss"] == min(t["loss"] for t in told)
    assert (tmp_path / "run" / "best.lub").read_text().strip()


def test_a_network_already_scored_is_not_evaluated_again(tmp_path):
    r = run(tmp_path, "--generations", "16")
    assert r.returncode == 0, r.stderr
    told = checkpoint(tmp_path)[2]
    assert sorted(t["id"] for t in told) == list(range(1, 17))
    first = {}
    for t in told:
        if t.get("note") == "reused":
            assert t["rank"] == 0 and t["loss"] == first[t["plan"]]
        elif t.get("note") != "budget unmet":
            assert t["rank"] in (1, 2)
            first.setdefault(t["plan"], t["loss"])
    assert any(t.get("note") == "reused" for t in told)  # the smoke search repeats itself
    assert r.stdout.count("(reused)") == sum(t.get("note") == "reused" for t in told)


def test_killed_master_resumes_and_tells_each_evaluation_once(tmp_path):
    gens = 14
    proc = subprocess.Popen(command(tmp_path, "--generations", str(gens), "--tau-hat", "6",
                                    "--no-reuse"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt, pidfile = tmp_path / "run" / "search.ckpt", tmp_path / "run" / "search.ckpt.pid"
    deadline = time.time() + 200
    told_before = []
    while time.time() < deadline and proc.poll() is None:
        if pidfile.exists() and ckpt.exists():
            try:
                told_before = search_checkpoint.read_checkpoint(str(ckpt))[2]
            except search_checkpoint.CheckpointError:
                told_before = []  # not possible with rename, but never mind a race here
            if len(told_before) >= 4:
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
                break
        time.sleep(0.05)
    out, err = proc.communicate(timeout=120)
    assert len(told_before) >= 4, (out, err)
    acked = told_lines(out)
    saved = [t["id"] for t in checkpoint(tmp_path)[2]]
    assert len(saved) < gens, "the run was not killed mid-way"
    assert set(acked) <= set(saved)  # every acknowledged result survived the kill

    r = run(tmp_path, "--resume")
    assert r.returncode == 0, r.stderr
    _, _, told = checkpoint(tmp_path)
    ids = [t["id"] for t in told]
    assert sorted(ids) == list(range(1, gens + 1))  # each evaluation told exactly once
    assert ids[:len(saved)] == saved  # nothing told before the kill was lost or redone
    assert f"done: issued {gens} told {gens} failed 0" in r.stdout
    assert set(told_lines(r.stdout)) == set(range(1, gens + 1)) - set(saved)


def test_a_second_master_on_the_same_checkpoint_is_refused(tmp_path):
    first = subprocess.Popen(command(tmp_path, "--generations", "40", "--tau-hat", "6",
                                     "--no-reuse"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pidfile = tmp_path / "run" / "search.ckpt.pid"
    deadline = time.time() + 200
    while not pidfile.exists() and time.time() < deadline and first.poll() is None:
        time.sleep(0.05)
    try:
        second = run(tmp_path, "--resume", np=2)
        assert second.returncode != 0
        assert f"in use by another search (pid {pidfile.read_text().strip()})" in second.stderr
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        first.communicate(timeout=120)
    r = run(tmp_path, "--resume")  # the lock died with its holder
    assert r.returncode == 0 and "done: issued 40 told 40" in r.stdout, r.stderr


def test_worker_faults_cost_only_their_candidates(tmp_path):
    r = run(tmp_path, "--generations", "10", "--eval-timeout", "30", "--no-reuse",
            "--inject", "nan:1:1", "--inject", "dup:2:1", "--inject", "unknown:2:2",
            "--inject", "raise:1:2", "--inject", "die:1:3", recovery=True)
    assert "done: issued 10 told 10 failed 3" in r.stdout, r.stderr
    assert "non-finite loss" in r.stderr
    assert "which it was not given or which was already told: ignored" in r.stderr
    assert "reported id 100000" in r.stderr  # the unknown id
    assert "did not report id" in r.stderr  # the dead worker, noticed by its timeout
    told = checkpoint(tmp_path)[2]
    assert sorted(t["id"] for t in told) == list(range(1, 11))
    assert sum(t["loss"] is None for t in told) == 3


def test_workers_that_time_out_and_come_back_get_new_work(tmp_path):
    # both workers stall (sleep past the timeout) early on; the master waits
    # one more timeout for either to come back, then hands them the rest
    r = run(tmp_path, "--generations", "8", "--eval-timeout", "4", "--no-reuse",
            "--inject", "hang:2:1", "--inject", "hang:1:2", recovery=True)
    assert r.returncode == 0, r.stderr
    for rank in (1, 2):
        assert f"rank {rank} did not report" in r.stderr and f"rank {rank} is back" in r.stderr
    told = checkpoint(tmp_path)[2]
    assert sorted(t["id"] for t in told) == list(range(1, 9))
    timed_out = sorted(t["rank"] for t in told if t.get("note") == "timeout")
    assert timed_out == [1, 2]
    assert "done: issued 8 told 8 failed 2" in r.stdout


def test_damaged_checkpoints_are_refused_and_kept(tmp_path):
    r = run(tmp_path, "--generations", "3", np=2)
    assert r.returncode == 0, r.stderr
    ckpt = tmp_path / "run" / "search.ckpt"
    good = ckpt.read_bytes()

    r = run(tmp_path, "--generations", "3", np=2)  # no --resume: never clobber
    assert r.returncode != 0 and "pass --resume" in r.stderr

    flipped = bytearray(good)
    flipped[good.index(b'"search": "') + 100] ^= 0x01  # inside the search state
    for bad, why in ((good[:len(good) // 2], "truncated"), (bytes(flipped), "checksum")):
        ckpt.write_bytes(bad)
        r = run(tmp_path, "--resume", np=2)
        assert r.returncode != 0
        assert f"cannot resume from {ckpt}" in r.stderr and why in r.stderr
        assert "search.ckpt.prev" in r.stderr  # the previous good state is offered
        assert ckpt.read_bytes() == bad  # left as it was

    ckpt.write_bytes(good)
    r = run(tmp_path, "--resume", "--seed", "5", np=2)
    assert r.returncode != 0 and "was made with --seed 0" in r.stderr
    r = run(tmp_path, "--resume", "--chain-reduce", "mean", np=2)
    assert r.returncode != 0 and "was made with --chain-reduce sum, not mean" in r.stderr
    r = run(tmp_path, "--resume", "--fp-scale", "raw", np=2)
    assert r.returncode != 0 and "was made with --fp-scale minmax, not raw" in r.stderr
    r = run(tmp_path, "--resume", "--fp-at", "conv", np=2)
    assert r.returncode != 0 and "was made with --fp-at act, not conv" in r.stderr
    assert ckpt.read_bytes() == good


def test_sharded_calibration_equals_one_pass_bit_for_bit(tmp_path):
    import argparse

    import numpy as np
    import compress_fmnist as job
    import picpq.torch as ptq

    r = run(tmp_path, "--calibrate-only")
    assert r.returncode == 0, r.stderr
    assert "from 3 shards" in r.stdout
    sharded = np.load(tmp_path / "run" / "fp.npz")

    prof = job.PROFILES["smoke"]
    train_data, _, _ = job.load_fmnist(prof)
    model, _, cached = job.baseline(argparse.Namespace(seed=0, cache_dir=str(
        tmp_path.parent / "baseline-cache")), prof, train_data)
    assert cached
    desc = ptq.describe(model, train_data[0][:2].contiguous(memory_format=torch.channels_last))
    one_pass = ptq.rank_filters(model, desc, job.calibration_batches(
        train_data, prof["calib_images"], 0), at=job.PLAN_DEFAULTS["fp_at"])
    assert sorted(sharded.files, key=int) == [str(k) for k in sorted(one_pass)]
    for layer, fp in one_pass.items():
        assert np.array_equal(sharded[str(layer)], fp)  # bit for bit
