"""The ctypes binding's core: errors carry the library's message, tensors
wrap numpy memory without copies, any strides."""
import numpy as np
import pytest

import picpq


def test_version_matches_library():
    major, minor, patch = (int(x) for x in picpq.version().split("."))
    assert picpq.lib.picpq_version_number() == major * 10000 + minor * 100 + patch


def test_param_range_and_unknown_name():
    assert picpq.param_range("search.population") == ("int", 2.0, 1048576.0, 64.0)
    assert picpq.param_range("plan.safeguard")[3] == 0.1
    with pytest.raises(picpq.ArgumentError, match="no.such"):
        picpq.param_range("no.such")


def test_tensor_zero_copy_and_l1():
    w = np.arange(24, dtype=np.float32).reshape(4, 6) - 10
    with picpq.Tensor(w) as t:
        assert picpq.lib.picpq_tensor_data(t.ptr) == w.ctypes.data
        np.testing.assert_array_equal(t.l1_per_filter(), np.abs(w).sum(axis=1))


def test_tensor_strided_view():
    w = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = w.T  # non-contiguous
    with picpq.Tensor(view) as t:
        assert not picpq.lib.picpq_tensor_is_contiguous(t.ptr)
        np.testing.assert_array_equal(t.l1_per_filter(), np.abs(view).sum(axis=1))


def test_tensor_errors():
    with pytest.raises(TypeError):
        picpq.Tensor(np.zeros(3, dtype=np.int16))
    with pytest.raises(picpq.ArgumentError):  # zero-size axis -> PICPQ_E_SHAPE
        picpq.Tensor(np.zeros((0, 3), dtype=np.float32))
    with pytest.raises(picpq.StateError):  # negative stride -> PICPQ_E_UNSUPPORTED
        picpq.Tensor(np.zeros(4, dtype=np.float32)[::-1])
    bad = np.ones((2, 2), dtype=np.float32)
    bad[1, 0] = np.nan
    with picpq.Tensor(bad) as t, pytest.raises(picpq.NumericalError, match="element 2"):
        t.check_finite()


def test_closed_tensor_refuses_use():
    t = picpq.Tensor(np.ones(3, dtype=np.float32))
    t.close()
    t.close()
    with pytest.raises(ValueError):
        t.l1_per_filter()
