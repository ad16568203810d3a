// `minimind export --format gguf`: llama.cpp (node-llama-cpp's prebuilt binaries) loads the
// file (llama, qwen3, qwen3moe), tokenizes as our tokenizer does, and continues prompts
// greedily with our tokens.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { exportModel } from '../src/export/export.js';
import { dequantizeQ8_0, quantizeQ8_0 } from '../src/export/gguf.js';
import { halvesToInterleaved } from '../src/export/gguf-model.js';
import { interleavedToHalves } from '../src/io/minimind-weights.js';
import { saveModelDir } from '../src/io/model-dir.js';
import { configFrom, PRESETS } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
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

const ARCH: Record<string, string> = { llama: 'llama', qwen3: 'qwen3', qwen3_moe: 'qwen3moe', qwen3_moe_k2: 'qwen3moe' };
for (const name of Object.keys(ARCH)) {
  test(`gguf export (${name}): llama.cpp's greedy continuations equal ours (f32), f16/q8_0 mostly, and it tokenizes as we do`, async (t) => {
    if (skip) return t.skip(skip);
    const { config, params } = writeCaseModel(path.join(work, 'src'), name, ws.tokenizer);
    const out = path.join(work, `gguf-${name}`);
    const res = await exportModel({ loadFrom: path.join(work, 'src', name), format: 'gguf', out, dtype: 'f32' });
    assert.equal(res.arch, ARCH[name]);
    // llama.cpp ends a continuation at an end-of-generation token (<|im_end|>, <|endoftext|>) without yielding it
    const tok = MiniTokenizer.load(out), eog = new Set([tok.eosId, tok.padId]);
    const ours = (await greedy(config, params, CASE_PROMPTS, 16)).map((ids) => ids.slice(0, ids.findIndex((id) => eog.has(id)) >>> 0));
    assert.ok(ours.flat().length >= 30, `only ${ours.flat().length} tokens to compare`);
    assert.deepEqual(await llamaGreedy(path.join(out, 'model.gguf'), CASE_PROMPTS, 16), ours);
    // the embedded BPE (merges, special tokens) splits text as our tokenizer does
    const model = await llama!.loadModel({ modelPath: path.join(out, 'model.gguf') });
    const text = tok.applyChatTemplate([{ role: 'user', content: fs.readFileSync(ws.corpus, 'utf8').split('\n')[3].slice(9, 200) }], { addGenerationPrompt: true });
    assert.deepEqual([...model.tokenize(text, true)], await tok.encode(text));
    assert.ok((await tok.encode(text)).length < Buffer.byteLength(text) * 0.8, 'the tokenizer merges (else this checks little)');
    await model.dispose();
    assert.match(fs.readFileSync(path.join(out, 'Modelfile'), 'utf8'), /^FROM \.\/model\.gguf\n[\s\S]*PARAMETER stop "<\|im_end\|>"/);
    // f16 and q8_0: smaller files, greedy tokens agree at most positions (top-1 MoE routing is a
    // discrete choice, so a rounding can send a token to another expert and the continuation elsewhere)
    const f32Size = fs.statSync(path.join(out, 'model.gguf')).size;
    for (const [dtype, minAgree, maxRatio] of [['f16', 0.9, 0.55], ['q8_0', config.use_moe && config.num_experts_per_tok === 1 ? 0.5 : 0.75, 0.45]] as const) {
      const dir = path.join(work, `gguf-${name}-${dtype}`);
      await exportModel({ loadFrom: path.join(work, 'src', name), format: 'gguf', out: dir, dtype });
      const ratio = fs.statSync(path.join(dir, 'model.gguf')).size / f32Size;
      const q = await llamaGreedy(path.join(dir, 'model.gguf'), CASE_PROMPTS, 16);
      const agree = ours.reduce((n, ids, i) => n + ids.filter((id, j) => q[i][j] === id).length, 0) / ours.flat().length;
      console.log(`  ${name}: ${dtype} file ${(100 * ratio).toFixed(0)}% of f32, greedy token agreement with f32 ${(100 * agree).toFixed(0)}%`);
      assert.ok(ratio < maxRatio, `${dtype} file is ${ratio} of f32`);
      assert.ok(agree >= minAgree, `${dtype} greedy agreement ${agree} below the stated ${minAgree}`);
    }
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

test('gguf export refuses what llama/qwen3/qwen3moe GGUF cannot hold', () => {
  const src = path.join(work, 'src');
  writeCaseModel(src, 'qwen3_yarn', ws.tokenizer);
  const small = { hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320 };
  const v1moe = configFrom(PRESETS['minimind-v1-moe'], small), unnormed = configFrom(PRESETS['minimind3-moe'], { ...small, num_experts_per_tok: 2, norm_topk_prob: false });
  saveModelDir(path.join(src, 'v1moe'), v1moe, initParams(v1moe, 1), ws.tokenizer);
  saveModelDir(path.join(src, 'unnormed'), unnormed, initParams(unnormed, 1), ws.tokenizer);
  for (const [n, re] of [['v1moe', /this mixture-of-experts model cannot be exported to GGUF: its MoE layers have 1 shared expert.*use --format hf/],
    ['unnormed', /norm_topk_prob false\) cannot be exported to GGUF: llama.cpp's qwen3moe always normalises/], ['qwen3_yarn', /GGUF export of a YaRN model/]] as const) {
    const err = isCleanError(cli(['export', '--load_from', path.join(src, n), '--format', 'gguf', '--out', path.join(work, 'bad')]), re);
    assert.equal(err, null, err ?? '');
  }
});
