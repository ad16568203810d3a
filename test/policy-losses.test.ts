// The losses of distillation, GRPO/CISPO and PPO (src/graph/policy-losses.ts): their hand-
// derived gradients against float64 central differences (away from the kinks of min, max
// and clamp), and the distillation loss against MiniMind's own distillation_loss (value and
// gradient, from test/fixtures/rl/distill_loss.*, made by make_rl_fixtures.py).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { grad } from '../src/graph/autodiff.js';
import { Graph } from '../src/graph/graph.js';
import { distillationLoss, grpoLoss, ppoPolicyLoss, ppoValueLoss } from '../src/graph/policy-losses.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { createSession, ort } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';
import { checkGrad } from './gradcheck.js';
import { RL } from './rl-helpers.js';

const N = 3, R = 5;
const rng = new Rng(11);
const normal = (n: number, s = 1, m = 0) => Float64Array.from({ length: n }, () => m + s * rng.normal());
// a mask with a row that counts nothing (its tokens get no gradient, the row's mean is over max(0, 1))
const mask = Float64Array.from({ length: N * R }, (_, i) => (i >= 2 * R ? 0 : i % 4 === 3 ? 0 : 1));
const old = normal(N * R, 1, -2);
// the policy near the rollout's: ratios around 1, inside and outside the clip range
const lp = Float64Array.from(old, (v) => v + 0.25 * rng.normal());
const inputs = (adv: Float64Array, advShape: number[]) => [
  { name: 'lp', shape: [N, R], data: lp }, { name: 'old', shape: [N, R], data: old, diff: false }, { name: 'ref', shape: [N, R], data: normal(N * R, 1, -2), diff: false },
  { name: 'adv', shape: advShape, data: adv, diff: false }, { name: 'mask', shape: [N, R], data: mask, diff: false },
];

// (CISPO's gradient is not the derivative of its loss: the clamped ratio is detached. The
// replay of train_grpo.py checks it: test/grpo.test.ts, case cispo.) The losses are scaled
// up so that their gradients, spread over the tokens, stand above the check's threshold.
test('GRPO loss: gradient against finite differences', async () => {
  await checkGrad(inputs(normal(N), [N]), (g, [l, o, r, a, m]) => g.mul(grpoLoss(g, l, o, r, a, m, { lossType: 'grpo', beta: 0.1, epsilon: 0.1, epsilonHigh: 1.05 }), 100), { minCompared: 4 });
});

test('PPO policy loss: gradient against finite differences', async () => {
  await checkGrad(inputs(normal(N * R), [N, R]), (g, [l, o, r, a, m]) => g.mul(ppoPolicyLoss(g, l, o, r, a, m, 0.1, 0.02), 100), { minCompared: 4 });
});

test('PPO value loss: gradient against finite differences', async () => {
  const v = normal(N * R), oldV = Float64Array.from(v, (x) => x + 0.3 * rng.normal());
  await checkGrad([{ name: 'v', shape: [N, R], data: v }, { name: 'old', shape: [N, R], data: oldV, diff: false }, { name: 'ret', shape: [N, R], data: normal(N * R), diff: false },
    { name: 'mask', shape: [N, R], data: mask, diff: false }], (g, [a, o, r, m]) => g.mul(ppoValueLoss(g, a, o, r, m, 0.2), 100), { minCompared: 4 });
});

test('distillation loss: gradient against finite differences', async () => {
  await checkGrad([{ name: 'logits', shape: [4, 6] }, { name: 'teacher', shape: [4, 6], diff: false }, { name: 'mask', shape: [4], data: Float64Array.from([1, 0, 1, 1]), diff: false }],
    (g, [s, t, m]) => distillationLoss(g, s, g.logSoftmax(g.div(t, 1.5), -1), m, 1.5));
});

test("distillation loss and gradient equal MiniMind's distillation_loss (T^2 KL, batchmean over the labelled rows)", async () => {
  const fx = JSON.parse(fs.readFileSync(path.join(RL, 'distill_loss.json'), 'utf8')) as { temperature: number; loss: number };
  const t = readSafetensors(path.join(RL, 'distill_loss.safetensors')).tensors;
  const [n, V] = t.get('logits')!.shape;
  const g = new Graph('float32');
  const s = g.input('logits', 'float32', [n, V]), te = g.input('teacher', 'float32', [n, V]), m = g.input('mask', 'float32', [n]);
  // the teacher's side as the teacher graph computes it: log_softmax(logits / T)
  const loss = g.output(distillationLoss(g, s, g.logSoftmax(g.div(te, fx.temperature), -1), m, fx.temperature), 'loss');
  g.output(grad(g, [loss], [s]).get(s)!, 'grad');
  const sess = await createSession(g, { threads: 1 });
  const f = (k: string) => new ort.Tensor('float32', t.get(k)!.data as Float32Array, t.get(k)!.shape);
  const out = await sess.run({ logits: f('logits'), teacher: f('teacher_logits'), mask: f('mask') });
  await sess.release();
  const got = (out.loss.data as Float32Array)[0];
  assert.ok(Math.abs(got - fx.loss) / fx.loss < 1e-6, `loss ${got} vs MiniMind ${fx.loss}`);
  const want = t.get('grad')!.data as Float32Array, gg = out.grad.data as Float32Array;
  let worst = 0, scale = 0;
  for (let i = 0; i < want.length; i++) { worst = Math.max(worst, Math.abs(gg[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
  assert.ok(worst / scale < 1e-6, `gradient differs by ${worst} (scale ${scale})`);
  // unlabelled rows get no gradient
  const mk = t.get('mask')!.data as Float32Array;
  for (let r = 0; r < n; r++) if (!mk[r]) for (let v = 0; v < V; v++) assert.equal(Math.abs(gg[r * V + v]), 0);
});
