"""ONNX export of a compressed model (issue 17): the QDQ file passes
onnx.checker; OpenCV's DNN module runs the dequantized form (it cannot read
DequantizeLinear on weights: the test pins which node fails); ONNX Runtime,
where it is installed (scripts/install-deps.sh ort), runs both forms and the
int4 form (issue 22; opset 21, which onnx 1.12 cannot check, so ORT is its
validation). Logits are compared with the torch QAT model and, for int4,
with the C runtime."""
import os
import shutil
import subprocess

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx", reason="python3-onnx is not installed")

from picpq._handles import Model  # noqa: E402
from picpq.torch import export_onnx, model_file_bytes  # noqa: E402
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


def test_int4_structure_and_size(compressed, tmp_path):
    """Weights of <= 4 bits become int4 initializers whose nibbles are the
    int8 form's codes; the file shrinks by half a byte per such weight."""
    model, desc, bits, x, _ = compressed
    p8, p4 = str(tmp_path / "m8.onnx"), str(tmp_path / "m4.onnx")
    s8 = export_onnx(model, desc, bits, p8, x[:1])
    s4 = export_onnx(model, desc, bits, p4, x[:1], int4=True)
    assert s8 == os.path.getsize(p8) and s4 == os.path.getsize(p4)
    proto8, proto4 = onnx.load(p8), onnx.load(p4)
    assert proto4.opset_import[0].version == 21 and proto4.ir_version == 10
    codes8 = [onnx.numpy_helper.to_array(t) for t in proto8.graph.initializer
              if t.name.startswith("w_codes")]
    codes4 = [t for t in proto4.graph.initializer if t.name.startswith("w_codes")]
    quantized = [b for b in bits if b < 32]
    assert len(codes8) == len(codes4) == len(quantized)
    saved = 0
    for b, c8, t in zip(quantized, codes8, codes4):
        if b > 4:
            assert t.data_type == onnx.TensorProto.INT8
            continue
        assert t.data_type == 22 and list(t.dims) == list(c8.shape)  # TensorProto.INT4
        raw = np.frombuffer(t.raw_data, np.uint8)
        assert len(raw) == (c8.size + 1) // 2
        nib = np.stack([raw & 0xF, raw >> 4], axis=1).reshape(-1)[:c8.size].astype(np.int8)
        assert np.array_equal(np.where(nib > 7, nib - 16, nib), c8.reshape(-1))
        saved += c8.size - len(raw)
    assert saved > 0
    print(f"\n  int8 QDQ {s8} bytes, int4 QDQ {s4} bytes ({saved} weight bytes saved)")
    assert s8 - s4 >= saved  # protobuf length prefixes may shrink too


def _run_ort(path, x, tmp_path, classes):
    xin, yout = str(tmp_path / "x.bin"), str(tmp_path / "y.bin")
    x.numpy().astype("<f4").tofile(xin)
    env = dict(os.environ, NODE_PATH=os.path.join(os.environ["PICPQ_ORT_DIR"], "node_modules"))
    subprocess.run(["node", ORT_RUNNER, path, xin, *map(str, x.shape), yout], check=True,
                   env=env, capture_output=True)
    return np.fromfile(yout, dtype="<f4").reshape(len(x), classes)


needs_ort = pytest.mark.skipif(
    shutil.which("node") is None or not os.environ.get("PICPQ_ORT_DIR"),
    reason="ONNX Runtime not installed (scripts/install-deps.sh ort sets PICPQ_ORT_DIR "
           "through make check)")


@needs_ort
def test_onnx_runtime_runs_int4(compressed, tmp_path):
    model, desc, bits, x, ref = compressed
    path = str(tmp_path / "m4.onnx")
    export_onnx(model, desc, bits, path, x[:1], int4=True)
    out = _run_ort(path, x, tmp_path, ref.shape[1])
    same, diff = _report("ONNX Runtime, int4 QDQ (opset 21) vs torch", out, ref)
    assert same >= 0.99
    assert np.median(diff) < 1e-3
    with Model(data=model_file_bytes(model, desc, bits, x[:1])) as cm:
        c_out = cm.run(x.numpy(), batch=50)
    same, diff = _report("ONNX Runtime, int4 QDQ (opset 21) vs the C runtime", out, c_out)
    assert same >= 0.99
    assert np.median(diff) < 1e-3


@needs_ort
@pytest.mark.parametrize("dequantized", [False, True])
def test_onnx_runtime_runs_both_forms(compressed, tmp_path, dequantized):
    model, desc, bits, x, ref = compressed
    path = str(tmp_path / "m.onnx")
    export_onnx(model, desc, bits, path, x[:1], dequantized=dequantized)
    out = _run_ort(path, x, tmp_path, ref.shape[1])
    same, diff = _report(f"ONNX Runtime, {'dequantized' if dequantized else 'QDQ'}", out, ref)
    assert same >= 0.99
    assert np.median(diff) < 1e-3
