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
