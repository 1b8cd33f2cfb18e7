// Times ONNX Runtime (npm onnxruntime-node, CPU) on one model: best of
// ROUNDS rounds of REPS runs at batch N and THREADS intra-op threads.
// node ort_time.js MODEL N C H W THREADS REPS ROUNDS -> prints ms per batch.
const ort = require('onnxruntime-node');

(async () => {
  const [model, n, c, h, w, threads, reps, rounds] = process.argv.slice(2).map(
    (v, i) => (i === 0 ? v : +v));
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential'});
  const x = new ort.Tensor('float32', new Float32Array(n * c * h * w).map(() => Math.random()),
                           [n, c, h, w]);
  await session.run({input: x});
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) await session.run({input: x});
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6 / reps);
  }
  console.log(best.toFixed(4));
})().catch((e) => { console.error('ONNX Runtime failed:', e.message); process.exit(1); });
