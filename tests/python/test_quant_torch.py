"""picpq.torch's quantizers (torch ops, any device) against the C quantizers
that stay the reference and the exporter: codes on >= 1M values per bit width."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import picpq  # noqa: E402
import picpq.torch as ptq  # noqa: E402

N = 1 << 20
BITS = [1, 2, 3, 4, 5, 6, 7, 8, 32]


def _values(seed):
    """Mixed scales, both signs and exact zeros."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(N).astype(np.float32) * rng.choice([1e-3, 0.1, 1, 3], N).astype(
        np.float32)
    w[:1000] = 0.0
    return w


def _codes(q, bits, scale):
    """Integer codes of quantized values: q·n for the uniform grids."""
    if bits in (1, 32):
        return q.astype(np.float64) / scale
    n = 2 ** (bits - 1) - 1 if bits > 2 else 1
    return np.round(q.astype(np.float64) * n)


@pytest.mark.parametrize("bits", BITS)
def test_weight_codes_match_c(bits, capsys):
    w = _values(bits)
    ref = picpq.quantize_weights(w.copy(), bits)
    got = ptq.quantize_weights(torch.from_numpy(w), bits).numpy()
    if bits == 1:  # magnitude·sign: the magnitude must be the same float
        np.testing.assert_array_equal(got, ref)
        return
    if bits == 32:
        np.testing.assert_array_equal(got, w)
        return
    diff = np.abs(_codes(got, bits, 1) - _codes(ref, bits, 1))
    with capsys.disabled():
        print(f"\n  weights k={bits}: {N} values, largest code difference {diff.max():.0f}, "
              f"{int((diff > 0).sum())} values differ")
    # torch's tanh and C's tanhf may differ by one ulp; that moves a value by
    # at most one code, and only where y·n lies within an ulp of a boundary
    assert diff.max() <= 1
    assert (diff > 0).sum() <= N // 10000


@pytest.mark.parametrize("bits", BITS)
def test_activation_values_match_c_exactly(bits):
    x = _values(100 + bits) * 0.7 + 0.3
    ref = picpq.quantize_activations(x.copy(), bits)
    got = ptq.quantize_activations(torch.from_numpy(x), bits).numpy()
    np.testing.assert_array_equal(got, ref)


def test_worked_values_of_the_method():
    w = torch.tensor([0.5, -1.0, 0.1, 2.0])
    np.testing.assert_array_equal(ptq.quantize_weights(w, 4).numpy() * 7, [3, -6, 1, 7])
    np.testing.assert_array_equal(ptq.quantize_weights(w, 8).numpy() * 127, [61, -100, 13, 127])
    np.testing.assert_array_equal(ptq.quantize_weights(torch.tensor([0.5, -1.0, 0.0, 2.0]), 2),
                                  [1, -1, 0, 1])
    x = torch.tensor([-0.5, 0.2, 0.5, 0.9, 1.7])
    np.testing.assert_array_equal(ptq.quantize_activations(x, 2).numpy() * 3, [0, 1, 2, 3, 3])
    np.testing.assert_array_equal(ptq.quantize_activations(x, 3).numpy() * 7, [0, 1, 4, 6, 7])
    np.testing.assert_array_equal(
        ptq.quantize_activations(torch.tensor([-0.5, 0.0, 0.2, 1.7]), 1), [0, 0, 1, 1])
    assert torch.equal(ptq.quantize_weights(torch.zeros(5), 4), torch.zeros(5))


def test_bad_input():
    with pytest.raises(picpq.NumericalError):
        ptq.quantize_weights(torch.tensor([1.0, float("nan")]), 4)
    with pytest.raises(picpq.NumericalError):
        ptq.quantize_activations(torch.tensor([float("inf")]), 4)
    with pytest.raises(ValueError):
        ptq.quantize_weights(torch.ones(3), 9)
    with pytest.raises(ValueError):
        ptq.quantize_activations(torch.ones(3), 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_equals_cpu():
    w = torch.from_numpy(_values(7))
    for bits in BITS:
        cpu = ptq.quantize_weights(w, bits)
        gpu = ptq.quantize_weights(w.cuda(), bits)
        assert gpu.device.type == "cuda"
        diff = (gpu.cpu() - cpu).abs().max().item()
        assert diff <= 1.0 / max(1, 2 ** (bits - 1) - 1) + 1e-7
        np.testing.assert_array_equal(ptq.quantize_activations(w.cuda(), bits).cpu(),
                                      ptq.quantize_activations(w, bits))
