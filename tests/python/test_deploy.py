"""The model file and its C runtime against the torch QAT model (issue 17):
save_model writes the file, picpq_model_run computes the same logits."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import picpq  # noqa: E402
from picpq._handles import Model  # noqa: E402
from picpq.torch import UnsupportedModel, model_file_bytes, save_model  # noqa: E402
from picpq.torch.models import ResNetCifar  # noqa: E402
from deploy_models import pruned_quantized_resnet20, randomize_bn  # noqa: E402

torch.set_num_threads(1)


def _agreement(model, x, data):
    with Model(data=data) as cm:
        out = cm.run(x.numpy(), batch=32)
    with torch.no_grad():
        ref = model.eval()(x).numpy()
    diff = float(np.abs(out - ref).max())
    same = float((out.argmax(1) == ref.argmax(1)).mean())
    print(f"largest logit difference {diff:.3g}, argmax equal on {100 * same:.2f} %")
    return diff, same, np.abs(out - ref).max(axis=1)


def test_resnet20_pruned_quantized_agrees(tmp_path):
    small, d2, bits, x = pruned_quantized_resnet20()
    model = ResNetCifar(20, 1, 10, widths=(8, 16, 32))
    path = tmp_path / "model.pqm"
    size = save_model(small, d2, bits, str(path), x[:1])
    fp32 = sum(4 * t.numel() for t in model.state_dict().values() if t.is_floating_point())
    assert size == path.stat().st_size and size * 10 <= fp32
    diff, same, per_image = _agreement(small, x, path.read_bytes())
    assert same >= 0.99
    # all but activation-rounding flips agree to float rounding
    assert np.median(per_image) < 1e-4
    with Model(path=str(path)) as cm:
        assert cm.input_shape == (1, 28, 28) and cm.num_classes == 10
    # a batch split across threads: each part's logits are a run of that part alone
    xs = x.numpy()[:10]
    with Model(data=path.read_bytes(), integer=True) as cm:
        alone = np.concatenate([cm.run(xs[a:b]) for a, b in ((0, 3), (3, 7), (7, 10))])
        assert np.array_equal(cm.run(xs, threads=3), alone)
        assert np.array_equal(cm.run(xs, batch=4, threads=2),
                              np.concatenate([cm.run(xs[a:b]) for a, b in
                                              ((0, 2), (2, 4), (4, 6), (6, 8), (8, 9), (9, 10))]))
        assert cm.run(xs[:1], threads=4).shape == (1, 10)
        with pytest.raises(ValueError, match="threads = 0: 1 or more"):
            cm.run(xs, threads=0)


def test_float_chain_with_pooling_and_normalisation():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=1, padding=1, bias=True), nn.BatchNorm2d(6), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(6, 6, 3, padding=1, groups=6), nn.ReLU6(),
        nn.AvgPool2d(3, stride=2, padding=1), nn.Conv2d(6, 8, 1), nn.ReLU(),
        nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    randomize_bn(model, torch.Generator().manual_seed(3))
    x = torch.rand(16, 3, 16, 16)
    model.eval()
    data = model_file_bytes(model, None, None, x[:1], mean=[0.5, 0.4, 0.3], std=[0.2, 0.3, 0.4])
    with Model(data=data) as cm:
        out = cm.run(x.numpy())
    with torch.no_grad():
        mean = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
        std = torch.tensor([0.2, 0.3, 0.4]).view(1, 3, 1, 1)
        ref = model((x - mean) / std).numpy()
    assert np.abs(out - ref).max() < 1e-4


def test_unsupported_module_is_named():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    with pytest.raises(UnsupportedModel, match="Sigmoid"):
        model_file_bytes(model, None, None, torch.rand(1, 1, 8, 8))


def test_bad_files_are_format_errors():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    data = model_file_bytes(model, None, None, torch.rand(1, 1, 8, 8))
    Model(data=data).close()
    for bad in (data[:-1], data[:30], b"x" * len(data), data[:40] + bytes([data[40] ^ 1])
                + data[41:]):
        with pytest.raises(picpq.PicpqError) as info:
            Model(data=bad)
        assert info.value.status == -41
