"""picpq.torch on torchvision architectures (random init, small inputs):
describe -> rank_filters -> plan -> apply_plan (== mask_model) ->
quantize_model -> export, with MACs and params equal to forward-hook counts
and the reported BOPs equal to those of the modules actually inserted."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402

import picpq  # noqa: E402
import picpq.torch as pt  # noqa: E402

torch.set_num_threads(1)


def _shuffle():
    from torchvision.models import shufflenetv2
    return dict(leaf_functions=[shufflenetv2.channel_shuffle])


# name: (constructor kwargs, input side, describe kwargs, fully prunable)
MODELS = {
    "resnet18": ({}, 32, {}, True),
    "resnet50": ({}, 32, {}, True),
    "mobilenet_v2": ({}, 32, {}, True),
    "vgg11_bn": ({}, 32, {}, True),
    "mnasnet0_5": ({}, 32, {}, True),
    "alexnet": ({}, 64, {}, True),
    "resnext50_32x4d": ({}, 32, {}, False),
    "regnet_x_400mf": ({}, 32, {}, False),
    "densenet121": ({}, 32, {}, False),
    "googlenet": ({"aux_logits": False, "init_weights": False}, 32, {}, False),
    "squeezenet1_0": ({}, 64, {}, False),
    "efficientnet_b0": ({}, 32, {}, True),  # SE gates coupled to their conv
    "mobilenet_v3_small": ({}, 32, {}, True),
    "shufflenet_v2_x0_5": ({}, 32, {}, False),
}
# refused, with the message naming the node and the way out
REFUSED = {"convnext_tiny": "channels-last MLP"}


def hook_counts(model, x):
    """(MACs, weights) of the Conv2d and Linear modules that run, per sample."""
    macs, params, hooks = [0], [0], []

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            macs[0] += out[0].numel() * m.kernel_size[0] * m.kernel_size[1] * \
                (m.in_channels // m.groups)
        else:  # per position of an [N, ..., features] input
            macs[0] += out[0].numel() * m.in_features
        params[0] += m.weight.numel()
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(hook))
    model.eval()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return macs[0], params[0]


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def run_model(name, keep=0.6, round_to=8):
    kwargs, side, dkw, _ = MODELS[name]
    dkw = _shuffle() if dkw == "shuffle" else dkw
    torch.manual_seed(0)
    model = randomize_bn(getattr(torchvision.models, name)(num_classes=10, **kwargs)).eval()
    x = torch.randn(1, 3, side, side)
    desc = pt.describe(model, (x, torch.zeros(1)), **dkw)
    net = desc.net
    assert (net.macs(), net.params()) == hook_counts(model, x)
    pt.rank_filters(model, desc, [(x, torch.zeros(1))])
    n = net.num_layers
    plan = picpq.Plan(net, round_to=round_to)
    plan.compute([1.0] * n, [0.0] * n, keep)
    kept = plan.kept_all()
    for layer in desc.convs:
        _, out_ch = net.layer_channels(layer.id)
        if not layer.prunable:
            assert kept[layer.id] == out_ch, layer.name
        else:
            assert kept[layer.id] == out_ch or kept[layer.id] % round_to == 0, layer.name
    small = pt.apply_plan(model, desc, plan)
    ref = pt.mask_model(model, desc, plan)
    with torch.no_grad():
        a, b = small.eval()(x), ref.eval()(x)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)
    assert (net.macs(plan), net.params(plan)) == hook_counts(small, x)
    bits = [8] + [4] * (n - 2) + [8]
    pt.quantize_model(small, desc, bits)
    wbits, abits = pt.inserted_bits(desc, bits)
    running, per = pt.bops_of_model(small, x)
    assert net.bops(plan, wbits, abits) == running
    with torch.no_grad():
        assert torch.isfinite(small(x)).all()
    layers, summary = pt.export(small, desc, bits)
    assert len(layers) == n and summary["packed_bytes"] < summary["fp32_bytes"]
    prunable = sum(l.prunable for l in desc.convs)
    row = (name, prunable, len(desc.convs), net.macs(), net.macs(plan), desc)
    return row


@pytest.mark.parametrize("name", sorted(MODELS))
def test_torchvision_model(name):
    row = run_model(name)
    _, prunable, total, before, after, desc = row
    assert prunable > 0 and after < before
    assert (prunable == total) == MODELS[name][3], desc.summary()
    desc.close()


def test_resnet_shared_relu_is_quantized_per_use():
    """torchvision's BasicBlock calls one `relu` twice: after bn1 (quantized)
    and after the addition (full precision unless residual=True)."""
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    desc = pt.describe(m, x)
    sites = [s for s in desc.acts if s.module == "layer1.0.relu"]
    assert [(s.use, s.residual, s.uses) for s in sites] == [(0, False, 2), (1, True, 2)]
    bits = [4] * len(desc.layers)
    pt.quantize_model(m, desc, bits)
    relu = m.layer1[0].relu
    assert isinstance(relu, pt.PerUseAct)
    assert isinstance(relu.ops[0], pt.ActQuant) and isinstance(relu.ops[1], nn.ReLU)
    w, a = pt.inserted_bits(desc, bits)
    assert a[desc.by_name("layer1.0.conv2").id] == 4
    assert a[desc.by_name("layer1.1.conv1").id] == 32
    assert desc.net.bops(None, w, a) == pt.bops_of_model(m, x)[0]
    m(x)
    m(x)  # the per-use count restarts each forward
    assert relu.calls == 2


def test_residual_stream_quantized_on_measured_ranges():
    """residual=True with residual_bits and the ranges residual_ranges
    measures: the activation after each addition becomes ActQuant(8, its
    range), the next block reads 8 bits, and the C runtime runs those convs
    on codes with the float path's predictions."""
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.rand(4, 3, 32, 32)
    desc = pt.describe(m, x[:1])
    data = [x[:2], x[2:]]
    ranges = pt.residual_ranges(m, desc, data, quantile=0.99)
    # independently: every output of each relu call, the second call per block
    outs = {}
    hooks = [mod.register_forward_hook(lambda mod, i, o, n=n: outs.setdefault(n, []).append(o))
             for n, mod in m.named_modules() if n.endswith(".relu")]
    for b in data:
        m(b)
    for h in hooks:
        h.remove()
    want = {(n, 1): sum(float(torch.quantile(o.flatten(), 0.99)) for o in v[1::2]) / 2
            for n, v in outs.items()}
    assert ranges.keys() == want.keys() and len(ranges) == 8
    for k in want:
        assert ranges[k] == pytest.approx(want[k], rel=1e-6)
    bits = [32] + [4] * (len(desc.layers) - 2) + [32]
    wq, aq = pt.inserted_bits(desc, bits, residual=True, residual_bits=8)
    assert aq[desc.by_name("layer1.1.conv1").id] == 8 and aq[desc.by_name("layer1.0.conv2").id] == 4
    pt.quantize_model(m, desc, bits, residual=True, residual_bits=8, residual_scales=ranges)
    q = m.layer2[1].relu.ops[1]
    assert isinstance(q, pt.ActQuant) and (q.bits, q.scale) == (8, ranges[("layer2.1.relu", 1)])
    assert desc.net.bops(None, wq, aq) == pt.bops_of_model(m, x[:1])[0]
    data = pt.model_file_bytes(m, desc, bits, x[:1])
    with picpq.Model(data=data) as f, picpq.Model(data=data, integer=True) as i:
        lf, li = f.run(x.numpy(), batch=4), i.run(x.numpy(), batch=4)
        # all but the stem and layer1.0.conv1 (the max pool of the stem's float ReLU)
        assert f.conv_counts == (20, 0) and i.conv_counts == (20, 18)
    with torch.no_grad():
        lt = m(x).numpy()
    assert np.abs(lf - lt).max() < 1e-3 and np.abs(li - lf).max() < 0.05
    assert (li.argmax(1) == lt.argmax(1)).all()
    with pytest.raises(ValueError, match="residual_bits = 9: 2..8"):
        pt.inserted_bits(desc, bits, residual=True, residual_bits=9)
    m2 = torchvision.models.resnet18(num_classes=10).eval()
    with pytest.raises(ValueError, match=r"no entry for \('layer1.0.relu', 1\)"):
        pt.quantize_model(m2, desc, bits, residual=True, residual_scales={})
    with pytest.raises(ValueError, match="residual scale of layer1.0.relu = -1.0"):
        pt.quantize_model(m2, desc, bits, residual=True, residual_scales=-1)
    with pytest.raises(ValueError, match="quantile = 0: in"):
        pt.residual_ranges(m2, desc, [x], quantile=0)
    with pytest.raises(ValueError, match="data holds no batch"):
        pt.residual_ranges(m2, desc, [])


def test_relu6_is_quantized_on_0_6():
    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v2(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    desc = pt.describe(m, x)
    pt.quantize_model(m, desc, [4] * len(desc.layers))
    q = m.features[0][2]
    assert isinstance(q, pt.ActQuant) and q.scale == 6.0
    y = q(torch.linspace(-1, 7, 101))
    assert float(y.min()) == 0 and float(y.max()) == 6
    assert torch.allclose(y / 6 * 15, torch.round(y / 6 * 15))


def test_misuse_is_refused_clearly():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10).eval()
    other = torchvision.models.mobilenet_v2(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    desc = pt.describe(m, x)
    with pytest.raises(ValueError, match="describes a ResNet, not this MobileNetV2"):
        pt.quantize_model(other, desc, [4] * len(desc.layers))
    with pytest.raises(ValueError, match="bits has 3 entries but the description has 21"):
        pt.quantize_model(m, desc, [4, 4, 4])
    with pytest.raises(TypeError, match="expected an input tensor"):
        pt.describe(m, "not a tensor")
    fps = pt.rank_filters(m, desc, [(x, torch.zeros(1, dtype=torch.long))])
    assert len(fps) == len(desc.convs)


def test_ignored_layers_stay_whole():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(1, 3, 32, 32)
    desc = pt.describe(m, x, ignored_layers=["layer1.0.conv1", m.layer2[0].conv1])
    assert not desc.by_name("layer1.0.conv1").prunable
    assert not desc.by_name("layer2.0.conv1").prunable
    assert desc.by_name("layer3.0.conv1").prunable
    assert "ignored_layers" in desc.summary()
    with pytest.raises(ValueError, match="not a module"):
        pt.describe(m, x, ignored_layers=["nope"])


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_models_say_why(name):
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(num_classes=10).eval()
    with pytest.raises(pt.UnsupportedModel, match=REFUSED[name]) as err:
        pt.describe(m, torch.randn(1, 3, 32, 32))
    assert "node" in str(err.value) and "Way out" in str(err.value)


class _Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.c(x) if x.sum() > 0 else x


class _Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = _Branchy()

    def forward(self, x):
        return self.block(x)


def test_untraceable_model_names_the_place_and_the_way_out():
    with pytest.raises(pt.UnsupportedModel) as err:
        pt.describe(_Outer(), torch.randn(1, 3, 8, 8))
    msg = str(err.value)
    assert "module 'block'" in msg and "function forward" in msg
    assert "leaf_modules" in msg and "concrete_args" in msg
