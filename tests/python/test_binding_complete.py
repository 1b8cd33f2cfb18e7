"""The binding declares every function the library exports, with the
signature table as the single place where C prototypes are written."""
import os
import re

from picpq import _native

MAP = os.path.join(os.path.dirname(__file__), "..", "..", "src", "libpicpq.map")


def exported_names():
    with open(MAP) as f:
        return set(re.findall(r"^\s*(picpq_[a-z0-9_]+);", f.read(), re.M))


def test_every_exported_function_has_a_signature():
    missing = exported_names() - set(_native._SIGNATURES)
    assert not missing, f"not declared in _native._SIGNATURES: {sorted(missing)}"


def test_no_signature_for_a_function_that_does_not_exist():
    extra = set(_native._SIGNATURES) - exported_names()
    assert not extra, f"declared but not exported: {sorted(extra)}"


def test_every_public_call_says_what_it_does():
    import inspect
    import picpq
    missing = []
    for cls in (picpq.Net, picpq.Plan, picpq.Search, picpq.Ranker, picpq.Tensor):
        for name, member in inspect.getmembers(cls):
            target = member.fget if isinstance(member, property) else member
            if not name.startswith("_") and callable(target) and not target.__doc__:
                missing.append(f"{cls.__name__}.{name}")
    for name in picpq.__all__ if hasattr(picpq, "__all__") else dir(picpq):
        obj = getattr(picpq, name)
        if not name.startswith("_") and inspect.isfunction(obj) and not obj.__doc__:
            missing.append(name)
    assert not missing, f"no docstring: {missing}"
