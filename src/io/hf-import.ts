// config.json of a stock transformers model of MiniMind's shape (Llama, Qwen3, Qwen3-MoE:
// what `minimind export --format hf` writes) read into a MiniMindConfig, so such a
// directory loads like one of ours. Whatever MiniMind cannot express is a named error.
import { MINIMIND_YARN } from '../export/arch.js';
import { ConfigError, configFrom, FAMILIES, Family, MiniMindConfig, PRESETS } from '../model/config.js';

export const STOCK_TYPES = ['llama', 'qwen3', 'qwen3_moe'];

export const isStockConfig = (raw: Record<string, unknown>) => STOCK_TYPES.includes(raw.model_type as string);

export function parseStockConfig(raw: Record<string, unknown>, file: string): { config: MiniMindConfig; qkNormGiven: boolean } {
  const type = raw.model_type as string;
  const fail = (m: string) => new ConfigError(`${file}: ${m}`);
  const want = (k: string, ok: (v: unknown) => boolean, what: string) => {
    if (raw[k] !== undefined && raw[k] !== null && !ok(raw[k])) throw fail(`field ${k}: ${what}, got ${JSON.stringify(raw[k])}`);
  };
  want('hidden_act', (v) => v === 'silu', 'only "silu" is supported');
  want('attention_bias', (v) => v === false, 'attention biases are not supported');
  want('mlp_bias', (v) => v === false, 'MLP biases are not supported');
  want('use_sliding_window', (v) => v === false, 'sliding-window attention is not supported');
  want('decoder_sparse_step', (v) => v === 1, 'every layer must be a MoE layer (1)');
  want('mlp_only_layers', (v) => Array.isArray(v) && v.length === 0, 'every layer must be a MoE layer ([])');
  const rp = (raw.rope_parameters ?? {}) as Record<string, unknown>;
  const theta = raw.rope_theta ?? rp.rope_theta ?? 1e4;
  const scaling = (raw.rope_scaling ?? (rp.rope_type && rp.rope_type !== 'default' ? rp : null)) as Record<string, unknown> | null;
  let yarn = false;
  if (scaling) {
    const kind = scaling.rope_type ?? scaling.type;
    const same = kind === 'yarn' && Object.entries(MINIMIND_YARN).every(([k, v]) => k === 'rope_type' || Number(scaling[k]) === v);
    if (!same) throw fail(`field rope_scaling: only MiniMind's YaRN (${JSON.stringify(MINIMIND_YARN)}) is supported, got ${JSON.stringify(scaling)}`);
    yarn = true;
  }
  const qk = type !== 'llama', moe = type === 'qwen3_moe';
  const family: Family = FAMILIES.includes(raw.minimind_family as Family) ? raw.minimind_family as Family : qk ? 'minimind3' : 'minimind2';
  const id = (k: string) => { const v = raw[k]; return Array.isArray(v) ? v[0] : v ?? undefined; };
  const over: Partial<MiniMindConfig> = {
    family, qk_norm: qk, use_moe: moe, inference_rope_scaling: yarn, rope_theta: theta as number,
    hidden_size: raw.hidden_size as number, num_hidden_layers: raw.num_hidden_layers as number, num_attention_heads: raw.num_attention_heads as number,
    num_key_value_heads: (raw.num_key_value_heads ?? raw.num_attention_heads) as number, head_dim: raw.head_dim as number | undefined,
    vocab_size: raw.vocab_size as number, intermediate_size: raw.intermediate_size as number, max_position_embeddings: raw.max_position_embeddings as number,
    rms_norm_eps: (raw.rms_norm_eps ?? 1e-6) as number, bos_token_id: id('bos_token_id'), eos_token_id: id('eos_token_id'), pad_token_id: id('pad_token_id'),
  };
  if (moe) {
    Object.assign(over, { n_shared_experts: 0, n_routed_experts: raw.num_experts ?? raw.num_local_experts, num_experts_per_tok: raw.num_experts_per_tok,
      moe_intermediate_size: raw.moe_intermediate_size, norm_topk_prob: raw.norm_topk_prob ?? false, aux_loss_alpha: raw.router_aux_loss_coef });
  }
  try {
    return { config: configFrom(PRESETS[family === 'minimind3' ? 'minimind3' : 'minimind2-small'], over), qkNormGiven: true };
  } catch (e) {
    if (e instanceof ConfigError) throw fail(e.message);
    throw e;
  }
}
