"""Done-when test of the pipeline API: the README's Python program, run as it
stands, compresses torchvision's resnet18 end to end (calibrate, search,
prune, bits, QAT, export) in at most 20 lines of user code."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def readme_program():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    section = text[text.index("## From Python"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_program_is_short_and_complete():
    code = readme_program()
    lines = [line for line in code.splitlines() if line.strip()]
    assert len(lines) <= 20, f"{len(lines)} lines"
    for step in ("Compressor(", ".calibrate(", ".search(", ".prune(", ".assign_bits(",
                 ".quantize(", ".export("):
        assert step in code


def test_readme_program_compresses_resnet18(tmp_path):
    code = readme_program()
    check = '''
import numpy as np
import picpq
assert os.path.getsize("resnet18.picpq") > 0
loaded = ptq.load_compressed("resnet18-qat.pt")
qat.eval(); loaded.eval()
with torch.no_grad():
    ref = qat(val[0])
    assert torch.equal(loaded(val[0]), ref)
assert c.cost(c.plan, bits)["macs"] <= 0.5 * c.base_cost["macs"] + 1e-6
assert c.bops_met and c.cost(c.plan, bits)["bops"] <= c.base_cost["bops"] / 8
assert bits[0] == 32 and bits[-1] == 32 and set(bits[1:-1]) <= set(range(2, 9))
if hasattr(picpq, "Model"):   # the C runtime runs the exported file
    with picpq.Model(path="resnet18.picpq") as m:
        out = m.run(val[0].numpy())
    assert out.shape == (64, 10) and np.isfinite(out).all()
print("README-OK")
'''
    prog = tmp_path / "prog.py"
    prog.write_text("import os, torch\ntorch.set_num_threads(1)\ntorch.manual_seed(0)\n"
                    + code + check)
    env = dict(os.environ)
    if os.environ.get("PICPQ_TEST_INSTALLED") != "1":   # else the installed package
        env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(prog)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "README-OK" in proc.stdout
