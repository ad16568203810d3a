// Small models, one per export architecture, rebuilt identically by the fixture script
// (scripts/fixtures/write-export-models.ts, whose exports Python transformers loads) and by
// the tests that compare against what Python recorded.
import fs from 'node:fs';
import path from 'node:path';
import { saveModelDir } from '../src/io/model-dir.js';
import { configFrom, MiniMindConfig, PRESETS } from '../src/model/config.js';
import { initParams, Params } from '../src/model/params.js';
import { DecodeRunner } from '../src/model/decode-runner.js';
import { Generator } from '../src/model/generate.js';
import { baseVocab, tokenizerFiles, writeTokenizerFiles } from '../src/tokenizer/files.js';
import { Rng } from '../src/util/rng.js';

const small = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 320, intermediate_size: 96, max_position_embeddings: 512 };

/** name -> config; the name says the architecture the export should have. */
export const EXPORT_CASES: Record<string, MiniMindConfig> = {
  llama: configFrom(PRESETS['minimind2-small'], small),
  qwen3: configFrom(PRESETS['minimind3'], small),
  qwen3_yarn: configFrom(PRESETS['minimind3'], { ...small, inference_rope_scaling: true, max_position_embeddings: 32768 }),
  qwen3_moe: configFrom(PRESETS['minimind3-moe'], { ...small, moe_intermediate_size: 48 }),
  qwen3_moe_k2: configFrom(PRESETS['minimind3-moe'], { ...small, num_experts_per_tok: 2, moe_intermediate_size: 48 }),
};

/** Seeded weights with norms away from 1 (a dropped or misplaced norm shows in the logits). */
export function caseParams(name: string): Params {
  const c = EXPORT_CASES[name], params = initParams(c, 11);
  const rng = new Rng(Object.keys(EXPORT_CASES).indexOf(name) + 3);
  for (const [k, v] of params) if (/norm\.weight$/.test(k)) for (let i = 0; i < v.length; i++) v[i] = Math.fround((k === 'model.norm.weight' ? 4 : 1) * (1 + 0.3 * rng.normal()));
  return params;
}

/** Prompt ids for greedy continuations (within the tokenizer's 283 tokens). */
export const CASE_PROMPTS: number[][] = [[1, 40, 75, 90, 120], [1, 200, 201, 202], [1, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40]];

/** A model directory of ours for a case, with `tokDir`'s tokenizer or a byte-level one (no merges: 283 tokens). */
export function writeCaseModel(dir: string, name: string, tokDir?: string): { config: MiniMindConfig; params: Params } {
  const tok = tokDir ?? path.join(dir, 'tok');
  if (!tokDir && !fs.existsSync(path.join(tok, 'tokenizer.json'))) { fs.mkdirSync(tok, { recursive: true }); writeTokenizerFiles(tok, tokenizerFiles([], baseVocab())); }
  const config = EXPORT_CASES[name], params = caseParams(name);
  saveModelDir(path.join(dir, name), config, params, tok);
  return { config, params };
}

/** Our logits [T*V] for every position of `ids`. */
export async function allLogits(c: MiniMindConfig, params: Params, ids: number[]): Promise<Float32Array> {
  const r = await DecodeRunner.create(c, params, { threads: 1 }, { allLogits: true });
  try { return await r.run(ids, r.emptyCache()); } finally { await r.release(); }
}


/** Our greedy continuations (no stop token) of each prompt. */
export async function greedy(c: MiniMindConfig, params: Params, prompts: number[][], n: number): Promise<number[][]> {
  const g = await Generator.create(c, params, { threads: 1 });
  const out: number[][] = [];
  try {
    for (const p of prompts) { const ids: number[] = []; for await (const id of g.generate(p, { temperature: 0, maxNewTokens: n, stopIds: [] })) ids.push(id); out.push(ids); }
  } finally { await g.release(); }
  return out;
}
