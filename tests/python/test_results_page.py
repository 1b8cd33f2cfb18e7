"""docs/RESULTS.md against its raw results: the sweep's report, made again
from docs/results/sweep, gives the page's tables verbatim, and the README's
figures for the defaults are the page's."""
import os
import shutil

from fmnist_examples import example

sweep_fmnist = example("sweep_fmnist")
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")


def test_results_page_tables_are_the_sweeps_report(tmp_path):
    raw = os.path.join(DOCS, "results", "sweep")
    for name in os.listdir(raw):
        if name.endswith(".json"):
            shutil.copy(os.path.join(raw, name), tmp_path)
    summary = sweep_fmnist.main(["--out", str(tmp_path), "--report"])
    tables = [block for block in (tmp_path / "sweep.md").read_text().split("\n\n")
              if block.startswith("|")]
    assert len(tables) == 3   # accuracy, paired differences, levers
    with open(os.path.join(DOCS, "RESULTS.md")) as f:
        page = f.read()
    for table in tables:
        assert table.strip() in page, table.splitlines()[0]
    with open(os.path.join(raw, "sweep.md")) as f:
        assert f.read() == (tmp_path / "sweep.md").read_text()
    with open(os.path.join(DOCS, "..", "README.md")) as f:
        readme = f.read()
    for kf in (0.5, 0.35, 0.25):
        acc, sd, ratio = summary[("pic-pq", kf)][:3]
        row = f"| {100 * kf:g} % | {ratio:.0f}× | {acc:.2f} ± {sd:.2f} % |"
        assert row in readme, row
