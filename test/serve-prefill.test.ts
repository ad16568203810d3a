// Rows that join together are prefilled in one padded run; each must get the logits and
// cache it would get decoded alone, also when it joins a batch already decoding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../src/model/config.js';
import { DecodeRunner } from '../src/model/decode-runner.js';
import { initParams } from '../src/model/params.js';
import { BatchDecoder, prefillGroups } from '../src/serve/batch-decoder.js';

const c = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300, max_position_embeddings: 64 });
const params = initParams(c, 5);
const so = { threads: 1 };
const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);
function maxDiff(a: Float32Array, b: Float32Array): number { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; }

test('prefill groups: longest first, bounded by tokens and by padding', () => {
  assert.deepEqual(prefillGroups([5, 5, 5], 2048), [[0, 1, 2]]);
  assert.deepEqual(prefillGroups([3, 10, 9, 2], 2048), [[1, 2, 0], [3]], 'a prompt that would pad the run by over a third starts a new one');
  assert.deepEqual(prefillGroups([8, 8, 8, 8, 8], 16), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(prefillGroups([40], 16), [[0]], 'a prompt longer than the budget runs alone');
});

test('prompts prefilled together (padded) decode as each alone, joining a running batch', async () => {
  const single = await DecodeRunner.create(c, params, so), dec = await BatchDecoder.create(c, params, so);
  const prompts = [[9, 8, 7, 6, 5, 4, 3], [20, 21, 22, 23, 24, 25], [40, 41, 42, 43, 44, 45, 46, 47], [60, 61, 62, 63, 64, 65, 66]];
  const ref: Float32Array[][] = [];
  for (const p of prompts) {
    const cache = single.emptyCache(), out: Float32Array[] = [];
    let l = (await single.run(p, cache)).slice();
    for (let i = 0; i < 5; i++) { out.push(l); l = (await single.run([argmax(l)], cache)).slice(); }
    ref.push(out);
  }
  const [first] = await dec.join([prompts[0]]);
  const last = new Map([[first.key, argmax(first.logits)]]), got = new Map([[first.key, [first.logits]]]), row = new Map([[first.key, 0]]);
  for (const [k, l] of await dec.step(last)) { got.get(k)!.push(l.slice()); last.set(k, argmax(l)); }
  // three prompts of lengths 6, 8, 7 join at once (one padded run) while row 0 is 8 tokens in
  const joined = await dec.join(prompts.slice(1));
  joined.forEach(({ key, logits }, i) => { row.set(key, i + 1); got.set(key, [logits]); last.set(key, argmax(logits)); });
  for (let s = 0; s < 3; s++) for (const [k, l] of await dec.step(last)) { got.get(k)!.push(l.slice()); last.set(k, argmax(l)); }
  for (const [k, ls] of got) {
    const r = row.get(k)!;
    for (let t = 0; t < Math.min(ls.length, 5); t++) assert.ok(maxDiff(ls[t], ref[r][t]) < 1e-4, `row ${r} token ${t}: ${maxDiff(ls[t], ref[r][t])}`);
  }
  await single.release(); await dec.release();
});
