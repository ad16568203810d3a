// eval-ppl: perplexity and bits per byte agree with MiniMind v1's own logits (the v1_dense
// fixture: PyTorch logits of two 256-token rows), and the command reads text files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { Scorer } from '../src/model/score.js';
import { perplexity } from '../src/eval/ppl.js';
import { cli, isCleanError, ROOT, tmpDir } from './helpers.js';

const V1 = path.join(ROOT, 'test/fixtures/minimind/v1_dense');

test("perplexity equals the one from MiniMind v1's logits, with and without windows", async () => {
  const e = JSON.parse(fs.readFileSync(path.join(V1, 'expected.json'), 'utf8')) as { input_ids: number[][] };
  const logits = readSafetensors(path.join(V1, 'expected.safetensors')).tensors.get('logits')!.data as Float32Array;
  const T = e.input_ids[0].length, V = 128;
  let nll = 0, n = 0;
  e.input_ids.forEach((ids, b) => {
    for (let t = 1; t < T; t++) {
      const row = logits.subarray((b * T + t - 1) * V, (b * T + t) * V);
      const m = Math.max(...row);
      nll -= row[ids[t]] - m - Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      n++;
    }
  });
  const { config, params } = loadModelDir(V1);
  const scorer = await Scorer.create(config, params, { threads: 1 });
  const samples = e.input_ids.map((ids) => ({ ids, bytes: 100 }));
  const r = await perplexity(scorer, samples, 512);
  assert.equal(r.tokens, n);
  assert.ok(Math.abs(r.nll_per_token - nll / n) < 1e-4, `${r.nll_per_token} vs ${nll / n}`);
  assert.ok(Math.abs(r.perplexity - Math.exp(nll / n)) / r.perplexity < 1e-4);
  assert.ok(Math.abs(r.bits_per_byte - nll / Math.LN2 / 200) < 1e-3);
  // windows of 64: the same tokens are each predicted once, from less context
  const w = await perplexity(scorer, samples, 64);
  assert.equal(w.tokens, n);
  assert.notEqual(w.nll_per_token, r.nll_per_token);
  await scorer.release();
});

test('eval-ppl command on a .jsonl file; a file without text is a clear error', () => {
  const dir = tmpDir('ppl'), model = path.join(ROOT, 'test/fixtures/ceval/model');
  fs.writeFileSync(path.join(dir, 'held.jsonl'), JSON.stringify({ text: '马克思主义哲学的直接理论来源' }) + '\n' + JSON.stringify({ text: '实践是检验真理的唯一标准' }) + '\n');
  const r = cli(['eval-ppl', '--load_from', model, '--data_path', path.join(dir, 'held.jsonl'), '--json', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.samples, 2);
  assert.equal(out.bytes, Buffer.byteLength('马克思主义哲学的直接理论来源实践是检验真理的唯一标准'));
  assert.ok(out.perplexity > 1 && Number.isFinite(out.bits_per_byte));
  fs.writeFileSync(path.join(dir, 'bad.jsonl'), '{"content": "x"}\n');
  assert.equal(isCleanError(cli(['eval-ppl', '--load_from', model, '--data_path', path.join(dir, 'bad.jsonl')]), /bad\.jsonl:1: no "text" string field/), null);
});
