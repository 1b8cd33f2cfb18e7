"""Bad input never crashes the interpreter: typed exceptions with the
library's message, closed handles refused, arrays kept alive."""
import gc

import numpy as np
import pytest

import picpq


def small_net():
    net = picpq.Net()
    a = net.add_conv(3, 4, 3, out_size=8)
    b = net.add_conv(4, 4, 3, out_size=8)
    net.connect(a, b)
    net.set_fp(a, [1, 2, 3, 4])
    net.set_fp(b, [4, 3, 2, 1])
    return net


def test_exception_carries_status_and_message():
    with small_net() as net:
        plan = picpq.Plan(net)
        with pytest.raises(picpq.ArgumentError) as info:
            plan.compute([1, -1], [0, 0], 0.5)
        assert info.value.status == -3                       # PICPQ_E_OUT_OF_RANGE
        assert info.value.message == "layer 1: a = -1 must be > 0"
        assert "picpq_plan_compute" in str(info.value)
        assert picpq.lib.picpq_last_error() != b""


def test_closed_handles_raise_not_crash():
    net = small_net()
    plan = picpq.Plan(net)
    search = picpq.Search(net, 1, population=2, sample=1, generations=2)
    net.close()
    net.close()
    for call in (lambda: plan.compute([1, 1], [0, 0], 0.5), lambda: search.ask(),
                 lambda: net.macs(), lambda: net.add_linear(4, 2)):
        with pytest.raises(ValueError, match="closed"):
            call()


def test_plan_keeps_its_net_alive():
    plan = picpq.Plan(small_net())   # the only reference to the net is the plan's
    gc.collect()
    assert plan.compute([1, 1], [0, 0], 0.5) in (True, False)
    assert plan.net.macs(plan) <= 0.5 * plan.net.macs()


def test_tensor_keeps_array_alive():
    t = picpq.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    gc.collect()                      # the temporary array must not be freed
    np.testing.assert_array_equal(t.l1_per_filter(), [3, 12])
    t.close()


def test_wrong_types_and_lengths():
    with small_net() as net:
        plan = picpq.Plan(net)
        with pytest.raises(ValueError):
            plan.compute([1, 1, 1], [0, 0], 0.5)
        with pytest.raises(TypeError):
            plan.compute(["a", "b"], [0, 0], 0.5)
        with pytest.raises(TypeError):
            net.bops(None, [8.5, 8], [8, 8])
        with pytest.raises(picpq.NumericalError):
            plan.compute([1, float("inf")], [0, 0], 0.5)
        with pytest.raises(picpq.ArgumentError):
            plan.keep_mask(7)
        with pytest.raises(picpq.ArgumentError, match="no.such"):
            plan.set("no.such", 1)
        with pytest.raises(picpq.ArgumentError):
            plan.set("search.population", 8)   # a key of another module
    with pytest.raises(TypeError):
        picpq.matrix_rank(np.eye(3))           # float64
    with pytest.raises(ValueError):
        picpq.matrix_rank(np.ones(3, np.float32))
    with pytest.raises(TypeError):
        picpq.Tensor([1.0, 2.0])


def test_torch_tensors_wrong_device_dtype():
    torch = pytest.importorskip("torch")
    with picpq.Ranker([2]) as rk:
        with pytest.raises(picpq.ArgumentError):
            rk.feed(0, torch.zeros(1, 2, 3, 3, dtype=torch.float64))
        with pytest.raises(TypeError):
            rk.feed(0, torch.zeros(1, 2, 3, 3, dtype=torch.bfloat16))
        rk.feed(0, torch.ones(2, 2, 3, 3).permute(0, 1, 3, 2))   # strided: fine
        assert rk.filter_property(0).tolist() == [1.0, 1.0]


def test_allocator_variants_declared():
    assert picpq.lib.picpq_net_create_ex.argtypes[0]._type_ is picpq._native.Allocator


def test_read_only_memory_is_never_written(tmp_path):
    """Quantizing in place or into `out` refuses read-only memory (a memmap
    opened 'r' would segfault, a view of bytes would change an immutable)."""
    path = tmp_path / "x.bin"
    np.array([0.1, 0.5, 0.9, 2.0], np.float32).tofile(path)
    ro = np.memmap(path, dtype=np.float32, mode="r")
    frozen = np.frombuffer(bytes(16), np.float32)
    for call in (lambda: picpq.quantize_activations(ro, 2),
                 lambda: picpq.quantize_weights(ro, 2),
                 lambda: picpq.quantize_weights(np.ones(4, np.float32), 2, out=frozen)):
        with pytest.raises(ValueError, match="read-only"):
            call()
    np.testing.assert_array_equal(ro, np.array([0.1, 0.5, 0.9, 2.0], np.float32))
    assert not frozen.any()
    # reading read-only memory is fine: into a writable out, 2 bits = {0, 1/3, 2/3, 1}
    out = picpq.quantize_activations(ro, 2, out=np.empty(4, np.float32))
    np.testing.assert_allclose(out, [0, 2 / 3, 1, 1])


def test_python_ints_beyond_the_c_type_are_refused():
    """ctypes alone would keep the low bits (2**64 + 3 → 3) and go on."""
    import ctypes
    with picpq.Net() as net:
        for bad in (2 ** 64 + 3, -2 ** 63 - 1):
            with pytest.raises(ctypes.ArgumentError, match="outside"):
                net.add_conv(bad, 4, 3, out_size=8)
        assert net.num_layers == 0                    # nothing was added
    with pytest.raises(ctypes.ArgumentError, match="outside"):
        picpq.quantize_activations(np.ones(4, np.float32), 2 ** 32 + 8)
    with pytest.raises(ctypes.ArgumentError, match="wrong type"):
        picpq.lib.picpq_dtype_size(None)              # not taken as 0


def test_torch_lazy_negation_is_refused():
    torch = pytest.importorskip("torch")
    x = torch.ones(4)._neg_view()
    with pytest.raises(ValueError, match="resolve_neg"):
        picpq.quantize_activations(x, 2)
