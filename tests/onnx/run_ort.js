// Runs an ONNX file in ONNX Runtime (npm onnxruntime-node, CPU, 1 thread):
// node run_ort.js MODEL INPUT.bin N C H W OUTPUT.bin (little-endian float32).
const ort = require('onnxruntime-node');
const fs = require('fs');

(async () => {
  const [model, xfile, n, c, h, w, out] = process.argv.slice(2);
  const buf = fs.readFileSync(xfile);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1});
  const result = await session.run({input: new ort.Tensor('float32', data, [+n, +c, +h, +w])});
  fs.writeFileSync(out, Buffer.from(result.logits.data.buffer));
})().catch((e) => { console.error('ONNX Runtime failed:', e.message); process.exit(1); });
