// Mixed precision: MatMuls in float16 with float32 weights (what --dtype float16 builds on a
// GPU provider), and float16's dynamic loss scaling: an overflowed step is skipped inside
// the graph. ONNX Runtime's CPU provider runs such graphs in float32 (it cancels the casts
// around MatMuls it has no float16 kernel for), so half-precision numerics need a GPU; the
// graph's structure, the scaling arithmetic and the skip are checked here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adamwScalars } from '../src/graph/adamw.js';
import { resolveConfig } from '../src/model/config.js';
import { buildTrainGraph } from '../src/model/minimind.js';
import { initParams, Params } from '../src/model/params.js';
import { TrainSession } from '../src/model/train-session.js';
import { LMTrainee } from '../src/train/lm-trainee.js';
import { LossScaler } from '../src/train/loss-scaler.js';
import { readMetrics, trainLoop } from '../src/train/loop.js';
import { Rng } from '../src/util/rng.js';
import { tmpDir } from './helpers.js';

const T = 32, B = 2;
const c = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2 });
function batch(seed: number) {
  const r = new Rng(seed);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(r.int(64))); // a small alphabet: learnable
  return { ids, labels: ids, B, T, labelTokens: B * T };
}
const copy = (p: Params): Params => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));
const scalars = (step: number) => adamwScalars({ lr: 1e-3, step, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1 });

test('every MatMul and Gemm of a float16 training graph computes in float16; weights, loss and gradients stay float32', () => {
  const { graph } = buildTrainGraph(c, { seqLen: T, matmulType: 'float16' });
  const mm = graph.nodes.filter((n) => n.op === 'MatMul' || n.op === 'Gemm');
  assert.ok(mm.length > 10);
  for (const n of mm) assert.ok(n.inputs.every((t) => t!.dtype === 'float16'), `${n.op} ${n.outputs[0].name} has ${n.inputs.map((t) => t!.dtype)}`);
  for (const t of graph.inputs.filter((i) => i.name.includes('.weight'))) assert.equal(t.dtype, 'float32', t.name);
  for (const t of graph.outputs) assert.equal(t.dtype, 'float32', t.name);
});

test('an overflowed float16 step is skipped inside the graph: weights and moments keep their bits', async () => {
  for (const update of ['adamw', 'accumulate'] as const) {
    const params = initParams(c, 2);
    const s = await TrainSession.create(c, { seqLen: T, matmulType: 'float16', lossScaling: true, update }, { threads: 1 });
    s.bind(params);
    const run = async (scale: number, step: number) => {
      const sc = { ...scalars(step), grad_scale: 1 / scale };
      const r = await s.step(batch(step), {}, update === 'adamw' ? sc : undefined, scale);
      return update === 'adamw' ? r.gradNorm! : s.apply(sc);
    };
    assert.ok(Number.isFinite(await run(1024, 1)), `${update}: a modest scale does not overflow`);
    const before = copy((await s.snapshot()).weights), m = copy((await s.snapshot()).m);
    // a scale that overflows the backward pass (float32 here, as the CPU computes it)
    assert.ok(!Number.isFinite(await run(1e38, 2)), `${update}: 1e38 overflows`);
    const after = await s.snapshot();
    for (const [k, w] of before) {
      assert.deepEqual(after.weights.get(k), w, `${update}: ${k} changed on a skipped step`);
      assert.deepEqual(after.m.get(k), m.get(k), `${update}: m.${k} changed on a skipped step`);
    }
    assert.ok(Number.isFinite(await run(1024, 2)), `${update}: and the next step trains`);
    assert.ok([...(await s.snapshot()).weights].some(([k, w]) => w.some((x, i) => x !== before.get(k)![i])), `${update}: the good step moved the weights`);
    await s.release();
  }
});

test('the loss scaler follows GradScaler: overflow halves and skips, 2000 good steps double', () => {
  const s = new LossScaler();
  assert.equal(s.scale, 65536);
  assert.equal(s.update(Infinity), false);
  assert.equal(s.update(NaN), false);
  assert.equal(s.scale, 16384);
  for (let i = 0; i < 1999; i++) assert.equal(s.update(1), true);
  assert.equal(s.scale, 16384);
  s.update(1);
  assert.equal(s.scale, 32768);
});

test('training with loss scaling (2^16, divided out again) follows float32 training and logs the scale', async () => {
  const runs: number[][] = [];
  for (const mixed of [false, true]) {
    const params = initParams(c, 3);
    const trainee = await LMTrainee.create(c, params, { seqLen: T, ...(mixed ? { matmulType: 'float16' as const, lossScaling: true } : {}) }, { threads: 1 });
    const runDir = tmpDir();
    const batches = Array.from({ length: 8 }, (_, i) => batch(100 + i));
    await trainLoop(trainee, { batchesPerEpoch: batches.length, batch: (_e, b) => batches[b], tokens: (b) => b.B * b.T }, {
      stage: 'pretrain', runDir, epochs: 5, accumulationSteps: 1, learningRate: 3e-3, schedule: 'constant', warmupSteps: 0, gradClip: 1,
      weightDecay: 0.01, logInterval: 1, saveInterval: 0, keepCheckpoints: 1, seed: 0, resumeFrom: null, config: {},
      identity: { batch_size: B, accumulation_steps: 1, max_seq_len: T, data: 'x' }, progress: false,
    });
    await trainee.release();
    const m = readMetrics(runDir);
    if (mixed) { assert.equal(m[0].loss_scale, 65536); assert.equal(m[m.length - 1].skipped_steps, 0); }
    runs.push(m.map((e) => e.loss));
  }
  const [full, half] = runs;
  assert.ok(full[full.length - 1] < 0.8 * full[0], `float32 learns: ${full[0]} -> ${full[full.length - 1]}`);
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(half[i] - full[i]) < 0.02 * full[i], `step ${i + 1}: float16 ${half[i]} vs float32 ${full[i]}`);
});
