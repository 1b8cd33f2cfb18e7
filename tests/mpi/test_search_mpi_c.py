"""End-to-end tests of examples/c/search_mpi.c (the MPI master/worker search in C).

Run by `make check-mpi`; skipped when mpirun or build/examples/search_mpi is
missing. Every mpirun is short (a few seconds) and has a timeout. The fitness
of the example is synthetic; these tests check the protocol: every candidate
told exactly once, durable saves, resume, faults.
"""
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "examples", "search_mpi")
MPIRUN = os.environ.get("MPIRUN", "mpirun")

pytestmark = [
    pytest.mark.skipif(shutil.which(MPIRUN) is None, reason=f"{MPIRUN} not found"),
    pytest.mark.skipif(not os.access(BIN, os.X_OK), reason=f"{BIN} not built (make examples-mpi)"),
]

FAST = ["--eval-ms", "5"]


def command(args, np=3, recovery=False):
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe"]
    if recovery:
        cmd.append("--enable-recovery")
    return cmd + ["-np", str(np), BIN] + list(args)


def run(args, cwd, np=3, recovery=False, timeout=60):
    return subprocess.run(command(args, np, recovery), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout)


def told_ids(out):
    return [int(m.group(1)) for m in re.finditer(r"^told (\d+) \S+$", out, re.M)]


def summary(out):
    m = re.search(r"^done: issued (\d+) told (\d+) failed (\d+) best (\S+)$", out, re.M)
    assert m, "no summary line in:\n" + out[-2000:]
    return dict(issued=int(m.group(1)), told=int(m.group(2)), failed=int(m.group(3)),
                best=float(m.group(4)))


def assert_complete(res, G, failed):
    """The run finished: every id 1..G told exactly once, `failed` of them failed."""
    assert res.returncode == 0, res.stderr
    ids = told_ids(res.stdout)
    assert sorted(ids) == list(range(1, G + 1)), ids
    s = summary(res.stdout)
    assert (s["issued"], s["told"], s["failed"]) == (G, G, failed), (s, res.stderr)


def test_smoke(tmp_path):
    t0 = time.time()
    res = run(["--state", "s.state", "--generations", "48"] + FAST, tmp_path)
    assert_complete(res, 48, 0)
    assert summary(res.stdout)["best"] < 1.0
    assert os.path.exists(tmp_path / "s.state") and os.path.exists(tmp_path / "s.state.prev")
    assert not os.path.exists(tmp_path / "s.state.tmp")
    print(f"smoke: {time.time() - t0:.1f} s")


def test_sigkill_master_then_resume(tmp_path):
    G = 300
    log = tmp_path / "run1.out"
    with open(log, "w") as out, open(tmp_path / "run1.err", "w") as err:
        proc = subprocess.Popen(command(["--state", "s.state", "--generations", str(G),
                                         "--eval-ms", "10"]),
                                cwd=tmp_path, stdout=out, stderr=err)
        try:
            deadline = time.time() + 30
            while len(told_ids(log.read_text())) < 30:
                assert proc.poll() is None and time.time() < deadline, "run 1 ended early"
                time.sleep(0.02)
            pid = int(re.search(r"^master pid (\d+)$", log.read_text(), re.M).group(1))
            os.kill(pid, signal.SIGKILL)
            assert proc.wait(timeout=30) != 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    out1 = log.read_text()
    assert "done:" not in out1
    ids1 = told_ids(out1)

    res = run(["--state", "s.state", "--resume", "--eval-ms", "2"], tmp_path)
    assert res.returncode == 0, res.stderr
    m = re.search(
        r"^resumed from s\.state: issued (\d+) told (\d+) failed 0 pending (\d+)$",
        res.stdout, re.M)
    assert m, res.stdout[:500]
    issued, told, pending = (int(g) for g in m.groups())
    redispatched = {int(i) for i in re.findall(r"^redispatch (\d+)$", res.stdout, re.M)}
    told_before = set(range(1, issued + 1)) - redispatched
    assert len(redispatched) == pending and len(told_before) == told
    # Run 1 prints `told` only after the durable save: every printed id is in the
    # state, and at most the last one (killed between save and print) is missing.
    assert len(ids1) == len(set(ids1)) and set(ids1) <= told_before
    assert len(told_before - set(ids1)) <= 1
    # Run 2 tells exactly the rest, each once: nothing told twice across runs.
    ids2 = told_ids(res.stdout)
    assert sorted(ids2) == sorted(set(range(1, G + 1)) - told_before)
    s = summary(res.stdout)
    assert (s["issued"], s["told"], s["failed"]) == (G, G, 0)


def test_faults_nan_dup_unknown_die(tmp_path):
    args = ["--state", "s.state", "--generations", "64", "--eval-timeout", "2",
            "--inject", "nan:1:2", "--inject", "dup:2:3", "--inject", "unknown:1:4",
            "--inject", "die:2:6"]
    res = run(args + FAST, tmp_path, recovery=True)
    assert_complete(res, 64, failed=2)  # the NaN and the candidate of the dead worker
    assert re.search(r"^told \d+ nan$", res.stdout, re.M)
    err = res.stderr
    assert re.search(
        r"rank 1 reported id 10000\d\d, which it was not given: ignored", err)  # unknown
    assert re.search(r"rank 2 reported id \d+ a second time: ignored", err)  # dup
    assert re.search(r"rank 2 gave no result for id \d+ in 2 s: told as failed", err)


def test_hang_then_late_result(tmp_path):
    # Rank 1 reports ~3 s after its 2nd candidate; rank 2 alone needs ~6 s for
    # the rest (40 ms a candidate at most 400 ms), so the late result comes mid-run.
    args = ["--state", "s.state", "--generations", "150", "--eval-ms", "40", "--eval-timeout", "1",
            "--inject", "hang:1:2"]
    res = run(args, tmp_path)
    assert_complete(res, 150, failed=1)
    assert re.search(r"rank 1 gave no result for id \d+ in 1 s", res.stderr)
    assert re.search(r"late result for id \d+ from rank 1 ignored", res.stderr)


def test_no_live_worker_then_resume(tmp_path):
    res = run(["--state", "s.state", "--eval-timeout", "0.5",
              "--inject", "hang:1:3"] + FAST, tmp_path, np=2)
    assert res.returncode == 3, res.stderr
    assert "no live worker left with 3 of 64 candidates told" in res.stderr
    assert sorted(told_ids(res.stdout)) == [1, 2, 3]
    res = run(["--state", "s.state", "--resume"] + FAST, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "resumed from s.state: issued 3 told 3 failed 1 pending 0" in res.stdout
    assert sorted(told_ids(res.stdout)) == list(range(4, 65))
    assert summary(res.stdout)["told"] == 64


def test_workers_leave_when_master_is_gone(tmp_path):
    log = tmp_path / "run.out"
    args = ["--state", "s.state", "--generations", "400", "--eval-ms", "10", "--eval-timeout", "1",
            "--master-timeout", "2"]
    with open(log, "w") as out:
        proc = subprocess.Popen(command(args, recovery=True), cwd=tmp_path, stdout=out,
                                stderr=subprocess.PIPE, universal_newlines=True)
        try:
            deadline = time.time() + 30
            while not told_ids(log.read_text()):
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.02)
            master = re.search(r"^master pid (\d+)$", log.read_text(), re.M)
            os.kill(int(master.group(1)), signal.SIGKILL)
            _, err = proc.communicate(timeout=30)  # without --master-timeout this would hang
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert "no word from the master for 2 s" in err


@pytest.fixture(scope="module")
def finished_state(tmp_path_factory):
    d = tmp_path_factory.mktemp("state")
    res = run(["--state", "good.state", "--generations", "16"] + FAST, d)
    assert res.returncode == 0, res.stderr
    return (d / "good.state").read_bytes()


@pytest.mark.parametrize("damage", ["truncated", "bitflip", "empty"])
def test_damaged_state_refused(tmp_path, finished_state, damage):
    data = bytearray(finished_state)
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "bitflip":
        data[len(data) // 2] ^= 0x10
        (tmp_path / "s.state.prev").write_bytes(finished_state)
    else:
        data = bytearray()
    (tmp_path / "s.state").write_bytes(bytes(data))
    res = run(["--state", "s.state", "--resume"] + FAST, tmp_path, timeout=30)
    assert res.returncode == 2, res.stderr
    assert "cannot resume from s.state: bad format (" in res.stderr
    assert (tmp_path / "s.state").read_bytes() == bytes(data)
    assert not os.path.exists(tmp_path / "s.state.tmp")
    assert ("the previous good state is s.state.prev" in res.stderr) == (damage == "bitflip")
    assert "told" not in res.stdout


def test_existing_state_needs_resume(tmp_path, finished_state):
    (tmp_path / "s.state").write_bytes(finished_state)
    res = run(["--state", "s.state"] + FAST, tmp_path, timeout=30)
    assert res.returncode == 2
    assert "s.state exists: pass --resume to continue it, or remove it to start over" in res.stderr
    assert (tmp_path / "s.state").read_bytes() == finished_state
    res = run(["--state", "missing.state", "--resume"] + FAST, tmp_path, timeout=30)
    assert res.returncode == 2
    assert "cannot resume: missing.state: No such file or directory" in res.stderr
    res = run(["--state", "s.state", "--resume"] + FAST, tmp_path, timeout=30)  # already complete
    assert res.returncode == 0 and told_ids(res.stdout) == []
    assert summary(res.stdout)["told"] == 16
