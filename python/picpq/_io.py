"""Durable file writes: the one atomic writer of the package and the examples."""
import os


def write_atomic(path, data, keep_prev=False):
    """Replace PATH with DATA (bytes or str) so that a crash at any point leaves
    either the old complete file or the new one: PATH.tmp written and fsynced,
    renamed over PATH, the directory fsynced so that the rename is durable.
    With keep_prev the old PATH is also kept as PATH.prev (hard-linked first,
    so that PATH itself never goes missing). Every file the examples write
    goes through here (and picpq.torch's saves)."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    if keep_prev and os.path.exists(path):
        if os.path.exists(path + ".prev.tmp"):
            os.unlink(path + ".prev.tmp")
        os.link(path, path + ".prev.tmp")
        os.replace(path + ".prev.tmp", path + ".prev")
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
