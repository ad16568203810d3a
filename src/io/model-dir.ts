// A model directory in Hugging Face layout: model.safetensors (HF parameter names),
// config.json, generation_config.json and the tokenizer files. Training writes one at
// the end of every stage; the next stage, chat and the server read it.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { ConfigError, MiniMindConfig, resolveConfig, validateConfig } from '../model/config.js';
import { paramSpecs, Params } from '../model/params.js';
import { UserError } from '../util/errors.js';

export function hfConfig(c: MiniMindConfig): Record<string, unknown> {
  return {
    architectures: ['MiniMindForCausalLM'], model_type: 'minimind', torch_dtype: 'float32', hidden_act: 'silu',
    head_dim: c.hidden_size / c.num_attention_heads, attention_bias: false, ...c,
  };
}

export function saveModelDir(dir: string, c: MiniMindConfig, params: Params, tokenizerDir?: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = new Map(paramSpecs(c).map((s) => [s.name, { shape: s.shape, data: params.get(s.name)! }]));
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(hfConfig(c), null, 2));
  writeFileAtomic(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: c.bos_token_id, eos_token_id: c.eos_token_id, pad_token_id: c.pad_token_id }, null, 2));
  if (tokenizerDir && path.resolve(tokenizerDir) !== path.resolve(dir)) {
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      if (fs.existsSync(path.join(tokenizerDir, f))) fs.copyFileSync(path.join(tokenizerDir, f), path.join(dir, f));
    }
  }
}

export function readConfigJson(dir: string): MiniMindConfig {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f)) throw new UserError(`${dir} is not a model directory (no config.json)`);
  let raw: Record<string, unknown>;
  try { raw = JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { throw new ConfigError(`${f}: invalid JSON (${(e as Error).message})`); }
  const base = resolveConfig('minimind-v1-small');
  const known = Object.fromEntries(Object.keys(base).filter((k) => k in raw).map((k) => [k, raw[k]]));
  return validateConfig({ ...base, ...known } as MiniMindConfig);
}

/** Load a model directory, checking that every weight is present with the right shape. */
export function loadModelDir(dir: string): { config: MiniMindConfig; params: Params } {
  const config = readConfigJson(dir);
  const { tensors } = readSafetensors(path.join(dir, 'model.safetensors'));
  const params: Params = new Map();
  for (const s of paramSpecs(config)) {
    const t = tensors.get(s.name);
    if (!t) throw new UserError(`${dir}/model.safetensors lacks weight "${s.name}" that config.json implies`);
    const n = s.shape.reduce((p, d) => p * d, 1);
    if (t.shape.join(',') !== s.shape.join(',') || t.data.length !== n) {
      throw new UserError(`${dir}/model.safetensors: weight "${s.name}" has shape [${t.shape}], config.json implies [${s.shape}]`);
    }
    params.set(s.name, t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array));
  }
  return { config, params };
}
