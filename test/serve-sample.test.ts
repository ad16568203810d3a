// sample() ranks the vocabulary with a packed-key typed-array sort; it must pick exactly
// the token the comparator sort picked, for every seed (ties, -0, masked ids, top-k, top-p).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sample, SamplingOptions } from '../src/model/generate.js';
import { rankByLogit } from '../src/model/rank.js';
import { Rng } from '../src/util/rng.js';

/** The comparator-sort sampler that sample() replaced. */
function reference(logits: Float32Array, context: number[], o: SamplingOptions, rng: Rng): number {
  const rp = o.repetitionPenalty ?? 1;
  if (rp !== 1) for (const id of new Set(context)) logits[id] = logits[id] > 0 ? logits[id] / rp : logits[id] * rp;
  const temp = o.temperature ?? 0.85;
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (o.topK && o.topK > 0) idx = idx.slice(0, o.topK);
  const mx = logits[idx[0]];
  let probs = idx.map((i) => Math.exp((logits[i] - mx) / temp));
  let sum = probs.reduce((a, b) => a + b, 0);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let cum = 0, keep = probs.length;
    for (let k = 0; k < probs.length; k++) { cum += probs[k] / sum; if (cum >= topP) { keep = k + 1; break; } }
    idx = idx.slice(0, keep); probs = probs.slice(0, keep); sum = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng.next() * sum;
  for (let k = 0; k < idx.length; k++) { r -= probs[k]; if (r <= 0) return idx[k]; }
  return idx[idx.length - 1];
}

function logitsFor(rng: Rng, V: number, kind: number): Float32Array {
  const l = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    const x = (rng.next() - 0.5) * 16;
    l[i] = kind === 0 ? x : kind === 1 ? Math.round(x) / 2 : i % 5 === 0 ? -0 : x; // 1: many ties; 2: -0 and +0 mixed in
  }
  if (kind === 1) l.fill(0, 0, 50);
  if (kind !== 0) l.fill(-Infinity, V - V / 4); // ids a tokenizer cannot decode
  return l;
}

test('rankByLogit orders like the comparator sort: descending, ties by id, -0 with +0, masked (-Infinity) ids left out', () => {
  const l = new Float32Array([1, -0, 3, 0, -Infinity, 3, -2.5, Infinity, 0, -1e30, 1e30]);
  assert.deepEqual(Array.from(rankByLogit(l)), [7, 10, 2, 5, 0, 1, 3, 8, 6, 9]);
  const rng = new Rng(3);
  for (const kind of [0, 1, 2]) {
    const x = logitsFor(rng, 4000, kind);
    const want = Array.from(x.keys()).sort((a, b) => x[b] - x[a]).filter((i) => x[i] !== -Infinity);
    assert.deepEqual(Array.from(rankByLogit(x)), want, `kind ${kind}`);
  }
});

test('sample() draws the same token as the comparator-sort sampler for fixed seeds', () => {
  const opts: SamplingOptions[] = [{ temperature: 0.7, topP: 0.92 }, { temperature: 1.3 }, { temperature: 0.85, topK: 40, topP: 0.8 },
    { temperature: 0.5, topK: 1 }, { temperature: 0.9, topP: 0.3, repetitionPenalty: 1.3 }];
  const gen = new Rng(11);
  let n = 0;
  for (let trial = 0; trial < 60; trial++) {
    const base = logitsFor(gen, 6400, trial % 3), o = opts[trial % opts.length], ctx = [3, 17, 17, 200, 6000];
    const a = new Rng(trial), b = new Rng(trial);
    for (let draw = 0; draw < 5; draw++, n++) {
      assert.equal(sample(base.slice(), ctx, o, a), reference(base.slice(), ctx, o, b), `trial ${trial} draw ${draw} ${JSON.stringify(o)}`);
    }
  }
  assert.equal(n, 300);
});
