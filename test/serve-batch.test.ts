// Continuous batching: rows of different lengths that join and leave a shared KV cache get
// the logits each would get decoded alone; the engine's batched answers equal unbatched ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../src/model/config.js';
import { DecodeRunner } from '../src/model/decode-runner.js';
import { Generator } from '../src/model/generate.js';
import { initParams } from '../src/model/params.js';
import { BatchDecoder } from '../src/serve/batch-decoder.js';
import { Engine } from '../src/serve/engine.js';
import { Rng } from '../src/util/rng.js';

const c = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300, max_position_embeddings: 64 });
const params = initParams(c, 3);
const so = { threads: 1 };

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);

test('batched rows that join and leave at different steps match decoding each alone', async () => {
  const rng = new Rng(5);
  const prompts = [7, 3, 12, 1].map((n) => Array.from({ length: n }, () => 10 + rng.int(280)));
  const single = await DecodeRunner.create(c, params, so);
  const dec = await BatchDecoder.create(c, params, so);
  // reference: each prompt alone, greedy, 6 steps; logits after every token
  const ref: Float32Array[][] = [];
  for (const p of prompts) {
    const cache = single.emptyCache(), out: Float32Array[] = [];
    let l = (await single.run(p, cache)).slice();
    out.push(l);
    for (let i = 0; i < 6; i++) { l = (await single.run([argmax(l)], cache)).slice(); out.push(l); }
    ref.push(out);
  }
  // batched: rows 0 and 1 join at step 0, row 2 (longer than the cache) at step 2, row 3 at step 4; row 1 leaves after 3 tokens
  const keys: number[] = [], got: Float32Array[][] = prompts.map(() => []);
  const last = new Map<number, number>(), rowOf = new Map<number, number>();
  const joinRows = async (rows: number[]) => {
    const res = await dec.join(rows.map((r) => prompts[r]));
    res.forEach(({ key, logits }, i) => { keys[rows[i]] = key; rowOf.set(key, rows[i]); got[rows[i]].push(logits); last.set(key, argmax(logits)); });
  };
  await joinRows([0, 1]);
  for (let step = 0; step < 16; step++) {
    if (step === 2) await joinRows([2]);
    if (step === 4) await joinRows([3]);
    if (step === 3) { dec.leave([keys[1]]); last.delete(keys[1]); }
    for (const [k, r] of rowOf) if (got[r].length >= 7 && last.has(k)) { dec.leave([k]); last.delete(k); }
    if (!last.size) break;
    const out = await dec.step(last);
    for (const [k, l] of out) { const r = rowOf.get(k)!; got[r].push(l.slice()); last.set(k, argmax(l)); }
  }
  assert.ok(got[1].length === 4, `row 1 left after 3 steps (${got[1].length} logits)`);
  for (let r = 0; r < prompts.length; r++) {
    assert.ok(got[r].length >= 4, `row ${r} decoded`);
    for (let t = 0; t < got[r].length; t++) {
      const d = maxDiff(got[r][t], ref[r][t]);
      assert.ok(d < 1e-4, `row ${r} token ${t}: logits differ by ${d}`);
    }
  }
  assert.equal(dec.size, 0);
  await single.release(); await dec.release();
});

test('the window shrinks after a long row leaves, and the row moved into its place stays exact', async () => {
  const wide = { ...c, max_position_embeddings: 256 }; // same weights, a longer context
  const dec = await BatchDecoder.create(wide, params, so);
  const single = await DecodeRunner.create(wide, params, so);
  const long = Array.from({ length: 100 }, (_, i) => 20 + i), short = [5, 6];
  const [a] = await dec.join([long]);
  let tokA = argmax(a.logits);
  for (let i = 0; i < 3; i++) tokA = argmax((await dec.step(new Map([[a.key, tokA]]))).get(a.key)!);
  const [b] = await dec.join([short]);
  assert.equal(dec.cacheSlots, 128, 'the window holds the long row (103 tokens) in slots of 32');
  const full = dec.cacheBytes;
  dec.leave([a.key]);
  assert.equal(dec.cacheSlots, 32, 'the window shrinks to what the short row uses');
  assert.ok(dec.cacheBytes < full / 2, `bytes ${full} -> ${dec.cacheBytes}`);
  const cache = single.emptyCache();
  let want = (await single.run(short, cache)).slice();
  assert.ok(maxDiff(b.logits, want) < 1e-4);
  let tok = argmax(b.logits);
  for (let i = 0; i < 40; i++) { // past the shrunk window's 32 slots: it grows again
    const l = (await dec.step(new Map([[b.key, tok]]))).get(b.key)!;
    want = (await single.run([tok], cache)).slice();
    assert.ok(maxDiff(l, want) < 1e-4, `step ${i}`);
    tok = argmax(l);
  }
  assert.equal(dec.cacheSlots, 64);
  await dec.release(); await single.release();
});

test('the engine decodes concurrent requests together and each answer equals the unbatched one', async () => {
  const gen = await Generator.create(c, params, so);
  const engine = new Engine(await BatchDecoder.create(c, params, so), { maxBatch: 3, maxQueue: 8, contextWindow: c.max_position_embeddings, vocabLimit: c.vocab_size });
  const prompts = [[11, 12, 13], [40, 41, 42, 43, 44, 45], [100], [7, 8, 9, 10, 11], [200, 201]];
  const sampling = (i: number) => ({ temperature: i % 2 ? 0.9 : 0, topP: 0.9, seed: i });
  const want: number[][] = [];
  for (let i = 0; i < prompts.length; i++) {
    const ids: number[] = [];
    for await (const id of gen.generate(prompts[i], { ...sampling(i), maxNewTokens: 8 + i, stopIds: [] })) ids.push(id);
    want.push(ids);
  }
  const handles = prompts.map((p, i) => engine.submit({ prompt: p, maxTokens: 8 + i, sampling: sampling(i), stopIds: [] }));
  const got = await Promise.all(handles.map(async (h) => { const ids: number[] = []; for await (const id of h) ids.push(id); return ids; }));
  assert.deepEqual(got, want);
  assert.equal(engine.stats.maxBatchSeen, 3, 'at most maxBatch rows, and more than one at once');
  assert.deepEqual(await Promise.all(handles.map((h) => h.done)), prompts.map(() => 'length'));
  // a queue at its bound refuses; a cancelled request ends without finishing its tokens
  const small = new Engine(await BatchDecoder.create(c, params, so), { maxBatch: 1, maxQueue: 1, contextWindow: 64, vocabLimit: 300 });
  const first = small.submit({ prompt: [1, 2], maxTokens: 50, sampling: { temperature: 0 }, stopIds: [] });
  small.submit({ prompt: [3], maxTokens: 2, sampling: {}, stopIds: [] });
  assert.throws(() => small.submit({ prompt: [4], maxTokens: 2, sampling: {}, stopIds: [] }), /busy: 1 requests queued/);
  let n = 0;
  for await (const _ of first) { if (++n === 3) first.cancel(); }
  assert.equal(await first.done, 'cancelled');
  assert.ok(first.generated < 10, `cancel stops within a step (${first.generated} tokens)`);
  await gen.release(); await engine.release(); await small.release();
});
