"""Crash safety of the examples' writers: a writer killed with SIGKILL at a
random point leaves the old complete file or the new complete one, never a
torn or missing file (examples/python/search_checkpoint.py write_atomic, used
by save_checkpoint, compress_fmnist.py and search_mpi.py)."""
import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import picpq

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                        "python")
sys.path.insert(0, EXAMPLES)

from search_checkpoint import read_checkpoint, save_checkpoint, write_atomic  # noqa: E402

# A writer that saves generation after generation of a large file forever. Each
# generation's blob is 4 MiB of a byte that names the generation, so a reader
# can tell which one it sees and whether it is whole.
WRITER = textwrap.dedent("""
    import os
    import sys
    sys.path[:0] = sys.argv[1].split(os.pathsep)  # the examples, and picpq as this test sees it
    from search_checkpoint import save_checkpoint, write_atomic

    class Blob:
        def __init__(self, g):
            self.g = g

        def save(self):
            return bytes([self.g % 251]) * (4 << 20)

    g = int(sys.argv[4])
    while True:
        g += 1
        if sys.argv[2] == "checkpoint":
            save_checkpoint(sys.argv[3], dict(generation=g), Blob(g), [g])
        else:
            write_atomic(sys.argv[3], bytes([g % 251]) * (4 << 20) + b"generation %d" % g)
        print(g, flush=True)
""")


class _Blob:
    def __init__(self, g):
        self.g = g

    def save(self):
        return bytes([self.g % 251]) * (4 << 20)


def _check_plain(path):
    data = open(path, "rb").read()
    body, tail = data[:4 << 20], data[4 << 20:]
    g = int(tail.split()[1])
    assert tail == b"generation %d" % g
    assert body == bytes([g % 251]) * (4 << 20), "torn file"
    return g


def _check_checkpoint(path):
    settings, blob, told = read_checkpoint(path)  # raises on a torn or corrupt file
    g = settings["generation"]
    assert told == [g]
    assert blob == bytes([g % 251]) * (4 << 20)
    return g


@pytest.mark.parametrize("kind", ["plain", "checkpoint"])
def test_sigkill_mid_save_leaves_a_complete_file(tmp_path, kind):
    path = str(tmp_path / "state")
    check = _check_plain if kind == "plain" else _check_checkpoint
    # generation 0 exists before the first writer starts
    if kind == "plain":
        write_atomic(path, bytes([0]) * (4 << 20) + b"generation 0")
    else:
        save_checkpoint(path, dict(generation=0), _Blob(0), [0])
    rng = random.Random(20240607)
    last = 0
    for _ in range(12):
        paths = os.pathsep.join([EXAMPLES, os.path.dirname(os.path.dirname(picpq.__file__))])
        proc = subprocess.Popen([sys.executable, "-c", WRITER, paths, kind, path, str(last)],
                                stdout=subprocess.PIPE)
        time.sleep(rng.uniform(0.05, 0.6))  # somewhere inside some save
        proc.send_signal(signal.SIGKILL)
        out = proc.communicate()[0].split()
        done = int(out[-1]) if out else last
        g = check(path)
        # the file is the last save that finished, or the one being written
        # when the kill came (its rename may have landed just before)
        assert g in (done, done + 1), (g, done)
        last = g
        if kind == "checkpoint" and os.path.exists(path + ".prev"):
            check(path + ".prev")  # the kept previous checkpoint is whole too
    assert last > 0, "no save ever finished: the kill points never passed a rename"


def test_write_atomic_replaces_and_cleans_up(tmp_path):
    path = str(tmp_path / "x.json")
    write_atomic(path, "first")
    write_atomic(path, b"second")
    assert open(path, "rb").read() == b"second"
    assert not os.path.exists(path + ".tmp")
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == hashlib.sha256(
        b"second").hexdigest()
