"""The durable checkpoint of a search driven from Python (search_mpi.py's
rank 0): settings, every told result and the picpq search state, written
atomically after each tell and checked on load.

File: one JSON object {format, version, settings, told, search (base64 of
picpq_search_save), sha256 (of the rest, keys sorted)}; docs/SCALING.md.
"""
import base64
import fcntl
import hashlib
import json
import os

from picpq import write_atomic  # noqa: F401  (the examples import it from here too)

FORMAT, VERSION = "picpq-search-mpi", 1


class CheckpointError(Exception):
    """A checkpoint that cannot be resumed from."""


def _digest(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_checkpoint(path, settings, search, told):
    """Write the checkpoint atomically (write_atomic), the old one kept as PATH.prev."""
    body = dict(format=FORMAT, version=VERSION, settings=settings, told=told,
                search=base64.b64encode(search.save()).decode("ascii"))
    body["sha256"] = _digest(body)
    write_atomic(path, json.dumps(body), keep_prev=True)


def read_checkpoint(path):
    """(settings, search blob, told list) of a checkpoint; CheckpointError if it is
    missing, truncated or corrupt. Never modifies the file."""
    try:
        with open(path, "rb") as f:
            body = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError("no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"not a complete checkpoint (truncated or corrupt: {exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CheckpointError(f"not a {FORMAT} checkpoint")
    if body.get("version") != VERSION:
        raise CheckpointError(f"checkpoint version {body.get('version')} "
                              f"(this program reads {VERSION})")
    digest = body.pop("sha256", None)
    if digest != _digest(body):
        raise CheckpointError("checksum mismatch (the file was modified or damaged)")
    return body["settings"], base64.b64decode(body["search"]), body["told"]


def resume_hint(path):
    prev = path + ".prev"
    try:
        read_checkpoint(prev)
        return f"; the previous good state is {prev}: `cp {prev} {path}` and resume again"
    except CheckpointError:
        return ""


def lock_checkpoint(path):
    """Hold PATH.lock exclusively for this process's lifetime (the kernel drops
    it when the process ends, SIGKILL included), so that two masters never
    write one checkpoint. Returns the open lock file; CheckpointError if
    another process holds it."""
    f = open(path + ".lock", "a+")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise CheckpointError(f"in use by another search (pid {holder}); wait for it to end "
                              "or stop it first") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f
