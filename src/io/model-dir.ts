// A model directory in Hugging Face layout: model.safetensors (HF parameter names),
// config.json (MiniMind's keys), generation_config.json and the tokenizer files. Training
// writes one at the end of every stage; the next stage, chat and the server read it, and
// so do MiniMind's own from_pretrained and its checkpoints (.pth) read here.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { ConfigError, configFrom, MiniMindConfig } from '../model/config.js';
import { hfConfig, parseHfConfig } from './hf-config.js';
import { isStockConfig, parseStockConfig } from './hf-import.js';
import { hasQkNorm, LoadedTensor, toModelParams } from './minimind-weights.js';
import { readTorchStateDict } from './torch-pth.js';
import { paramSpecs, Params } from '../model/params.js';
import { UserError } from '../util/errors.js';

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

/** The weights file of a model directory, in the order MiniMind and the hub use them. */
function weightsFile(dir: string): string {
  for (const f of ['model.safetensors', 'pytorch_model.bin']) if (fs.existsSync(path.join(dir, f))) return path.join(dir, f);
  const pth = fs.readdirSync(dir).filter((f) => f.endsWith('.pth'));
  if (pth.length === 1) return path.join(dir, pth[0]);
  throw new UserError(`${dir}: no weights found (looked for model.safetensors, pytorch_model.bin${pth.length ? `; several .pth files: name one of ${pth.join(', ')}` : ', *.pth'})`);
}

function readWeights(file: string): Map<string, LoadedTensor> {
  if (/\.(pth|bin|pt)$/.test(file)) return readTorchStateDict(file);
  const { tensors } = readSafetensors(file);
  const out = new Map<string, LoadedTensor>();
  for (const [k, t] of tensors) {
    if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) throw new UserError(`${file}: tensor "${k}" has dtype ${t.dtype}, not a float weight`);
    out.set(k, { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) });
  }
  return out;
}

/** The model config of a directory's config.json, or null when it has none. */
export function readConfigJson(dir: string): { config: MiniMindConfig; qkNormGiven: boolean } | null {
  const f = path.join(dir, 'config.json');
  if (!fs.existsSync(f)) return null;
  let raw: Record<string, unknown>;
  try { raw = JSON.parse(fs.readFileSync(f, 'utf8')); } catch (e) { throw new ConfigError(`${f}: invalid JSON (${(e as Error).message})`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${f}: expected a JSON object`);
  // a Llama/Qwen3 transformers directory of MiniMind's shape (what `export --format hf` writes)
  if (isStockConfig(raw)) return parseStockConfig(raw, f);
  return parseHfConfig(raw, f);
}

/**
 * Load a model: a directory in Hugging Face layout written by minimind, MiniMind2 or
 * minimind-3 (model.safetensors or pytorch_model.bin with config.json), or a weights file
 * (MiniMind's out/*.pth, pytorch_model.bin, model.safetensors). Without a config.json next
 * to the weights, `presetConfig` (from --preset and the model flags) says what they are.
 */
export function loadModelDir(source: string, presetConfig?: MiniMindConfig): { config: MiniMindConfig; params: Params } {
  if (!fs.existsSync(source)) throw new UserError(`${source} does not exist`);
  const isDir = fs.statSync(source).isDirectory();
  const dir = isDir ? source : path.dirname(source);
  const file = isDir ? weightsFile(source) : source;
  // a config.json beside a loose .pth describes some other model (MiniMind's out/ has none)
  const fromJson = isDir || !/\.pth$/.test(file) ? readConfigJson(dir) : null;
  if (!fromJson && !presetConfig) {
    throw new UserError(`${source}: no config.json beside the weights; name the model with --preset (e.g. --preset minimind3) and its size flags`);
  }
  const tensors = readWeights(file);
  let config = fromJson?.config ?? presetConfig!;
  // minimind-3 writes no qk_norm key: its checkpoints always carry the q/k norms, so the weights tell
  if (fromJson && !fromJson.qkNormGiven) config = configFrom(config, { qk_norm: hasQkNorm(tensors.keys()) });
  return { config, params: toModelParams(tensors, config, path.relative(process.cwd(), file) || file) };
}
