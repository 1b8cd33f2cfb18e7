"""The quality sweep (examples/python/sweep_fmnist.py) on the smoke profile:
one result per seed, method and budget, a lever's changed fitness, and the
report's tables."""
import json

from fmnist_examples import example

sweep_fmnist = example("sweep_fmnist")


def test_sweep_smoke(tmp_path):
    out = tmp_path / "sweep"
    args = ["--profile", "smoke", "--seeds", "0", "1", "--budgets", "0.5", "0.35",
            "--ratios", "16", "24", "--methods", "pic-pq", "uniform", "pic-pq-tau60",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    sweep_fmnist.main(args)
    for seed in (0, 1):
        for method, budgets in (("pic-pq", (0.5, 0.35)), ("uniform", (0.5, 0.35)),
                                ("pic-pq-tau60", (0.35,))):   # a lever: the middle budget
            for kf in budgets:
                r = json.loads((out / f"seed{seed}-{method}-macs{kf:g}.json").read_text())
                assert (r["seed"], r["method"], r["macs_fraction"]) == (seed, method, kf)
                assert r["bops_met"] and 0 <= r["test_acc"] <= 100
        assert not (out / f"seed{seed}-pic-pq-tau60-macs0.5.json").exists()
        # the lever's search fine-tunes 60 steps a candidate; pic-pq's the profile's 2
        steps = {m: json.loads((out / f"seed{seed}-{m}-search.json").read_text())
                 ["settings"]["steps"] for m in ("pic-pq", "pic-pq-tau60")}
        assert steps == {"pic-pq": 2, "pic-pq-tau60": 60}
    report = (out / "sweep.md").read_text()
    assert "| pic-pq − uniform |" in report and "| pic-pq-tau60 − uniform | - |" in report
    assert "| candidates fine-tuned 20 steps (default, quick) vs 60 | pic-pq − pic-pq-tau60 |" \
        in report
    assert (out / "sweep.png").stat().st_size > 0
    # finished tasks are not run again: a second call only reports
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("seed*-macs*.json")}
    sweep_fmnist.main(args)
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("seed*-macs*.json")} == before
