// Parameter names, shapes and initialization of MiniMind (Hugging Face Llama/Qwen3 names,
// weights stored [out, in]).
import { Rng } from '../util/rng.js';
import { headDim, MiniMindConfig } from './config.js';

export interface ParamSpec { name: string; shape: number[]; init: 'ones' | 'linear' }
export type Params = Map<string, Float32Array>;

const ffn = (prefix: string, d: number, h: number): ParamSpec[] => [
  { name: `${prefix}.gate_proj.weight`, shape: [h, d], init: 'linear' },
  { name: `${prefix}.up_proj.weight`, shape: [h, d], init: 'linear' },
  { name: `${prefix}.down_proj.weight`, shape: [d, h], init: 'linear' },
];

export function paramSpecs(c: MiniMindConfig): ParamSpec[] {
  const d = c.hidden_size, hd = headDim(c), kv = c.num_key_value_heads * hd;
  const out: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocab_size, d], init: 'linear' }];
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      { name: `${p}.input_layernorm.weight`, shape: [d], init: 'ones' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [c.num_attention_heads * hd, d], init: 'linear' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [kv, d], init: 'linear' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [kv, d], init: 'linear' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [d, c.num_attention_heads * hd], init: 'linear' },
    );
    if (c.qk_norm) out.push({ name: `${p}.self_attn.q_norm.weight`, shape: [hd], init: 'ones' }, { name: `${p}.self_attn.k_norm.weight`, shape: [hd], init: 'ones' });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], init: 'ones' });
    if (c.use_moe) {
      out.push({ name: `${p}.mlp.gate.weight`, shape: [c.n_routed_experts, d], init: 'linear' });
      for (let e = 0; e < c.n_routed_experts; e++) out.push(...ffn(`${p}.mlp.experts.${e}`, d, c.moe_intermediate_size));
      for (let e = 0; e < c.n_shared_experts; e++) out.push(...ffn(`${p}.mlp.shared_experts.${e}`, d, c.intermediate_size));
    } else {
      out.push(...ffn(`${p}.mlp`, d, c.intermediate_size));
    }
  }
  out.push({ name: 'model.norm.weight', shape: [d], init: 'ones' });
  return out;
}

export const numel = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

export function countParams(c: MiniMindConfig): number {
  return paramSpecs(c).reduce((s, p) => s + numel(p.shape), 0);
}

/**
 * Fresh weights as MiniMind gets them from PyTorch: nn.Linear's default
 * U(-1/sqrt(in), 1/sqrt(in)) (the tied embedding is the LM head's Linear), norms 1.
 */
export function initParams(c: MiniMindConfig, seed = 42): Params {
  const rng = new Rng(seed);
  const params: Params = new Map();
  for (const s of paramSpecs(c)) {
    const a = new Float32Array(numel(s.shape));
    if (s.init === 'ones') a.fill(1);
    else { const bound = 1 / Math.sqrt(s.shape[1]); for (let i = 0; i < a.length; i++) a[i] = (2 * rng.next() - 1) * bound; }
    params.set(s.name, a);
  }
  return params;
}
