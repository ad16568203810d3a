// The one-graph training step: AdamW inside the training graph (and in the apply graph of
// gradient accumulation) against the host AdamW, bit for bit, and in place in the arrays
// the session was bound to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adamwScalars } from '../src/graph/adamw.js';
import { resolveConfig } from '../src/model/config.js';
import { initParams, Params } from '../src/model/params.js';
import { TrainSession } from '../src/model/train-session.js';
import { AdamW, clipScale } from '../src/runtime/optimizer.js';
import { Rng } from '../src/util/rng.js';

const T = 16, B = 2;
const hyper = (step: number, lr: number, maxNorm: number) => ({ lr, step, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxNorm });
// step 2 clips (max norm below every gradient norm here), the others do not
const schedule = [{ lr: 1e-2, maxNorm: 1e9 }, { lr: 5e-3, maxNorm: 0.05 }, { lr: 2e-3, maxNorm: 0 }];

function batch(seed: number, vocab: number) {
  const r = new Rng(seed);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(r.int(vocab)));
  const labels = BigInt64Array.from(ids, (v, i) => (i % T === 0 ? -100n : v));
  return { ids, labels, B, T };
}
const copy = (p: Params): Params => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));
const bitsEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

for (const [preset, moe] of [['tiny', false], ['tiny', true]] as const) {
  test(`${preset}${moe ? ' MoE' : ''}: the apply graph's AdamW equals the host AdamW bit for bit, from the same summed gradients`, async () => {
    const c = resolveConfig(preset, moe ? { use_moe: true } : {});
    const params = initParams(c, 1), ref = copy(params);
    const s = await TrainSession.create(c, { seqLen: T, update: 'accumulate' }, { threads: 2 });
    s.bind(params);
    const opt = new AdamW({ weightDecay: 0.1 });
    for (let k = 0; k < schedule.length; k++) {
      const micro = k === 1 ? 2 : 1; // the second step accumulates two micro-batches
      for (let j = 0; j < micro; j++) await s.step(batch(10 * k + j, c.vocab_size));
      const sums = await s.accumulators();
      // the host reference gets the same summed gradients, and the graph's clip factor times 1/micro
      const grads = new Map(s.trainable.map((n, i) => [n, Float32Array.from(sums[i])]));
      const h = { ...hyper(k + 1, schedule[k].lr, schedule[k].maxNorm), gradScale: 1 / micro };
      const norm = await s.apply(adamwScalars(h));
      assert.ok(sums.every((a) => a.every((x) => x === 0)), 'apply zeroes the accumulators');
      opt.update(ref, grads, h.lr, Math.fround(clipScale(norm, h.maxNorm > 0 ? h.maxNorm : Infinity) * Math.fround(1 / micro)));
      if (k === 1) assert.ok(clipScale(norm, h.maxNorm) < 1, 'step 2 clips');
      for (const n of s.trainable) assert.ok(bitsEqual(params.get(n)!, ref.get(n)!), `step ${k + 1}: ${n} differs from the host AdamW`);
      const snap = await s.snapshot();
      for (const n of s.trainable) assert.ok(bitsEqual(snap.m.get(n)!, opt.m.get(n)!) && bitsEqual(snap.v.get(n)!, opt.v.get(n)!), `step ${k + 1}: moments of ${n}`);
    }
    // the weights moved (the comparison above is not between two untouched copies)
    const start = initParams(c, 1);
    assert.ok(s.trainable.every((n) => !bitsEqual(params.get(n)!, start.get(n)!)));
    await s.release();
  });

  test(`${preset}${moe ? ' MoE' : ''}: one graph (forward, backward, clipping, AdamW) equals accumulate + apply bit for bit, updating the bound arrays in place`, async () => {
    const c = resolveConfig(preset, moe ? { use_moe: true } : {});
    const fusedParams = initParams(c, 2), splitParams = copy(fusedParams);
    const fused = await TrainSession.create(c, { seqLen: T, update: 'adamw' }, { threads: 2 });
    const split = await TrainSession.create(c, { seqLen: T, update: 'accumulate' }, { threads: 2 });
    fused.bind(fusedParams); split.bind(splitParams);
    const arrays = new Map(fusedParams);
    for (let k = 0; k < schedule.length; k++) {
      const scalars = adamwScalars(hyper(k + 1, schedule[k].lr, schedule[k].maxNorm));
      const r = await fused.step(batch(k, c.vocab_size), {}, scalars);
      const r2 = await split.step(batch(k, c.vocab_size));
      assert.equal(r.loss, r2.loss);
      const norm = await split.apply(scalars);
      assert.equal(r.gradNorm, norm, `step ${k + 1}: gradient norm`);
      for (const n of fused.trainable) assert.ok(bitsEqual(fusedParams.get(n)!, splitParams.get(n)!), `step ${k + 1}: ${n}`);
    }
    for (const [n, a] of arrays) assert.equal(fusedParams.get(n), a, `${n} was replaced instead of updated in place`);
    await assert.rejects(fused.step(batch(0, c.vocab_size)), /needs the AdamW scalars/);
    await fused.release(); await split.release();
  });
}

test('restore and snapshot round-trip weights and moments; a LoRA graph updates only the adapters', async () => {
  const c = resolveConfig('tiny');
  const params = initParams(c, 3), frozen = copy(params);
  const s = await TrainSession.create(c, { seqLen: T, update: 'adamw', trainable: (n) => n.endsWith('q_proj.weight') }, { threads: 1 });
  s.bind(params);
  await s.step(batch(1, c.vocab_size), {}, adamwScalars(hyper(1, 1e-2, 1)));
  for (const [n, a] of params) assert.equal(bitsEqual(a, frozen.get(n)!), !n.endsWith('q_proj.weight'), n);
  const snap = await s.snapshot();
  const saved = { w: copy(snap.weights), m: copy(snap.m), v: copy(snap.v) };
  await s.step(batch(2, c.vocab_size), {}, adamwScalars(hyper(2, 1e-2, 1)));
  await s.restore(saved.w, saved.m, saved.v);
  const back = await s.snapshot();
  for (const n of s.trainable) assert.ok(bitsEqual(back.weights.get(n)!, saved.w.get(n)!) && bitsEqual(back.m.get(n)!, saved.m.get(n)!));
  await s.release();
});
