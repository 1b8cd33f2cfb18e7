"""The Fashion-MNIST example scripts (examples/python) for the tests that
run them: imported as modules; the whole test module is skipped where torch
or the dataset is missing."""
import importlib
import os
import sys

import pytest

DATA = os.environ.get("PICPQ_FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def example(name):
    """examples/python/NAME.py as a module, or skip the calling test module."""
    pytest.importorskip("torch")
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        pytest.skip("Fashion-MNIST is not installed", allow_module_level=True)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "..", "examples", "python"))
    return importlib.import_module(name)
