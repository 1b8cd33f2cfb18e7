"""The main job's smoke profile runs end to end with consistent numbers."""
import json
import os
import sys
from types import SimpleNamespace

import pytest

from fmnist_examples import example

compress_fmnist = example("compress_fmnist")
torch = compress_fmnist.torch


def test_smoke_profile(tmp_path):
    out = tmp_path / "out"
    results = compress_fmnist.main(["--profile", "smoke", "--seed", "1", "--out", str(out),
                                    "--threads", "1",
                                    "--cache-dir", str(tmp_path / "cache")])
    base, pq = results["baseline"], results["pic-pq"]
    assert pq["budget_met"] and pq["macs"] <= pq["budget"] + 1e-6
    assert pq["budget"] == pytest.approx(0.5 * base["macs"])
    assert pq["bops"] < base["bops"] and pq["macs"] < base["macs"]
    assert pq["packed_bytes"] < base["fp32_bytes"]
    assert all(b in (2, 3, 4, 5, 6, 7, 8, 32) for b in pq["bits"])
    trace = results["search"]["trace"]   # distinct networks count; repeats are dropped
    assert sum(not t["reused"] for t in trace) == compress_fmnist.PROFILES["smoke"]["generations"]

    def no_constants(name):  # Infinity / NaN are not JSON
        raise AssertionError(f"results.json holds the non-standard token {name}")
    on_disk = json.loads((out / "results.json").read_text(), parse_constant=no_constants)
    assert on_disk["pic-pq"]["bops"] == pq["bops"]
    for f in ("report.md", "search.png", "layers.png", "model_packed.bin"):
        assert (out / f).stat().st_size > 0
    assert (out / "model_packed.bin").stat().st_size == pq["packed_bytes"]
    # the report also gives the BOPs the quantized model runs (8-bit inputs after the
    # residual additions, float32 into the stem): more than the paper's convention counts
    assert pq["bops"] < pq["bops_run"] < base["bops"] and base["bops_run"] == base["bops"]
    assert "BOPs as run (ratio)" in (out / "report.md").read_text()
    # the deployable files: the C runtime predicts as the torch QAT model does
    dep = pq["deploy"]
    assert (out / "model.pqm").stat().st_size == dep["model_file_bytes"]
    assert dep["model_file_bytes"] * 4 < base["fp32_bytes"]
    # a barely trained model has near-ties (a top-2 margin of 6e-4 was measured, under the
    # 0.07 logit difference): one image of 128 may flip; the quick profile agrees on 99.99 %
    assert dep["c_same_prediction"] >= 99.0 and dep["c_max_logit_diff"] < 0.2
    assert abs(dep["c_test_acc"] - pq["test_acc"]) <= 1.0
    assert dep["int_same_prediction"] >= 99.0 and dep["int_max_logit_diff"] < 0.5
    # every conv but the stem and the first block's conv1 (the stem's float ReLU) on codes
    assert (dep["int_convs"], dep["int_convs_on_codes"]) == (19, 17)
    if dep["onnx_file"] is not None:
        assert (out / "model.onnx").stat().st_size == dep["onnx_bytes"]
    report = (out / "report.md").read_text()
    assert f"| baseline (fp32) | {base['test_acc']:.2f} | {base['test_acc']:.2f} | 0.00 |" \
        in report and "| 1.00x |" in report

    # deterministic for a --seed: everything again from scratch (baseline trained anew)
    fresh = compress_fmnist.main(["--profile", "smoke", "--seed", "1", "--threads", "1",
                                  "--out", str(tmp_path / "o3"),
                                  "--cache-dir", str(tmp_path / "cache3")])
    assert fresh["baseline"]["source"] == "trained now"
    assert fresh["baseline"]["test_acc"] == base["test_acc"]
    assert fresh["search"]["trace"] == results["search"]["trace"]
    for key in ("kept", "bits", "test_acc", "bops", "packed_bytes"):
        assert fresh["pic-pq"][key] == pq[key]
    assert (tmp_path / "o3" / "model_packed.bin").read_bytes() == \
        (out / "model_packed.bin").read_bytes()

    # --lub: the same (a, b) without a search gives the same plan and bits
    lub = tmp_path / "best.lub"
    lub.write_text(results["search"]["lub"])
    again = compress_fmnist.main(["--profile", "smoke", "--seed", "1", "--threads", "1",
                                  "--out", str(tmp_path / "o2"),
                                  "--cache-dir", str(tmp_path / "cache"), "--lub", str(lub)])
    assert again["search"]["trace"] == [] and again["search"]["source"] == str(lub)
    assert again["pic-pq"]["kept"] == pq["kept"] and again["pic-pq"]["bits"] == pq["bits"]
    assert again["pic-pq"]["test_acc"] == pq["test_acc"]  # deterministic at a fixed thread count
    # the paper's placement: the residual stream in float32, its readers in float too
    flt = compress_fmnist.main(["--profile", "smoke", "--seed", "1", "--threads", "1",
                                "--out", str(tmp_path / "o4"), "--residual-bits", "0",
                                "--cache-dir", str(tmp_path / "cache"), "--lub", str(lub)])
    fq = flt["pic-pq"]
    assert fq["bits"] == pq["bits"] and fq["bops"] == pq["bops"]
    assert fq["bops_run"] > pq["bops_run"]
    assert (fq["deploy"]["int_convs"], fq["deploy"]["int_convs_on_codes"]) == (19, 9)


def test_resume_reuses_finished_methods_only_when_intact(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--profile", "smoke", "--seed", "2", "--threads", "1", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--compare", "--resume"]
    first = compress_fmnist.main(args)
    packed = (out / "model_packed.bin").read_bytes()
    assert "reusing" not in capsys.readouterr().out  # nothing to reuse yet
    again = compress_fmnist.main(args)
    said = capsys.readouterr().out
    for name in ("pic-pq", "uniform", "global-ab10"):
        assert f"{name}: reusing" in said
        assert again[name]["test_acc"] == first[name]["test_acc"]
    assert (out / "model_packed.bin").read_bytes() == packed
    # a damaged stage is trained again, and gives the same numbers
    stage = out / "stage-pic-pq.bin"
    stage.write_bytes(stage.read_bytes()[:-1])
    (out / "stage-uniform.json").write_text("{")
    third = compress_fmnist.main(args)
    said = capsys.readouterr().out
    assert "pic-pq: reusing" not in said and "uniform: reusing" not in said
    assert "global-ab10: reusing" in said
    for name in ("pic-pq", "uniform"):
        assert third[name]["test_acc"] == first[name]["test_acc"]
    assert (out / "model_packed.bin").read_bytes() == packed
    # other inputs (here the thread count) are never taken for the saved ones
    other = list(args)
    other[other.index("--threads") + 1] = "2"
    compress_fmnist.main(other)
    assert "pic-pq: reusing" not in capsys.readouterr().out


def test_strict_json_and_stage_digest():
    """An unmet budget's +inf loss is written as null; a saved stage's key
    follows the network and the training inputs (plan_key and the search's
    reuse of scored networks are tested in test_pipeline.py)."""
    assert compress_fmnist.strict_json(
        {"loss": float("inf"), "t": [1.5, float("nan"), (2, float("-inf"))], "n": 3}) == \
        {"loss": None, "t": [1.5, None, [2, None]], "n": 3}
    import numpy as np
    import picpq
    import picpq.torch as pt
    from picpq.torch.models import resnet20
    model = resnet20()
    desc = pt.describe(model, torch.zeros(1, 1, 28, 28))
    net = desc.net
    rng = np.random.default_rng(1)
    for l in desc.convs:
        net.set_fp(l.id, rng.uniform(0, 28, net.layer_channels(l.id)[1]))
    plan = picpq.Plan(net)
    ones, zeros = np.ones(net.num_layers), np.zeros(net.num_layers)
    assert plan.compute(ones, zeros, 0.5)

    # a saved stage is keyed by the kept filters and the training inputs, not by
    # the plan options that chose those filters
    args, bits = SimpleNamespace(seed=0, threads=1), [8] * net.num_layers
    prof = dict(compress_fmnist.PROFILES["smoke"], chain_reduce="sum", fp_scale="raw")
    digest = compress_fmnist.stage_digest(args, prof, model, desc, plan, bits)
    other = dict(prof, chain_reduce="max", fp_scale="minmax")
    assert compress_fmnist.stage_digest(args, other, model, desc, plan, bits) == digest
    for changed in (dict(prof, finetune_steps=4), dict(prof, batch=16)):
        assert compress_fmnist.stage_digest(args, changed, model, desc, plan, bits) != digest
    assert compress_fmnist.stage_digest(args, prof, model, desc, plan, [6] * len(bits)) != digest
    assert compress_fmnist.stage_digest(SimpleNamespace(seed=0, threads=2), prof, model, desc,
                                        plan, bits) != digest
    assert plan.compute(ones, zeros, 0.3)           # another network
    assert compress_fmnist.stage_digest(args, prof, model, desc, plan, bits) != digest
    plan.close()
    desc.close()


def test_compare_baselines_meet_the_same_costs():
    """--compare's baselines (the training part is the same code as above)."""
    import numpy as np
    import picpq.torch as pt
    from picpq.torch.models import resnet20
    desc = pt.describe(resnet20(), torch.zeros(1, 1, 28, 28))
    net = desc.net
    rng = np.random.default_rng(0)
    for l in desc.convs:
        net.set_fp(l.id, rng.uniform(0, 28, net.layer_channels(l.id)[1]))
    max_bits = compress_fmnist.max_bits_of(desc, 3)
    assert max_bits == [32] + [8] * 6 + [6] * 6 + [4] * 6 + [32]
    base_bops = net.bops()
    target_macs, target_bops = 0.5 * net.macs(), base_bops / 40
    uplan, ubits = compress_fmnist.uniform_baseline(desc, target_macs, target_bops, max_bits)
    assert net.macs(uplan) <= target_macs and net.bops(uplan, ubits, ubits) <= target_bops
    assert len({b for b in ubits if b != 32}) == 1
    for group in compress_fmnist.coupled_groups(desc):   # coupled layers agree
        widths = {}
        for l in group:
            widths.setdefault(net.layer_channels(l)[1], set()).add(
                uplan.keep_mask(l).tobytes())
        assert all(len(v) == 1 for v in widths.values())
    for reduce, code in (("sum", 0), ("mean", 1), ("max", 2)):
        prof = dict(keep_fraction=0.5, chain_reduce=reduce)
        gplan, gbits = compress_fmnist.global_ranking_baseline(net, prof, target_bops, max_bits)
        assert gplan.get("plan.chain_reduce") == code
        assert net.bops(gplan, gbits, gbits) <= target_bops
        assert net.macs(gplan) <= 0.5 * net.macs()
    assert compress_fmnist.new_plan(net, {}).get("plan.chain_reduce") == 0  # the reference

    desc.close()


def test_missing_dataset_is_explained(tmp_path):
    import subprocess
    env = dict(os.environ, PICPQ_FMNIST_DIR=str(tmp_path / "none"))
    proc = subprocess.run([sys.executable, compress_fmnist.__file__, "--profile", "smoke",
                           "--out", str(tmp_path / "out")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "Fashion-MNIST not found" in proc.stderr and "dataset-fashion-mnist" in proc.stderr


def test_missing_torch_is_explained(tmp_path):
    """A Python without torch: the demo names the packages to install."""
    import subprocess
    blocker = tmp_path / "sitecustomize.py"   # makes `import torch` fail
    blocker.write_text("import sys\nsys.modules['torch'] = None\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    proc = subprocess.run([sys.executable, compress_fmnist.__file__, "--profile", "smoke"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "torch is missing" in proc.stderr and "python3-torch" in proc.stderr
    assert "Traceback" not in proc.stderr
