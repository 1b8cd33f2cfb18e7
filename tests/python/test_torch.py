"""picpq.torch: describing ResNet/VGG/MobileNetV2-style models with torch.fx,
one-pass ranking with hooks, physical pruning (outputs equal the masked
original), QAT modules and export."""
import re

import numpy as np
import pytest

import picpq

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import picpq.torch as pt  # noqa: E402
from picpq.torch.models import ResNetCifar, resnet20  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded():
    """Every test draws its weights and inputs from torch's seeded generator, whatever
    ran before it: the exact rank comparisons with torch hold for these inputs, and a
    map with a singular value on the tolerance could tip either way."""
    torch.manual_seed(0)


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model.eval()


def macs_by_hooks(model, x):
    """Independent MAC count: conv out_h·out_w·k²·(in/groups)·out + linear in·out."""
    total = []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total.append(out.shape[2] * out.shape[3] * kh * kw * m.in_channels // m.groups
                         * m.out_channels)
        else:
            total.append(m.in_features * m.out_features)
    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return sum(total)


def vgg_small():
    layers, cin = [], 3
    for v in (16, 16, "M", 32, 32, "M", 64):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers, nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64 * 4 * 4 // 4, 32),
                         nn.ReLU(), nn.Linear(32, 10))


def mobilenet_small():
    tv = pytest.importorskip("torchvision")
    return tv.models.mobilenet_v2(num_classes=10, width_mult=0.35)


def random_plan(desc, seed, keep=0.5):
    rng = np.random.default_rng(seed)
    n = desc.net.num_layers
    for l in desc.convs:
        c = desc.net.layer_channels(l.id)[1]
        desc.net.set_fp(l.id, rng.uniform(0, 10, c))
    plan = picpq.Plan(desc.net)
    plan.compute(np.exp(rng.normal(size=n)), rng.normal(size=n) * 3, keep)
    return plan


def check_equivalent(model, desc, plan, x):
    small = pt.apply_plan(model, desc, plan)
    ref = pt.mask_model(model, desc, plan)
    with torch.no_grad():
        got, want = small(x), ref(x)
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (got - want).abs().max()
    assert macs_by_hooks(small, x) == desc.net.macs(plan)
    return small


def test_resnet20_description():
    m = resnet20()
    x = torch.randn(2, 1, 28, 28)
    desc = pt.describe(m, x)
    assert desc.net.num_layers == 20
    assert [l.kind for l in desc.layers].count("linear") == 1
    assert desc.net.macs() == macs_by_hooks(m, x)
    assert len(desc.shortcuts) == 2 and len(desc.adds) == 7
    # the stem and every conv2 form one chain: a mask set on the stem reaches
    # every 16-wide member (conv2 of stage 1), not the conv1s
    plan = picpq.Plan(desc.net)
    mask = np.ones(16, dtype=bool)
    mask[[1, 5]] = False
    plan.set_keep_mask(0, mask)
    stage1_conv2 = [desc.by_name(f"layers.{i}.conv2").id for i in range(3)]
    assert all(plan.kept(l) == 14 for l in stage1_conv2)
    assert plan.kept(desc.by_name("layers.0.conv1").id) == 16


def test_resnet56_description_and_surgery():
    m = randomize_bn(ResNetCifar(56, in_channels=3))
    x = torch.randn(2, 3, 16, 16)
    desc = pt.describe(m, x)
    assert desc.net.num_layers == 56 and desc.net.macs() == macs_by_hooks(m, x)
    check_equivalent(m, desc, random_plan(desc, 1, keep=0.4), x)


def test_resnet20_surgery_with_different_masks_across_stages():
    """Option-A shortcuts: stage 2 drops channels that stage 1 keeps and
    the reverse; the gather must follow both masks."""
    m = randomize_bn(resnet20())
    x = torch.randn(3, 1, 28, 28)
    desc = pt.describe(m, x)
    plan = random_plan(desc, 2, keep=0.6)
    s1 = np.ones(16, dtype=bool)
    s1[[0, 3, 9]] = False
    s2 = np.ones(32, dtype=bool)
    s2[[1, 3, 20, 31]] = False
    plan.set_keep_mask(0, s1)
    plan.set_keep_mask(desc.by_name("layers.3.conv2").id, s2)
    small = check_equivalent(m, desc, plan, x)
    # kept outputs 0, 2, 4, 5 read source channels 0 (dropped), 2, 4, 5 at positions 1, 2, 3
    assert small.layers[3].shortcut.index.tolist()[:4] == [-1, 1, 2, 3]
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in m.parameters())


def test_vgg_description_and_surgery():
    m = randomize_bn(vgg_small())
    x = torch.randn(2, 3, 16, 16)
    desc = pt.describe(m, x)
    assert [l.kind for l in desc.layers] == ["conv"] * 5 + ["linear"] * 2
    assert desc.net.macs() == macs_by_hooks(m, x)
    assert not desc.adds and not desc.shortcuts
    check_equivalent(m, desc, random_plan(desc, 3), x)


def test_mobilenet_v2_description_and_surgery():
    m = randomize_bn(mobilenet_small())
    x = torch.randn(2, 3, 32, 32)
    desc = pt.describe(m, x)
    assert desc.net.num_layers == 53
    assert desc.net.macs() == macs_by_hooks(m, x)
    dw = [l for l in desc.layers if l.depthwise]
    assert len(dw) == 17
    plan = random_plan(desc, 4, keep=0.6)
    for l in dw:  # a depthwise conv keeps exactly its producer's channels
        np.testing.assert_array_equal(plan.keep_mask(l.id), plan.keep_mask(l.producer))
    check_equivalent(m, desc, plan, x)


class ViewBySize(nn.Module):
    """The common flatten spellings: x.view(x.size(0), -1), x.reshape(x.shape[0], -1)."""
    def __init__(self, by_shape):
        super().__init__()
        self.by_shape = by_shape
        self.c1, self.bn1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.bn2 = nn.Conv2d(8, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * 4 * 4, 5)

    def forward(self, x):
        x = F.max_pool2d(torch.relu(self.bn1(self.c1(x))), 2)
        x = torch.max_pool2d(torch.relu(self.bn2(self.c2(x))), 2)  # the alias too
        x = x.reshape(x.shape[0], -1) if self.by_shape else x.view(x.size(0), -1)
        return self.fc(x)


@pytest.mark.parametrize("by_shape", [False, True])
def test_flatten_by_the_batch_size_is_described(by_shape):
    m = randomize_bn(ViewBySize(by_shape))
    x = torch.randn(2, 3, 16, 16)
    desc = pt.describe(m, x)
    assert [l.kind for l in desc.layers] == ["conv", "conv", "linear"]
    assert desc.net.macs() == macs_by_hooks(m, x)
    check_equivalent(m, desc, random_plan(desc, 5, keep=0.5), x)


class ChannelSlice(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.c(x)[:, :2]


class Concat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3)
        self.b = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class Grouped(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 8, 3, groups=2)

    def forward(self, x):
        return self.c(x)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.c(x) if x.sum() > 0 else x


class NormAfterRelu(nn.Module):
    """conv → ReLU → BN: the BN would keep the conv's full width after pruning."""
    def __init__(self):
        super().__init__()
        self.c, self.bn = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(torch.relu(self.c(x)))


@pytest.mark.parametrize("model,x,match", [
    (Concat(), torch.zeros(1, 3, 8, 8), "concatenation at node cat"),
    (Grouped(), torch.zeros(1, 4, 8, 8), "groups=2"),
    (NormAfterRelu(), torch.zeros(1, 3, 8, 8), "batch norm bn does not directly follow it"),
    (ChannelSlice(), torch.zeros(1, 3, 8, 8), r"indexing/slicing \(x\[...\]\)"),
])
def test_unprunable_parts_stay_whole(model, x, match):
    """Partial support: what cannot be pruned safely is described as
    non-prunable, with the reason."""
    desc = pt.describe(model, x)
    assert not any(l.prunable for l in desc.convs)
    assert re.search(match, desc.summary()), desc.summary()
    assert desc.net.macs() == macs_by_hooks(model, x)


def test_describe_refuses_untraceable_clearly():
    with pytest.raises(pt.UnsupportedModel, match="trace.*concrete_args"):
        pt.describe(DataDependent(), torch.zeros(1, 3, 8, 8))


def test_rank_filters_one_pass_matches_torch():
    m = randomize_bn(resnet20())
    x = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    desc = pt.describe(m, x)
    seen = {}
    hook = m.layers[4].conv1.register_forward_hook(lambda mod, i, o: seen.setdefault("o", o))
    fps = pt.rank_filters(m, desc, [x[:2], x[2:]])
    hook.remove()
    layer = desc.by_name("layers.4.conv1").id
    out = m.layers[4].conv1(m.layers[3](m.layers[:3](m.act1(m.bn1(m.conv1(x))))))
    with torch.no_grad():
        expected = torch.linalg.matrix_rank(out.detach()).double().mean(0).numpy()
    np.testing.assert_array_equal(fps[layer], expected)
    np.testing.assert_array_equal(desc.net.fp(layer), expected)
    assert len(fps) == 19


@pytest.mark.parametrize("at", ["bn", "act"])
def test_rank_filters_after_bn_or_activation_matches_torch(at):
    """at="bn": the maps after the conv's batch norm; at="act": after the
    ReLU that reads it, or after the batch norm when the output goes into
    a residual addition first (conv2 of a block)."""
    m = randomize_bn(resnet20())
    x = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    desc = pt.describe(m, x)
    assert desc.by_name("layers.4.conv1").out_act == "layers.4.act1"
    assert desc.by_name("layers.4.conv2").out_act is None
    fps = pt.rank_filters(m, desc, [x[:2], x[2:]], at=at)
    block = m.layers[4]
    with torch.no_grad():
        inp = m.layers[3](m.layers[:3](m.act1(m.bn1(m.conv1(x)))))
        one = block.bn1(block.conv1(inp))
        two = block.bn2(block.conv2(block.act1(one)))
        if at == "act":
            one = torch.relu(one)
    for name, out in (("layers.4.conv1", one), ("layers.4.conv2", two)):
        expected = torch.linalg.matrix_rank(out).double().mean(0).numpy()
        np.testing.assert_array_equal(fps[desc.by_name(name).id], expected)
    with pytest.raises(ValueError, match="at must be one of"):
        pt.rank_filters(m, desc, [x], at="relu")


def test_quantize_model_and_export():
    m = randomize_bn(resnet20())
    x = torch.randn(2, 1, 28, 28)
    desc = pt.describe(m, x)
    bits = [32] + [4] * 18 + [32]
    pt.quantize_model(m, desc, bits)
    assert isinstance(m.layers[0].act1, pt.ActQuant) and isinstance(m.act1, nn.ReLU)
    assert isinstance(m.layers[0].act2, nn.ReLU)            # after the addition: FP
    assert desc.residual_relus == {f"layers.{i}.act2" for i in range(9)}
    w = m.layers[0].conv1.weight
    orig = m.layers[0].conv1.parametrizations.weight.original
    assert torch.equal(w, picpq.quantize_weights(orig.detach().clone(), 4))
    assert len(torch.unique(w)) <= 15
    m(x).sum().backward()   # the STE gives gradients to the float weights
    assert orig.grad is not None and orig.grad.abs().sum() > 0
    layers, summary = pt.export(m, desc, bits)
    rec = layers["layers.0.conv1"]
    codes = picpq.unpack_bits(rec["data"], 4, int(np.prod(rec["shape"])))
    np.testing.assert_array_equal(np.float32(codes) / np.float32(rec["levels"]),
                                  w.detach().flatten().numpy())
    n4 = sum(layers[l.name]["shape"][0] * int(np.prod(layers[l.name]["shape"][1:]))
             for l in desc.layers[1:-1])
    assert summary["packed_bytes"] == 4 * (16 * 9 + 640 + 10 * 0) + sum(
        (int(np.prod(layers[l.name]["shape"])) * 4 + 7) // 8 for l in desc.layers[1:-1])
    assert summary["fp32_bytes"] == 4 * (16 * 9 + n4 + 640)


def test_net_links_and_geometry_follow_the_model():
    m = resnet20()
    desc = pt.describe(m, torch.zeros(1, 1, 28, 28))
    net = desc.net
    chain = {net.layer_links(l.id)[1] for l in desc.convs if l.name.endswith("conv2")}
    assert chain == {0} and net.layer_links(0) == (-1, 0)
    c = desc.by_name("layers.3.conv1")
    assert net.layer_links(c.id) == (c.producer, c.id)
    assert net.layer_geometry(c.id) == (3, 3, 1, 14, 14)
    with picpq.Ranker(net=net) as rk:
        rk.feed(0, torch.zeros(2, 16, 4, 4))
        certified, fallback = rk.stats()
        assert certified + fallback == 32
