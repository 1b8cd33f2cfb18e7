"""ONNX export of a compressed model (issue 17): the QDQ file passes
onnx.checker; OpenCV's DNN module runs the dequantized form (it cannot read
DequantizeLinear on weights: the test pins which node fails); ONNX Runtime,
where it is installed (scripts/install-deps.sh ort), runs both forms. Logits
are compared with the torch QAT model."""
import os
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")

from picpq.torch import export_onnx  # noqa: E402
from deploy_models import pruned_quantized_resnet20  # noqa: E402

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
ORT_RUNNER = os.path.join(HERE, "..", "onnx", "run_ort.js")


@pytest.fixture(scope="module")
def compressed():
    model, desc, bits, x = pruned_quantized_resnet20(min_bits=2)
    with torch.no_grad():
        ref = model(x).numpy()
    return model, desc, bits, x, ref


def _report(name, out, ref):
    diff = np.abs(out - ref).max(axis=1)
    same = float((out.argmax(1) == ref.argmax(1)).mean())
    print(f"\n  {name}: argmax equal on {100 * same:.2f} % of {len(ref)}, largest logit "
          f"difference {diff.max():.3g}, median {np.median(diff):.3g}")
    return same, diff


def test_qdq_structure(compressed, tmp_path):
    model, desc, bits, x, _ = compressed
    path = str(tmp_path / "m.onnx")
    export_onnx(model, desc, bits, path, x[:1])
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 13
    ops = [n.op_type for n in proto.graph.node]
    quantized = [b for b in bits if b < 32]
    assert ops.count("DequantizeLinear") >= len(quantized)  # weights and activations
    assert ops.count("QuantizeLinear") >= 1
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    codes = [v for k, v in inits.items() if k.startswith("w_codes")]
    assert len(codes) == len(quantized)
    for c in codes:
        assert c.dtype == np.int8 and np.abs(c.astype(int)).max() <= 127


def test_opencv_runs_the_dequantized_form(compressed, tmp_path):
    cv2 = pytest.importorskip("cv2", reason="python3-opencv is not installed")
    model, desc, bits, x, ref = compressed
    qdq, deq = str(tmp_path / "qdq.onnx"), str(tmp_path / "deq.onnx")
    export_onnx(model, desc, bits, qdq, x[:1])
    export_onnx(model, desc, bits, deq, x[:1], dequantized=True)
    # OpenCV 4.6 reads QDQ only around activations: DequantizeLinear of a weight fails
    with pytest.raises(cv2.error, match="DequantizeLinear"):
        cv2.dnn.readNetFromONNX(qdq)
    net = cv2.dnn.readNetFromONNX(deq)
    out = []
    for i in range(0, len(x), 50):
        net.setInput(x[i:i + 50].numpy())
        out.append(net.forward())
    same, diff = _report("OpenCV, dequantized", np.concatenate(out), ref)
    assert same >= 0.99
    assert np.median(diff) < 1e-3  # only activation-rounding flips differ more


@pytest.mark.skipif(shutil.which("node") is None or not os.environ.get("PICPQ_ORT_DIR"),
                    reason="ONNX Runtime not installed (scripts/install-deps.sh ort sets "
                           "PICPQ_ORT_DIR through make check)")
@pytest.mark.parametrize("dequantized", [False, True])
def test_onnx_runtime_runs_both_forms(compressed, tmp_path, dequantized):
    model, desc, bits, x, ref = compressed
    path, xin, yout = (str(tmp_path / n) for n in ("m.onnx", "x.bin", "y.bin"))
    export_onnx(model, desc, bits, path, x[:1], dequantized=dequantized)
    x.numpy().astype("<f4").tofile(xin)
    env = dict(os.environ, NODE_PATH=os.path.join(os.environ["PICPQ_ORT_DIR"], "node_modules"))
    subprocess.run(["node", ORT_RUNNER, path, xin, *map(str, x.shape), yout], check=True,
                   env=env, capture_output=True)
    out = np.fromfile(yout, dtype="<f4").reshape(ref.shape)
    same, diff = _report(f"ONNX Runtime, {'dequantized' if dequantized else 'QDQ'}", out, ref)
    assert same >= 0.99
    assert np.median(diff) < 1e-3
