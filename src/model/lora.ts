// LoRA adapters: y = x W^T + (alpha/r) * (x A^T) B^T on chosen linear layers, with the base
// weights frozen (the training graph computes no gradient for them). Adapters are saved on
// their own with PEFT's names and adapter_config.json, can be merged into the base, and
// chat can run base + adapter unmerged.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { linear } from '../graph/nn.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { MiniMindConfig } from './config.js';
import { LinearHook } from './minimind.js';
import { paramSpecs, Params } from './params.js';

export interface LoraConfig { r: number; alpha: number; dropout: number; targets: string[] }

const PEFT = 'base_model.model.';
export const loraA = (w: string) => `${PEFT}${w.replace(/\.weight$/, '')}.lora_A.weight`;
export const loraB = (w: string) => `${PEFT}${w.replace(/\.weight$/, '')}.lora_B.weight`;
export const isLora = (name: string) => name.startsWith(PEFT);

/**
 * Weights to adapt. `square` (MiniMind's default): linear layers with as many outputs as
 * inputs; `all`: every linear layer of the decoder; or module names such as q_proj,v_proj.
 */
export function loraTargets(c: MiniMindConfig, spec: string): string[] {
  const linears = paramSpecs(c).filter((s) => s.shape.length === 2 && s.name !== 'model.embed_tokens.weight' && !s.name.endsWith('mlp.gate.weight'));
  if (spec === 'all') return linears.map((s) => s.name);
  if (spec === 'square') return linears.filter((s) => s.shape[0] === s.shape[1]).map((s) => s.name);
  const mods = spec.split(',').map((m) => m.trim()).filter(Boolean);
  const known = new Set(linears.map((s) => s.name.split('.').slice(-2)[0]));
  for (const m of mods) if (!known.has(m)) throw new UserError(`--lora_target: unknown module "${m}" (choose from ${[...known].join(', ')}, or square/all)`);
  return linears.filter((s) => mods.includes(s.name.split('.').slice(-2)[0])).map((s) => s.name);
}

export function loraSpecs(c: MiniMindConfig, lc: LoraConfig): { name: string; shape: number[] }[] {
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  return lc.targets.flatMap((w) => {
    const [out, inp] = shapes.get(w)!;
    if (lc.r > Math.min(out, inp)) throw new UserError(`LoRA rank ${lc.r} is larger than layer ${w} allows (${out} x ${inp})`);
    return [{ name: loraA(w), shape: [lc.r, inp] }, { name: loraB(w), shape: [out, lc.r] }];
  });
}

/**
 * How adapter A starts (B starts at zero, so an adapter begins as a no-op):
 * `minimind`, MiniMind's model_lora.py: A ~ N(0, 0.02^2); `peft`, PEFT's default
 * (kaiming-uniform with a = sqrt(5)): A ~ U(-1/sqrt(in), 1/sqrt(in)).
 */
export type LoraInit = 'minimind' | 'peft';

export function initLora(c: MiniMindConfig, lc: LoraConfig, seed = 42, init: LoraInit = 'minimind'): Params {
  const rng = new Rng(seed), out: Params = new Map();
  for (const s of loraSpecs(c, lc)) {
    const a = new Float32Array(s.shape[0] * s.shape[1]);
    if (s.name.endsWith('lora_A.weight')) {
      const bound = 1 / Math.sqrt(s.shape[1]);
      for (let i = 0; i < a.length; i++) a[i] = init === 'minimind' ? 0.02 * rng.normal() : (2 * rng.next() - 1) * bound;
    }
    out.set(s.name, a);
  }
  return out;
}

export function loraHook(lc: LoraConfig): LinearHook {
  const targets = new Set(lc.targets), scale = lc.alpha / lc.r;
  return (g, x, name, plain, weight) => {
    if (!targets.has(name)) return plain();
    return g.add(plain(), g.mul(linear(g, linear(g, x, weight(loraA(name))), weight(loraB(name))), scale));
  };
}

/** W += (alpha/r) B A for every adapted weight (a new map; the base is not modified). */
export function mergeLora(c: MiniMindConfig, base: Params, adapter: Params, lc: LoraConfig, onLayer?: (done: number, total: number) => void): Params {
  const merged: Params = new Map([...base].map(([k, v]) => [k, Float32Array.from(v)]));
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  const scale = lc.alpha / lc.r;
  for (const w of lc.targets) {
    const [out, inp] = shapes.get(w)!, A = adapter.get(loraA(w))!, B = adapter.get(loraB(w))!, W = merged.get(w)!;
    for (let o = 0; o < out; o++) for (let k = 0; k < lc.r; k++) {
      const b = B[o * lc.r + k] * scale;
      if (b === 0) continue;
      for (let i = 0; i < inp; i++) W[o * inp + i] += b * A[k * inp + i];
    }
    onLayer?.(lc.targets.indexOf(w) + 1, lc.targets.length);
  }
  return merged;
}

export function saveAdapter(dir: string, c: MiniMindConfig, lc: LoraConfig, params: Params, baseDir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), new Map(loraSpecs(c, lc).map((s) => [s.name, { shape: s.shape, data: params.get(s.name)! }])));
  const modules = [...new Set(lc.targets.map((t) => t.split('.').slice(-2)[0]))];
  writeFileAtomic(path.join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r: lc.r, lora_alpha: lc.alpha, lora_dropout: lc.dropout, bias: 'none', fan_in_fan_out: false,
    inference_mode: true, target_modules: modules, base_model_name_or_path: path.resolve(baseDir),
    minimind: { targets: lc.targets, hidden_size: c.hidden_size, num_hidden_layers: c.num_hidden_layers, vocab_size: c.vocab_size },
  }, null, 2));
}

/** Load an adapter and check it fits this base model. */
export function loadAdapter(dir: string, c: MiniMindConfig): { lc: LoraConfig; params: Params } {
  const f = path.join(dir, 'adapter_config.json');
  if (!fs.existsSync(f)) throw new UserError(`${dir} is not a LoRA adapter (no adapter_config.json)`);
  const cfg = JSON.parse(fs.readFileSync(f, 'utf8'));
  const m = cfg.minimind ?? {};
  for (const k of ['hidden_size', 'num_hidden_layers', 'vocab_size'] as const) {
    if (m[k] !== undefined && m[k] !== c[k]) throw new UserError(`adapter ${dir} was trained for a different base model (${k} ${m[k]}, this model has ${c[k]})`);
  }
  const lc: LoraConfig = { r: cfg.r, alpha: cfg.lora_alpha, dropout: cfg.lora_dropout ?? 0, targets: m.targets ?? loraTargets(c, (cfg.target_modules as string[]).join(',')) };
  const { tensors } = readSafetensors(path.join(dir, 'adapter_model.safetensors'));
  const params: Params = new Map();
  for (const s of loraSpecs(c, lc)) {
    const t = tensors.get(s.name);
    if (!t || t.shape.join() !== s.shape.join()) throw new UserError(`adapter ${dir} does not fit this base model: ${s.name} ${t ? `has shape [${t.shape}], expected [${s.shape}]` : 'is missing'}`);
    params.set(s.name, t.data as Float32Array);
  }
  return { lc, params };
}
