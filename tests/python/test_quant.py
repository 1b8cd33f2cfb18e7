"""Quantizers against torch transcriptions of METHOD §8, bits, packing, QAT
modules (forward = libpicpq bit for bit, backward = the STE)."""
import numpy as np
import pytest

import picpq

torch = pytest.importorskip("torch")


def torch_weight_codes(w, k):
    """METHOD (E7) in torch float32: round(tanh(w)/max|tanh| · n)."""
    t = torch.tanh(w)
    n = 2 ** (k - 1) - 1
    return torch.round(t / t.abs().max() * n)


def test_weight_worked_values():  # METHOD §8
    w = np.array([0.5, -1.0, 0.1, 2.0], dtype=np.float32)
    for k, codes in ((4, [3, -6, 1, 7]), (3, [1, -2, 0, 3]), (8, [61, -100, 13, 127])):
        n = 2 ** (k - 1) - 1
        q = picpq.quantize_weights(w.copy(), k)
        np.testing.assert_array_equal(q, np.float32(codes) / np.float32(n))
        c, levels, mag = picpq.weights_export(w, k)
        assert c.tolist() == codes and levels == n and mag == 1
    q2 = picpq.quantize_weights(np.array([0.5, -1.0, 0.0, 2.0], np.float32), 2)
    assert q2.tolist() == [1, -1, 0, 1]


def test_activation_worked_values_and_half_even():
    x = np.array([-0.5, 0.2, 0.5, 0.9, 1.7], dtype=np.float32)
    np.testing.assert_array_equal(picpq.quantize_activations(x.copy(), 2),
                                  np.float32([0, 1, 2, 3, 3]) / np.float32(3))
    np.testing.assert_array_equal(picpq.quantize_activations(x.copy(), 3),
                                  np.float32([0, 1, 4, 6, 7]) / np.float32(7))
    assert picpq.quantize_activations(np.float32([1 / 6]), 2).tolist() == [0.0]
    assert picpq.quantize_activations(np.float32([2.5 / 7]), 3)[0] == np.float32(2) / np.float32(7)


def test_weights_match_torch_up_to_boundary_codes():
    g = torch.Generator().manual_seed(0)
    for k in (3, 4, 6, 8):
        w = torch.randn(64, 32, 3, 3, generator=g) * 0.3
        codes, _, _ = picpq.weights_export(w, k)
        ref = torch_weight_codes(w, k).flatten().numpy().astype(np.int64)
        diff = np.abs(codes.astype(np.int64) - ref)
        # tanhf vs torch's tanh may differ in the last ulp: one code, at a boundary only
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_activations_match_torch_exactly():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 16, 5, 5, generator=g)
    for k in (2, 4, 8):
        n = 2 ** k - 1
        ref = torch.round(x.clamp(0, 1) * n) / n
        out = torch.empty_like(x)
        picpq.quantize_activations(x, k, out=out)
        assert torch.equal(out, ref)
    assert torch.equal(picpq.quantize_activations(x.clone(), 32), x)


def test_strided_tensors_in_place():
    base = np.linspace(-2, 2, 48, dtype=np.float32).reshape(6, 8)
    view = base[:, ::2]                     # non-contiguous, quantized in place
    expected = picpq.quantize_activations(np.ascontiguousarray(view), 3)
    picpq.quantize_activations(view, 3)
    np.testing.assert_array_equal(base[:, ::2], expected)
    assert base[0, 1] == np.float32(-2 + 4 / 47)  # untouched columns


def test_bits_assign_t8_and_errors():
    # METHOD T8 (HEAD form, tau = 1/6): s -> reduction
    s = [1, 0.5, 1 / 6, 0.15, 0.125, 0.05]
    assert picpq.bits_assign(s, [8] * 6, 1 / 6, min_bits=0).tolist() == [8, 7, 7, 6, 6, 4]
    assert picpq.bits_assign([0.125], [4], 1 / 6).tolist() == [2]
    assert picpq.bits_assign([0.5, 0.1], [32, 32], 1 / 6).tolist() == [32, 32]
    with pytest.raises(picpq.ArgumentError, match="1"):
        picpq.bits_assign([0.5, 0.0], [8, 8], 1 / 6)
    with pytest.raises(picpq.NumericalError):
        picpq.bits_assign([0.5], [8], float("nan"))
    with pytest.raises(ValueError):
        picpq.bits_assign([0.5, 1], [8], 1 / 6)


def test_pack_unpack_round_trip_and_sizes():
    rng = np.random.default_rng(0)
    for bits in range(2, 9):
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        codes = rng.integers(lo, hi + 1, 101).astype(np.int8)
        data = picpq.pack_bits(codes, bits)
        assert len(data) == (101 * bits + 7) // 8
        np.testing.assert_array_equal(picpq.unpack_bits(data, bits, 101), codes)
    assert picpq.pack_bits([1, -1, 0, 1], 2) == bytes([0b01001101])
    assert picpq.packed_size([10, 3], [4, 32]) == 5 + 12
    with pytest.raises(picpq.ArgumentError, match="2"):
        picpq.pack_bits([0, 0, 5], 3)       # 5 does not fit 3 bits; index named
    with pytest.raises(picpq.ArgumentError):
        picpq.unpack_bits(b"\x00", 8, 2)


def test_sparsity_l1():
    w = np.arange(1, 25, dtype=np.float32).reshape(4, 3, 2)
    assert picpq.sparsity_l1(w, w[:2, :2]) == pytest.approx(
        np.abs(w[:2, :2]).sum() / np.abs(w).sum())
    assert picpq.sparsity_l1_masked(w, [1, 1, 0, 0], [1, 1, 0]) == picpq.sparsity_l1(w, w[:2, :2])
    with pytest.raises(picpq.ArgumentError):
        picpq.sparsity_l1(np.zeros((2, 2), np.float32), np.zeros((1, 1), np.float32))


def test_ste_modules_forward_is_libpicpq_backward_is_ste():
    import picpq.torch as pt
    g = torch.Generator().manual_seed(2)
    w = (torch.randn(8, 4, 3, 3, generator=g) * 0.5).requires_grad_()
    q = pt.WeightQuant(4)(w)
    assert torch.equal(q.detach(), picpq.quantize_weights(w.detach().clone(), 4))
    grad = torch.randn(q.shape, generator=g)
    q.backward(grad)
    wd = w.detach().clone().requires_grad_()
    t = torch.tanh(wd)
    (t / t.abs().max()).backward(grad)      # rounding passes the gradient through
    assert torch.allclose(w.grad, wd.grad)
    x = torch.randn(4, 3, 5, 5, generator=g).requires_grad_()
    y = pt.ActQuant(3)(x)
    assert torch.equal(y.detach(), picpq.quantize_activations(x.detach().clone(), 3))
    y.sum().backward()
    assert torch.equal(x.grad, ((x >= 0) & (x <= 1)).float())


def test_quantizer_bad_input():
    with pytest.raises(TypeError):
        picpq.quantize_weights(np.zeros(4), 4)                   # float64
    with pytest.raises(TypeError):
        picpq.quantize_activations(torch.zeros(4, dtype=torch.float16), 4)
    with pytest.raises(picpq.ArgumentError, match="9|bits"):
        picpq.quantize_weights(np.zeros(4, np.float32), 9)
    bad = np.array([0.0, np.nan], np.float32)
    with pytest.raises(picpq.NumericalError):
        picpq.quantize_weights(bad, 4)
    with pytest.raises(picpq.ArgumentError):
        picpq.quantize_activations(np.zeros(4, np.float32), 3, out=np.zeros(5, np.float32))
