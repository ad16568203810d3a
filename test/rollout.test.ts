// The rollout engine: num_generations completions per prompt decoded together on the serve
// batch decoder, each token's log-probability as the training graph computes it, rollouts
// that read the weights as training leaves them (live arrays and rebuilt decoders), and
// tokens interjected mid-completion (tool results) that are fed but not trained.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../src/model/config.js';
import { Generator } from '../src/model/generate.js';
import { initParams, Params } from '../src/model/params.js';
import { TrainSession } from '../src/model/train-session.js';
import { RolloutBatch } from '../src/train/rollout-batch.js';
import { RolloutEngine, RolloutOptions, RolloutRow } from '../src/train/rollout.js';
import { Rng } from '../src/util/rng.js';

const c = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, max_position_embeddings: 96 });
const so = { threads: 1 };
const EOS = 2;
// MiniMind's rollout sampling: temperature 0.8, top-k 50, top-p 0.85; the log-probs are the raw logits' all the same
const opts: RolloutOptions = { numGenerations: 3, maxNewTokens: 12, temperature: 0.8, topK: 50, topP: 0.85, stopIds: [EOS] };
const prompts = [[1, 5, 9, 13], [1, 7], [1, 20, 21, 22, 23, 24, 25]];

/** The training graph's log p(token) of every rollout token (a forward-only session at `params`). */
async function graphLogps(params: Params, rows: RolloutRow[]): Promise<number[][]> {
  const s = await TrainSession.create(c, { objective: { kind: 'tokenlogp' }, trainable: () => false }, so);
  s.bind(params);
  const rb = new RolloutBatch(rows, 0), lp = (await s.step(rb.batch)).values.token_logps;
  await s.release();
  return rows.map((_, b) => rb.gather(lp, b));
}

const maxGap = (a: number[][], b: number[][]) => Math.max(...a.flatMap((r, i) => r.map((v, k) => Math.abs(v - b[i][k]))));

test('G completions per prompt with per-token log-probabilities equal to the training graph\'s', async () => {
  const params = initParams(c, 1);
  const engine = new RolloutEngine(c, async () => params, 'live', so);
  const rows = await engine.rollout(prompts, opts, new Rng(4));
  assert.equal(rows.length, prompts.length * opts.numGenerations);
  rows.forEach((r, i) => {
    assert.deepEqual(r.prompt, prompts[Math.floor(i / opts.numGenerations)], `row ${i} belongs to prompt ${Math.floor(i / 3)}`);
    assert.ok(r.completion.length >= 1 && r.completion.length <= opts.maxNewTokens);
    assert.equal(r.stopped, r.completion.at(-1) === EOS);
    assert.ok(!r.completion.slice(0, -1).includes(EOS), 'a completion ends at its first stop token');
    assert.ok(r.stopped || r.completion.length === opts.maxNewTokens, 'rows end at a stop token or at the limit');
    assert.deepEqual(r.mask, r.completion.map(() => 1));
  });
  // a prompt's completions are sampled independently, so they differ
  assert.ok(new Set(rows.slice(0, 3).map((r) => r.completion.join())).size > 1, 'the group holds different completions');
  const gap = maxGap(rows.map((r) => r.logps), await graphLogps(params, rows));
  // measured ~1e-6 (the decode graph's fused kernels against the training graph's ops)
  assert.ok(gap < 5e-5, `rollout log-probs differ from the training graph's by ${gap}`);
  // the same random stream gives the same rollouts (a resumed run samples what the uninterrupted one did)
  assert.deepEqual((await engine.rollout(prompts, opts, new Rng(4))).map((r) => r.completion), rows.map((r) => r.completion));
  await engine.release();
});

test('greedy rollouts in a batch equal each prompt decoded alone', async () => {
  const params = initParams(c, 2);
  const engine = new RolloutEngine(c, async () => params, 'rebuild', so);
  const rows = await engine.rollout(prompts, { ...opts, temperature: 0, numGenerations: 2 }, new Rng(0));
  const gen = await Generator.create(c, params, so);
  for (const [i, p] of prompts.entries()) {
    const alone: number[] = [];
    for await (const id of gen.generate(p, { temperature: 0, maxNewTokens: opts.maxNewTokens, stopIds: [EOS] })) alone.push(id);
    assert.deepEqual(rows[2 * i].completion, alone, `prompt ${i}`);
    assert.deepEqual(rows[2 * i + 1].completion, alone, `prompt ${i}, second generation`);
  }
  await gen.release();
  await engine.release();
});

for (const mode of ['live', 'rebuild'] as const) {
  test(`${mode}: each rollout samples with the weights as they are now, not as they were`, async () => {
    const params = initParams(c, 3);
    const engine = new RolloutEngine(c, async () => params, mode, so);
    await engine.rollout(prompts, opts, new Rng(1)); // the decoder exists now
    // an optimizer step, in place (as the CPU's training session writes its weights)
    const rng = new Rng(9);
    for (const a of params.values()) for (let i = 0; i < a.length; i++) a[i] += 0.3 * rng.normal();
    const rows = await engine.rollout(prompts, opts, new Rng(2));
    const gap = maxGap(rows.map((r) => r.logps), await graphLogps(params, rows));
    assert.ok(gap < 5e-5, `${mode}: rollout log-probs are ${gap} off the updated weights'`);
    await engine.release();
  });
}

test('interjected tokens (a tool\'s result) are fed to the model but neither sampled nor trained', async () => {
  const params = initParams(c, 4);
  const engine = new RolloutEngine(c, async () => params, 'live', so);
  const TOOL = [40, 41, 42];
  const o: RolloutOptions = { ...opts, numGenerations: 1, stopIds: [], maxNewTokens: 10, interject: (_row, done) => (done.length === 2 ? TOOL : null) };
  const rows = await engine.rollout([prompts[0]], o, new Rng(3));
  const r = rows[0];
  assert.deepEqual(r.completion.slice(2, 5), TOOL);
  assert.deepEqual(r.mask, [1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(r.logps.slice(2, 5), [0, 0, 0]);
  // the sampled tokens after the interjection saw it: their log-probs are the graph's over the whole sequence
  const graph = (await graphLogps(params, rows))[0];
  for (const k of [0, 1, 5, 6, 7, 8, 9]) assert.ok(Math.abs(graph[k] - r.logps[k]) < 5e-5, `token ${k}: ${r.logps[k]} vs ${graph[k]}`);
  // and the batch trains only the sampled ones
  const rb = new RolloutBatch(rows, 0);
  assert.equal(rb.batch.labelTokens, 7);
  await engine.release();
});
