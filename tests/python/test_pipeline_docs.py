"""docs/PYTHON.md documents every public name of picpq and picpq.torch and
the fields of Description. Below its hand-written head (up to "## picpq") it
is generated from the docstrings:

    PICPQ_LIBRARY=$PWD/lib/libpicpq.so PYTHONPATH=python \\
        /usr/bin/python3 tests/python/test_pipeline_docs.py > docs/PYTHON.md
"""
import dataclasses
import inspect
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

MARK = "\n## picpq\n"


def _header():
    """The hand-written part of docs/PYTHON.md: everything before MARK."""
    with open(os.path.join(ROOT, "docs", "PYTHON.md")) as f:
        text = f.read()
    return text[:text.index(MARK)] if MARK in text else "# Python API reference\n"


def _sig(obj):
    """The signature, with function defaults by name (a repr holds an address)."""
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r"<function (\w+) at 0x[0-9a-f]+>", r"\1", sig)


def _field_comments(cls):
    """{field: its trailing comment} from the dataclass's source."""
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", src, re.M)
    return {name: note.strip() for name, note in found}


def _entries(mod, names, prefix):
    out = []
    for name in sorted(names, key=str.lower):
        obj = getattr(mod, name)
        if inspect.ismodule(obj):
            out.append(f"### `{prefix}.{name}` (module)\n\n{inspect.getdoc(obj) or ''}\n")
            continue
        doc = inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            shown = "" if issubclass(obj, BaseException) else _sig(obj)
            out.append(f"### `{prefix}.{name}{shown}`\n\n{doc}\n")
            if dataclasses.is_dataclass(obj):
                notes = _field_comments(obj)
                out.append("Fields:\n")
                for f in dataclasses.fields(obj):
                    note = notes.get(f.name, "")
                    out.append(f"- `{f.name}`" + (f": {note}" if note else ""))
                out.append("")
            items = []
            for n, m in vars(obj).items():
                if n.startswith("_"):
                    continue
                if isinstance(m, property):
                    d = " ".join((inspect.getdoc(m) or "").split())
                    items.append(f"- `.{n}` (property): {d}")
                elif inspect.isfunction(m) or isinstance(m, (classmethod, staticmethod)):
                    f = m.__func__ if isinstance(m, (classmethod, staticmethod)) else m
                    d = " ".join((inspect.getdoc(f) or "").split())
                    items.append(f"- `.{n}{_sig(f)}`: {d}")
            if items:
                out += items + [""]
        elif callable(obj):
            out.append(f"### `{prefix}.{name}{_sig(obj)}`\n\n{doc}\n")
        else:
            out.append(f"### `{prefix}.{name}`\n\nConstant: `{obj!r}`.\n")
    return out


def generate():
    import picpq
    import picpq.torch as ptq
    lines = [_header(), "## picpq\n"]
    lines += _entries(picpq, picpq.__all__ + ["version", "status_string", "param_range"],
                      "picpq")
    lines += ["## picpq.torch\n"]
    lines += _entries(ptq, ptq.__all__, "picpq.torch")
    return "\n".join(lines)


def test_every_public_name_is_documented():
    import pytest
    pytest.importorskip("torch")
    import picpq
    import picpq.torch as ptq
    with open(os.path.join(ROOT, "docs", "PYTHON.md")) as f:
        text = f.read()
    missing = [f"picpq.{n}" for n in picpq.__all__ if f"`picpq.{n}" not in text]
    missing += [f"picpq.torch.{n}" for n in ptq.__all__ if f"`picpq.torch.{n}" not in text]
    assert not missing, f"not in docs/PYTHON.md (regenerate it): {missing}"
    for field in dataclasses.fields(ptq.Description):
        assert f"`{field.name}`" in text


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.stdout.write(generate())
