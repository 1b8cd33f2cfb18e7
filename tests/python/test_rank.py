"""Filter property: picpq's ranks against numpy's and torch's matrix_rank."""
import numpy as np
import pytest

import picpq


def low_rank(rng, h, w, r):
    return (rng.standard_normal((h, r)) @ rng.standard_normal((r, w))).astype(np.float32)


def test_matrix_rank_method_vectors():  # METHOD T1
    assert picpq.matrix_rank(np.array([[1, 2], [2, 4]], dtype=np.float32)) == 1
    assert picpq.matrix_rank(np.zeros((4, 5), dtype=np.float32)) == 0
    assert picpq.matrix_rank(np.eye(3, dtype=np.float32)) == 3
    assert picpq.matrix_rank(np.diag([1, 1e-7]).astype(np.float32)) == 1
    assert picpq.matrix_rank(np.diag([1, 1e-6]).astype(np.float32)) == 2


def test_matrix_rank_matches_numpy_and_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for _ in range(40):
        h, w = rng.integers(1, 20, size=2)
        m = low_rank(rng, h, w, int(rng.integers(0, min(h, w) + 1)))
        expected = int(np.linalg.matrix_rank(m))
        assert picpq.matrix_rank(m) == expected
        assert int(torch.linalg.matrix_rank(torch.from_numpy(m))) == expected


def test_matrix_rank_row_stride_and_copy():
    rng = np.random.default_rng(2)
    big = low_rank(rng, 8, 12, 3)
    view = big[:, :5]                       # row stride 12, read in place
    assert picpq.matrix_rank(view) == np.linalg.matrix_rank(view)
    assert picpq.matrix_rank(big.T) == 3    # column-strided: copied


def test_ranker_feed_torch_channels_last_matches_torch_ranks():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    # maps of mixed ranks: products of random factors, some channels zero
    a = torch.randn(6, 3, 7, 2, generator=g)
    b = torch.randn(6, 3, 2, 9, generator=g)
    maps = (a @ b)
    maps[:, 1] = 0
    maps[0, 2] = torch.randn(7, 9, generator=g)
    maps_cl = maps.contiguous(memory_format=torch.channels_last)
    expected = torch.linalg.matrix_rank(maps).double().mean(0).numpy()
    with picpq.Ranker([3]) as rk:
        rk.feed(0, maps_cl[:4])
        rk.feed(0, maps_cl[4:])
        assert rk.images(0) == 6
        np.testing.assert_array_equal(rk.filter_property(0), expected)


def test_ranker_running_mean_t1_and_merge():
    # METHOD T1: ranks {32, 30} then {31, 31} -> FP 31
    def batch(ranks):
        maps = np.zeros((len(ranks), 1, 32, 32), dtype=np.float32)
        for i, r in enumerate(ranks):
            maps[i, 0, :r, :r] = np.eye(r)
        return maps
    with picpq.Ranker([1]) as a, picpq.Ranker([1]) as b:
        a.feed(0, batch([32, 30]))
        b.feed(0, batch([31, 31]))
        a.merge(b)
        assert a.filter_property(0).tolist() == [31.0]
        assert a.images(0) == 4


def test_ranker_errors():
    with picpq.Ranker([2, 3]) as rk:
        with pytest.raises(picpq.ArgumentError, match="(?i)f32|float|dtype"):
            rk.feed(0, np.zeros((1, 2, 3, 3)))                # float64
        with pytest.raises(picpq.ArgumentError):
            rk.feed(0, np.zeros((1, 3, 3, 3), np.float32))    # channels differ
        with pytest.raises(picpq.ArgumentError):
            rk.feed(0, np.zeros((2, 3, 3), np.float32))       # not 4-D
        with pytest.raises(picpq.ArgumentError):
            rk.feed(5, np.zeros((1, 2, 3, 3), np.float32))    # layer id
        bad = np.zeros((1, 2, 3, 3), np.float32)
        bad[0, 1, 2, 2] = np.inf
        with pytest.raises(picpq.NumericalError):
            rk.feed(0, bad)
        with pytest.raises(picpq.StateError):                  # nothing fed yet
            rk.filter_property(1)
        with pytest.raises(picpq.ArgumentError):
            rk.set("rank.threads", 0)
        rk.set("rank.threads", 2)
        assert rk.get("rank.threads") == 2
    with pytest.raises(ValueError, match="closed"):
        rk.feed(0, np.zeros((1, 2, 3, 3), np.float32))
    with pytest.raises(picpq.ArgumentError):
        picpq.Ranker([4, 0])


def test_ranker_save_load_sharded_merge():
    # calibration split over 3 rankers ("processes"): save, load, merge ==
    # one ranker fed everything, bit for bit
    rng = np.random.default_rng(8)
    batches = [np.stack([np.stack([low_rank(rng, 7, 9, int(rng.integers(0, 8)))
                                   for _ in range(4)]) for _ in range(3)])
               for _ in range(6)]                              # 6 batches [3, 4, 7, 9]
    with picpq.Ranker([4, 2]) as one:
        for b in batches:
            one.feed(0, b)
        blobs = []
        for k in range(3):
            with picpq.Ranker([4, 2]) as shard:
                shard.set("rank.atol", 0.0)
                for b in batches[k::3]:
                    shard.feed(0, b)
                blobs.append(shard.save())
        assert blobs[0][:8] == b"PQRANKER"
        merged = picpq.Ranker.load(blobs[0])
        assert merged.channels == [4, 2]
        for blob in blobs[1:]:
            with picpq.Ranker.load(blob) as part:
                merged.merge(part)
        with merged:
            assert merged.images(0) == one.images(0) == 18
            assert merged.filter_property(0).tobytes() == one.filter_property(0).tobytes()
            assert picpq.Ranker.load(merged.save()).save() == merged.save()
    with pytest.raises(picpq.StateError, match="truncated"):  # PICPQ_E_FORMAT = -41
        picpq.Ranker.load(blobs[0][:-1])
