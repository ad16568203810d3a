// `minimind export --format gguf`: llama.cpp (node-llama-cpp's prebuilt binaries) loads the
// file, tokenizes as our tokenizer does, and continues prompts greedily with our tokens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { exportModel } from '../src/export/export.js';
import { dequantizeQ8_0, quantizeQ8_0 } from '../src/export/gguf.js';
import { halvesToInterleaved } from '../src/export/gguf-model.js';
import { interleavedToHalves } from '../src/io/minimind-weights.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { CASE_PROMPTS, greedy, writeCaseModel } from './export-cases.js';
import { cli, isCleanError, tmpDir, workspace, Workspace } from './helpers.js';

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>>;
let llama: Llama | null = null, skip: string | false = false, ws: Workspace;
const work = tmpDir('minimind-gguf-');

before(async () => {
  ws = await workspace(200);
  try { llama = await (await import('node-llama-cpp')).getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: 'error' as never }); } catch (e) { skip = `node-llama-cpp has no prebuilt llama.cpp for this machine: ${(e as Error).message}`; }
});

async function llamaGreedy(file: string, prompts: number[][], n: number): Promise<number[][]> {
  const model = await llama!.loadModel({ modelPath: file });
  const out: number[][] = [];
  try {
    for (const p of prompts) {
      const ctx = await model.createContext({ contextSize: 64, threads: 1 });
      const ids: number[] = [];
      for await (const t of ctx.getSequence().evaluate(p as never, { temperature: 0 })) { ids.push(t as number); if (ids.length >= n) break; }
      await ctx.dispose();
      out.push(ids);
    }
  } finally { await model.dispose(); }
  return out;
}

for (const name of ['llama', 'qwen3']) {
  test(`gguf export (${name}): llama.cpp's greedy continuations equal ours (f32), q8_0 mostly, and it tokenizes as we do`, async (t) => {
    if (skip) return t.skip(skip);
    const { config, params } = writeCaseModel(path.join(work, 'src'), name, ws.tokenizer);
    const ours = await greedy(config, params, CASE_PROMPTS, 16);
    const out = path.join(work, `gguf-${name}`);
    const res = await exportModel({ loadFrom: path.join(work, 'src', name), format: 'gguf', out, dtype: 'f32' });
    assert.equal(res.arch, name);
    assert.deepEqual(await llamaGreedy(path.join(out, 'model.gguf'), CASE_PROMPTS, 16), ours);
    // the embedded BPE (merges, special tokens) splits text as our tokenizer does
    const tok = MiniTokenizer.load(out);
    const model = await llama!.loadModel({ modelPath: path.join(out, 'model.gguf') });
    const text = tok.applyChatTemplate([{ role: 'user', content: fs.readFileSync(ws.corpus, 'utf8').split('\n')[3].slice(9, 200) }], { addGenerationPrompt: true });
    assert.deepEqual([...model.tokenize(text, true)], await tok.encode(text));
    assert.ok((await tok.encode(text)).length < Buffer.byteLength(text) * 0.8, 'the tokenizer merges (else this checks little)');
    await model.dispose();
    assert.match(fs.readFileSync(path.join(out, 'Modelfile'), 'utf8'), /^FROM \.\/model\.gguf\n[\s\S]*PARAMETER stop "<\|im_end\|>"/);
    // q8_0: about 4x smaller, and greedy tokens agree at most positions
    const q8 = path.join(work, `gguf-${name}-q8`);
    await exportModel({ loadFrom: path.join(work, 'src', name), format: 'gguf', out: q8, dtype: 'q8_0' });
    const ratio = fs.statSync(path.join(q8, 'model.gguf')).size / fs.statSync(path.join(out, 'model.gguf')).size;
    const q = await llamaGreedy(path.join(q8, 'model.gguf'), CASE_PROMPTS, 16);
    const agree = q.flat().filter((id, i) => id === ours.flat()[i]).length / ours.flat().length;
    console.log(`  ${name}: q8_0 file ${(100 * ratio).toFixed(0)}% of f32, greedy token agreement with f32 ${(100 * agree).toFixed(0)}%`);
    assert.ok(ratio < 0.45, `q8_0 file is ${ratio} of f32`);
    assert.ok(agree >= 0.75, `q8_0 greedy agreement ${agree} below the stated 75%`);
  });
}

test('q8_0 blocks round to within about half a step; llama-layout q/k rows permute and back', () => {
  const a = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i * 1.7) * (i < 32 ? 1 : 0.01));
  const back = dequantizeQ8_0(quantizeQ8_0(a), 64);
  for (let b = 0; b < 2; b++) { // half a step, plus the f16 rounding of the scale
    const amax = Math.max(...a.subarray(b * 32, b * 32 + 32).map(Math.abs));
    for (let i = b * 32; i < b * 32 + 32; i++) assert.ok(Math.abs(back[i] - a[i]) <= (amax / 127) * 0.6, `${i}: ${back[i]} vs ${a[i]}`);
  }
  const w = Float32Array.from({ length: 16 * 3 }, (_, i) => i);
  assert.deepEqual(interleavedToHalves(halvesToInterleaved(w, 16, 3, 8), 16, 3, 8), w);
  assert.deepEqual([...halvesToInterleaved(w, 16, 3, 8).subarray(0, 6)], [0, 1, 2, 12, 13, 14]); // row 1 <- row 4 (half 4)
});

test('gguf export refuses what llama/qwen3 GGUF cannot hold', () => {
  const src = path.join(work, 'src');
  for (const n of ['qwen3_moe', 'qwen3_yarn']) writeCaseModel(src, n, ws.tokenizer);
  for (const [n, re] of [['qwen3_moe', /a mixture-of-experts model cannot be exported to GGUF here.*use --format hf/], ['qwen3_yarn', /GGUF export of a YaRN model/]] as const) {
    const err = isCleanError(cli(['export', '--load_from', path.join(src, n), '--format', 'gguf', '--out', path.join(work, 'bad')]), re);
    assert.equal(err, null, err ?? '');
  }
});
