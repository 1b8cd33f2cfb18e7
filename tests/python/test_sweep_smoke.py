"""The quality sweep (examples/python/sweep_fmnist.py) on the smoke profile:
one result per seed, method and budget, a lever's changed fitness, and the
report's tables."""
import json
import re

from fmnist_examples import example

sweep_fmnist = example("sweep_fmnist")


def test_sweep_smoke(tmp_path):
    out = tmp_path / "sweep"
    args = ["--profile", "smoke", "--seeds", "0", "1", "--budgets", "0.5", "0.35",
            "--ratios", "16", "24", "--methods", "pic-pq", "uniform", "pic-pq-tau20",
            "pic-pq-qbits", "pic-pq-each60", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    sweep_fmnist.main(args)
    for seed in (0, 1):
        for method, budgets in (("pic-pq", (0.5, 0.35)), ("uniform", (0.5, 0.35)),
                                ("pic-pq-tau20", (0.5, 0.35)),
                                ("pic-pq-qbits", (0.35,)),   # a lever: the middle budget
                                ("pic-pq-each60", (0.5,))):  # pic-pq itself at the middle
            for kf in budgets:
                r = json.loads((out / f"seed{seed}-{method}-macs{kf:g}.json").read_text())
                assert (r["seed"], r["method"], r["macs_fraction"]) == (seed, method, kf)
                assert r["bops_met"] and 0 <= r["test_acc"] <= 100
        assert not (out / f"seed{seed}-pic-pq-qbits-macs0.5.json").exists()
        assert not (out / f"seed{seed}-pic-pq-each60-macs0.35.json").exists()
        # the levers' searches fine-tune 20 steps a candidate, pic-pq's the profile's 2;
        # pic-pq-qbits' quantized at the bits for the middle budget's 24x: the same
        # first candidate (same seed) scores another loss
        states = {m: json.loads((out / f"seed{seed}-{m}-search.json").read_text())
                  for m in ("pic-pq", "pic-pq-tau20", "pic-pq-qbits", "pic-pq-each60-macs0.5")}
        assert {m: st["settings"]["steps"] for m, st in states.items()} == \
            {"pic-pq": 2, "pic-pq-tau20": 20, "pic-pq-qbits": 20, "pic-pq-each60-macs0.5": 2}
        assert {m: st["settings"].get("bops") for m, st in states.items()} == \
            {"pic-pq": None, "pic-pq-tau20": None, "pic-pq-qbits": 1 / 24,
             "pic-pq-each60-macs0.5": None}
        assert {m: st["settings"]["macs"] for m, st in states.items()} == \
            {"pic-pq": 0.35, "pic-pq-tau20": 0.35, "pic-pq-qbits": 0.35,
             "pic-pq-each60-macs0.5": 0.5}   # pic-pq-each60 searches at its own budget
        first = {m: states[m]["trace"][0] for m in ("pic-pq-tau20", "pic-pq-qbits")}
        assert first["pic-pq-tau20"]["id"] == first["pic-pq-qbits"]["id"]
        assert first["pic-pq-tau20"]["loss"] != first["pic-pq-qbits"]["loss"]
    report = (out / "sweep.md").read_text()
    assert "| pic-pq − uniform |" in report and "| pic-pq-tau20 − uniform |" in report
    assert "| candidates fine-tuned 60 steps (default, quick) vs 20 | pic-pq − pic-pq-tau20 |" \
        in report
    assert re.search(r"\| fitness trained in float \(default, paper\) vs quantized at its "
                     r"bits \| pic-pq-tau20 − pic-pq-qbits \| - \| [+-]\d+\.\d\d ± "
                     r"\d+\.\d\d \(n=2\) \|", report)   # the middle budget alone
    assert re.search(r"\| one search for every budget \(default\) vs one per budget, 60 "
                     r"steps \| pic-pq − pic-pq-each60 \| [+-]\d+\.\d\d ± \d+\.\d\d "
                     r"\(n=2\) \| - \|", report)   # every budget but the middle one
    assert (out / "sweep.png").stat().st_size > 0
    # finished tasks are not run again: a second call only reports
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("seed*-macs*.json")}
    sweep_fmnist.main(args)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("seed*-macs*.json")} == before
