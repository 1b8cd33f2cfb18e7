"""picpq.torch's pipeline API: data streams, candidate reuse, resumable
search, the rebuilt candidate module, several budgets, one-call compress,
and save/load of a compressed model in a fresh process."""
import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import picpq  # noqa: E402
import picpq.torch as ptq  # noqa: E402
from picpq.torch.models import resnet20  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def tiny_data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def compressor(**kw):
    torch.manual_seed(0)
    model = resnet20()
    c = ptq.Compressor(model, torch.zeros(1, 1, 28, 28), threads=1, **kw)
    rng = np.random.default_rng(1)
    for l in c.desc.convs:
        c.net.set_fp(l.id, rng.uniform(0, 28, c.net.layer_channels(l.id)[1]))
    return c


def test_streams_are_common_random_numbers_over_tensors_and_loaders():
    x, y = tiny_data()
    a, b = ptq.Batches((x, y), 16, seed=5), ptq.Batches((x, y), 16, seed=5)
    for _ in range(6):   # past an epoch: reshuffled alike
        (xa, ya), (xb, yb) = a.next(), b.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16,
                                         shuffle=True)
    la, lb = ptq.Batches(loader, seed=3), ptq.Batches(loader, seed=3)
    seen = [la.next() for _ in range(6)]
    for xa, ya in seen:
        xb, yb = lb.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(seen[0][1], ptq.Batches(loader, seed=4).next()[1])
    # calibration inputs from every accepted form
    for data in (x, (x, y), list(x.split(16)), loader):
        got = ptq.data.input_batches(data, images=40, batch=16)
        assert sum(t.shape[0] for t in got) == 40


def test_train_checkpoint_resumes_to_the_uninterrupted_weights(tmp_path):
    x, y = tiny_data(40)   # 2.5 batches of 16: the resumed stream reshuffles mid-way

    def fresh():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    whole = fresh()
    ptq.train(whole, ptq.Batches((x, y), 16, 1), 7, 0.1)
    ck = str(tmp_path / "ck.pt")

    def stop_at_6(out, target):   # a training killed after its save at step 4
        stop_at_6.calls += 1
        if stop_at_6.calls == 6:
            raise KeyboardInterrupt
        return torch.nn.functional.cross_entropy(out, target)
    stop_at_6.calls = 0
    pieces = fresh()
    with pytest.raises(KeyboardInterrupt):
        ptq.train(pieces, ptq.Batches((x, y), 16, 1), 7, 0.1, checkpoint=ck, every=2,
                  loss_fn=stop_at_6)
    assert torch.load(ck, weights_only=False)["step"] == 4
    pieces = fresh()   # a new process: a new model and stream, the same file
    ptq.train(pieces, ptq.Batches((x, y), 16, 1), 7, 0.1, checkpoint=ck, every=2)
    for p, q in zip(whole.parameters(), pieces.parameters()):
        assert torch.equal(p, q)
    assert not os.path.exists(ck)   # removed at the end
    with pytest.raises(ValueError, match="needs a Batches over tensors"):
        ptq.train(fresh(), [(x, y)], 2, 0.1, checkpoint=ck)
    with pytest.raises(ValueError, match="every = 0"):
        ptq.train(fresh(), ptq.Batches((x, y), 16, 1), 2, 0.1, checkpoint=ck, every=0)
    torch.save(dict(steps=3), ck)
    with pytest.raises(ValueError, match="not a checkpoint of this 7-step training"):
        ptq.train(fresh(), ptq.Batches((x, y), 16, 1), 7, 0.1, checkpoint=ck)


def test_evaluate_accepts_tensors_and_loaders():
    x, y = tiny_data(40)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=7)
    acc, loss = ptq.evaluate(model, (x, y), batch=9)
    acc2, loss2 = ptq.evaluate(model, loader)
    assert acc == acc2 and loss == pytest.approx(loss2, rel=1e-6)


def test_default_bits_and_plan_key():
    c = compressor()
    assert c.max_bits == [32] + [8] * 18 + [32]
    assert ptq.default_bits(c.desc, 4) == [32] + [4] * 18 + [32]
    ones, zeros = np.ones(c.net.num_layers), np.zeros(c.net.num_layers)
    plan = c.new_plan()
    assert plan.compute(ones, zeros, 0.5)
    k1 = plan.key()
    assert plan.compute(2 * ones, zeros, 0.5)       # same order: same network
    assert plan.key() == k1
    assert plan.compute(ones, zeros, 0.3)
    assert plan.key() != k1
    plan.close()
    c.close()


def test_candidate_module_is_rebuilt_not_copied():
    """apply_plan(out=...) gives the same tensors as a deep-copying apply_plan,
    whatever the previous candidate was and even after it was trained."""
    c = compressor()
    n = c.net.num_layers
    rng = np.random.default_rng(0)
    x, y = tiny_data(32)
    first = None
    for i in range(4):
        a, b = rng.uniform(0.5, 2, n), rng.uniform(-1, 1, n)
        small = c.candidate(a, b, macs=[0.3, 0.6, 0.45, 0.5][i])
        first = first or small
        assert small is first   # one module, reused
        ref = ptq.apply_plan(c.model, c.desc, c.plan)
        sa, sb = small.state_dict(), ref.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        ptq.train(small, ptq.Batches((x, y), 16, 0), 2, 0.1)   # must not touch the base
    torch.manual_seed(0)
    base = resnet20()   # what compressor() started from
    assert all(torch.equal(p, q) for p, q in zip(base.state_dict().values(),
                                                 c.model.state_dict().values()))
    c.close()


def test_search_reuses_scored_networks_and_resumes(tmp_path):
    x, y = tiny_data(64)
    calls = []

    def evaluate(model):
        calls.append(1)
        return ptq.evaluate(model, (x[:32], y[:32]))[1], len(calls)

    kw = dict(steps=1, batch=16, population=3, sample=2, generations=8, progress=False)
    c = compressor(macs=0.6)
    full = c.search(evaluate, (x, y), **kw)   # distinct: 8 networks, repeats dropped
    distinct = {t["info"] for t in full.trace if not t["reused"] and t["budget_met"]}
    assert len(calls) == len(distinct) == 8 and len(full.trace) > 8
    assert all(t["reused"] for t in full.trace if t["info"] not in distinct or
               [u["id"] for u in full.trace if u["info"] == t["info"]][0] != t["id"])
    c.close()
    calls.clear()
    c = compressor(macs=0.6, faithful=True)   # the reference: a repeat counts
    counted = c.search(evaluate, (x, y), **kw)
    assert len(counted.trace) == 8 and len(calls) == sum(not t["reused"] for t in counted.trace)
    assert len(calls) < 8
    c.close()
    calls.clear()

    # cut after 3 evaluations, then resumed from the state file: the same search
    state = str(tmp_path / "search.json")
    calls.clear()

    def failing(model):
        if len(calls) == 3:
            raise KeyboardInterrupt
        return evaluate(model)
    c = compressor(macs=0.6)
    with pytest.raises(KeyboardInterrupt):
        c.search(failing, (x, y), state=state, **kw)
    c.close()
    c = compressor(macs=0.6)
    resumed = c.search(evaluate, (x, y), state=state, **kw)
    assert [t["loss"] for t in resumed.trace] == [t["loss"] for t in full.trace]
    assert np.array_equal(resumed.a, full.a) and resumed.loss == full.loss
    with pytest.raises(ValueError, match="other settings"):
        c.search(evaluate, (x, y), state=state, **dict(kw, generations=9))
    # several budgets from the best (a, b)
    pairs = c.plans([0.3, 0.6], full.a, full.b)
    assert all(met for _, met in pairs)
    assert c.net.macs(pairs[0][0]) < c.net.macs(pairs[1][0]) <= 0.6 * c.base_cost["macs"]
    for p, _ in pairs:
        p.close()
    c.close()


def test_fitness_that_sees_the_bits(tmp_path):
    """score(bops=): the candidate trains and is scored quantized at the bits
    fit_bits gives its plan, on a copy; computed here from public calls."""
    x, y = tiny_data(64)
    val = (x[:32], y[:32])
    kw = dict(steps=3, batch=16, bn_recal_batches=1)
    c = compressor(macs=0.5)
    n = c.net.num_layers
    a, b = np.ones(n), np.zeros(n)
    plain, _, _ = c.score(a, b, lambda m: ptq.evaluate(m, val)[1], (x, y), **kw)
    seen = []

    def evaluate(model):
        seen.append(model)
        return ptq.evaluate(model, val)[1]
    loss, _, met = c.score(a, b, evaluate, (x, y), bops=1 / 24, **kw)
    assert met
    # by hand: the bits of the plan for 1/24 of the BOPs, a quantized copy, same batches
    bits, _, _ = ptq.fit_bits(c.plan, c.max_bits, c.base_cost["bops"] / 24, c.bit_rule, c.fill)
    assert min(bits) < 32
    q = ptq.quantize_model(copy.deepcopy(c.candidate(a, b)), c.desc, bits)
    batches = c.stream((x, y), 16, 2)
    ptq.train(q, batches, 3, 0.01, nesterov=False, cosine=False)
    ptq.recalibrate_bn(q, batches, 1)
    assert loss == ptq.evaluate(q, val)[1] != plain
    assert any(isinstance(m, ptq.ActQuant) for m in seen[0].modules())
    # the reused candidate module stays unquantized: the plain fitness is unchanged
    assert not any(isinstance(m, ptq.ActQuant) for m in c.candidate(a, b).modules())
    assert c.score(a, b, lambda m: ptq.evaluate(m, val)[1], (x, y), **kw)[0] == plain
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="a fraction > 0"):
            c.score(a, b, evaluate, (x, y), bops=bad, **kw)
    # a search stores the target among its settings
    state = tmp_path / "search.json"
    c.search(evaluate, (x, y), population=2, sample=2, generations=2, progress=False,
             bops=1 / 24, state=str(state), **kw)
    assert json.loads(state.read_text())["settings"]["bops"] == 1 / 24
    c.close()


def test_compress_in_one_call(tmp_path):
    x, y = tiny_data(64)
    torch.manual_seed(0)
    c = ptq.compress(resnet20(), (x, y), lambda m: ptq.evaluate(m, (x[:32], y[:32]))[1],
                     macs=0.5, bops=1 / 8, calib_images=32, batch=16, search_steps=1,
                     population=3, sample=2, generations=3, finetune_steps=1, qat_steps=2,
                     threads=1, progress=False, export=str(tmp_path / "m.bin"))
    assert c.bits[0] == 32 and c.bits[-1] == 32 and c.budget_met and c.bops_met
    assert c.cost(c.plan)["macs"] <= 0.5 * c.base_cost["macs"]
    assert any(isinstance(m, ptq.ActQuant) for m in c.pruned.modules())
    assert (tmp_path / "m.bin").stat().st_size > 0
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None and hasattr(ptq, "export_onnx"):   # a .onnx path gets ONNX
        c.export(str(tmp_path / "m.onnx"))
        onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")))
    c.close()


def test_quantize_residual_stream_on_the_calibration_ranges():
    c = compressor()
    n = c.net.num_layers
    with pytest.raises(ValueError, match="prune and assign_bits first"):
        c.quantize()
    c.prune(np.ones(n), np.zeros(n))
    c.assign_bits(tau=1 / 6)
    assert c.residual_bits == 8 and compressor(faithful=True).residual_bits == 0
    with pytest.raises(ValueError, match="the residual ranges need data"):
        c.quantize()
    with pytest.raises(ValueError, match="residual_bits = 1: 2..8, or 0"):
        c.quantize(residual_bits=1)
    x, _ = tiny_data(32)
    c._calib = [x[:16], x[16:]]   # what calibrate() keeps, without its FP pass
    want = ptq.residual_ranges(c.pruned, c.pruned_desc, [x[:16], x[16:]])
    plain = c.cost(c.plan, c.bits)
    c.quantize(weights=False)
    mods = dict(c.pruned.named_modules())
    sites = [s for s in c.pruned_desc.acts if s.residual]
    assert len(sites) == 9
    for s in sites:
        q = mods[s.module]
        assert isinstance(q, ptq.ActQuant) and q.bits == 8 and q.scale == want[(s.module, s.use)]
    run = c.cost(c.plan, c.bits)
    w, a = ptq.inserted_bits(c.desc, c.bits, residual=True, residual_bits=8)
    assert run["bops_run"] == c.net.bops(c.plan, w, a) < plain["bops_run"]
    assert run["bops"] == plain["bops"]   # the paper's convention does not move
    c.quantize()   # weights too; the residual quantizers stay as they are
    assert all(mods[s.module] is dict(c.pruned.named_modules())[s.module] for s in sites)
    c.close()
    f = compressor(residual_bits=0)   # float32 stream: nothing after the additions
    f.prune(np.ones(n), np.zeros(n))
    f.assign_bits(tau=1 / 6)
    f.quantize(weights=False)
    assert not isinstance(dict(f.pruned.named_modules())[sites[0].module], ptq.ActQuant)
    assert f.cost(f.plan, f.bits)["bops_run"] == plain["bops_run"]
    f.close()


def test_save_and_load_a_qat_model_in_a_fresh_process(tmp_path):
    c = compressor()
    n = c.net.num_layers
    c.prune(np.ones(n), np.zeros(n))
    c.assign_bits(tau=1 / 6)
    c._calib = [tiny_data(8)[0]]   # the residual ranges' images
    qat = c.quantize()
    with pytest.raises(RuntimeError, match="parametrized"):
        torch.save(qat, str(tmp_path / "plain.pt"))   # why save_compressed exists
    params = list(qat.parameters())
    path = str(tmp_path / "qat.pt")
    ptq.save_compressed(qat, path, bits=c.bits)
    assert [id(p) for p in qat.parameters()] == [id(p) for p in params]  # optimizer-safe
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    torch.save(x, str(tmp_path / "x.pt"))
    qat.eval()
    with torch.no_grad():
        ref = qat(x)
    code = (f"import torch, picpq.torch as ptq\n"
            f"m, meta = ptq.load_compressed({path!r}, with_meta=True)\n"
            f"m.eval()\n"
            f"assert meta['bits'] == {c.bits!r}\n"
            f"with torch.no_grad():\n"
            f"    torch.save(m(torch.load({str(tmp_path / 'x.pt')!r})), "
            f"{str(tmp_path / 'y.pt')!r})\n")
    env = dict(os.environ)
    if os.environ.get("PICPQ_TEST_INSTALLED") != "1":   # else the installed package
        env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert torch.equal(torch.load(str(tmp_path / "y.pt")), ref)
    with pytest.raises(ValueError, match="not a file"):
        ptq.load_compressed(str(tmp_path / "x.pt"))
    c.close()


def test_progress_in_a_log_file_is_a_line_per_tenth(capsys):
    """Under pytest stderr is not a terminal: training logs its first step and
    each tenth of the way."""
    class Batches:
        def next(self):
            return torch.ones(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                torch.nn.Linear(8, 3))
    ptq.train(model, Batches(), 100, 0.01, "fine-tune")
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["1/100"] + [f"{10 * k}/100"
                                                               for k in range(1, 11)]
    for i in range(1, 4):   # fewer steps than tenths: every step once
        ptq.data.progress("search", i, 3)
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_threads_default():
    assert ptq.configure_threads(1) == 1
    assert picpq.version()


def test_fp_scale_minmax_maps_each_conv_onto_0_1():
    c = compressor(fp_scale="minmax")
    raw = {l.id: c.net.fp(l.id) for l in c.desc.convs}
    first = c.desc.convs[0].id
    c.net.set_fp(first, np.full(raw[first].shape, 7.0))   # constant: becomes 0
    c.scale_filter_property()
    assert np.all(c.net.fp(first) == 0.0)
    for l in c.desc.convs[1:]:
        fp = raw[l.id]
        np.testing.assert_allclose(c.net.fp(l.id), (fp - fp.min()) / (fp.max() - fp.min()))
    c.close()
    c = compressor(fp_scale="raw")   # raw leaves the FP alone
    before = c.net.fp(first)
    c.scale_filter_property()
    assert np.array_equal(c.net.fp(first), before)
    c.close()


@pytest.mark.parametrize("kind", ["vgg", "mobilenet"])
def test_rebuilt_candidate_equals_a_deep_copy_on_other_models(kind):
    """apply_plan(out=...) on a VGG with a linear classifier and on a
    MobileNetV2 (depthwise convs, identity residuals): same tensors as a
    deep-copying apply_plan, plan after plan."""
    from torch import nn
    torch.manual_seed(0)
    if kind == "vgg":
        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                              nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
                              nn.Linear(32 * 8 * 8, 24), nn.ReLU(), nn.Linear(24, 10))
    else:
        tv = pytest.importorskip("torchvision")
        model = tv.models.mobilenet_v2(num_classes=10, width_mult=0.35)
    x = torch.randn(2, 3, 16, 16)
    desc = ptq.describe(model, x)
    rng = np.random.default_rng(2)
    for l in desc.convs:
        desc.net.set_fp(l.id, rng.uniform(0, 10, desc.net.layer_channels(l.id)[1]))
    plan, out = picpq.Plan(desc.net), None
    n = desc.net.num_layers
    for keep in (0.4, 0.7, 0.5):
        assert plan.compute(np.exp(rng.normal(size=n)), rng.normal(size=n), keep)
        ref = ptq.apply_plan(model, desc, plan)
        out = ptq.apply_plan(model, desc, plan,
                             out=out if out is not None else copy.deepcopy(model))
        sa, sb = out.state_dict(), ref.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
        out.eval()
        ref.eval()
        with torch.no_grad():
            assert torch.equal(out(x), ref(x))
    plan.close()
    desc.close()


def test_assign_bits_uniform_rule_and_fill():
    """rule "uniform" (the default): one bitwidth (capped at B_l) within the
    target, then fitted; the sparsity rule with fill lands within the
    target, above tau alone's BOPs."""
    c = compressor()
    n = c.net.num_layers
    c.prune(np.ones(n), np.zeros(n), macs=0.4)
    target = c.base_cost["bops"] / 90
    plain = c.assign_bits(bops=1 / 90, fill=False, rule="sparsity")
    assert not c.bops_met   # tau alone: the unpruned layers keep B_l, over the target
    assert c.net.bops(c.plan, plain, plain) > target
    filled = c.assign_bits(bops=1 / 90, rule="sparsity")
    assert c.bops_met and c.net.bops(c.plan, filled, filled) <= target
    met = c.assign_bits(bops=1 / 30, fill=False, rule="sparsity")  # tau alone meets it
    assert c.bops_met
    more = c.assign_bits(bops=1 / 30, rule="sparsity")
    assert c.net.bops(c.plan, met, met) <= c.net.bops(c.plan, more, more) <= \
        c.base_cost["bops"] / 30 and more != met
    uni = c.assign_bits(bops=1 / 90)
    assert c.tau is None and c.bit_rule == "uniform"
    assert c.bops_met and c.net.bops(c.plan, uni, uni) <= target
    inner = [b for b, m in zip(uni, c.max_bits) if m != 32]
    assert max(inner) - min(inner) <= 1     # one bitwidth, raised by at most the fill's bit
    with pytest.raises(ValueError, match="needs a bops"):
        c.assign_bits(rule="uniform")
    c.close()
    with pytest.raises(ValueError, match="bits must be one of"):
        compressor(bits="mixed")
