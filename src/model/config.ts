// MiniMind model configuration: field names follow MiniMind's / Hugging Face's config.json.
export interface MiniMindConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  intermediate_size: number;
  max_position_embeddings: number;
  rms_norm_eps: number;
  rope_theta: number;
  qk_norm: boolean;
  tie_word_embeddings: boolean;
  use_moe: boolean;
  n_routed_experts: number;
  num_experts_per_tok: number;
  n_shared_experts: number;
  aux_loss_alpha: number;
  norm_topk_prob: boolean;
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
}

export class ConfigError extends Error {}

/** MiniMind's FFN width: 8/3 of hidden, rounded up to a multiple of 64. */
export function defaultIntermediate(hidden: number): number {
  return 64 * Math.ceil(Math.floor((hidden * 8) / 3) / 64);
}

const BASE: Omit<MiniMindConfig, 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads' | 'intermediate_size'> = {
  vocab_size: 6400, max_position_embeddings: 32768, rms_norm_eps: 1e-5, rope_theta: 1e4, qk_norm: false,
  tie_word_embeddings: true, use_moe: false, n_routed_experts: 4, num_experts_per_tok: 2, n_shared_experts: 1,
  aux_loss_alpha: 0.01, norm_topk_prob: true, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0,
};

function preset(o: Partial<MiniMindConfig> & Pick<MiniMindConfig, 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads'>): MiniMindConfig {
  return { ...BASE, intermediate_size: defaultIntermediate(o.hidden_size), ...o };
}

export const PRESETS: Record<string, MiniMindConfig> = {
  'minimind-v1-small': preset({ hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 16, num_key_value_heads: 8 }),
  'minimind-v1': preset({ hidden_size: 768, num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 8 }),
  'minimind-v1-moe': preset({ hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 16, num_key_value_heads: 8,
    use_moe: true, n_routed_experts: 4, num_experts_per_tok: 2, n_shared_experts: 2, aux_loss_alpha: 0.01 }),
  'minimind2-small': preset({ hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, rope_theta: 1e6 }),
  'minimind3': preset({ hidden_size: 768, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, qk_norm: true,
    rope_theta: 1e6, intermediate_size: 2432, rms_norm_eps: 1e-6 }),
  'minimind3-moe': preset({ hidden_size: 768, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, qk_norm: true,
    rope_theta: 1e6, intermediate_size: 2432, rms_norm_eps: 1e-6, use_moe: true, n_routed_experts: 4, num_experts_per_tok: 1,
    n_shared_experts: 0, aux_loss_alpha: 5e-4 }),
  // a few-minute CPU model for the demo and tests
  'tiny': preset({ hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 }),
};

/** Check every field; errors name the field. */
export function validateConfig(c: MiniMindConfig): MiniMindConfig {
  const posInt = (k: keyof MiniMindConfig) => {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`config field ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size', 'intermediate_size', 'max_position_embeddings'] as const) posInt(k);
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new ConfigError(`config field hidden_size (${c.hidden_size}) must be divisible by num_attention_heads (${c.num_attention_heads})`);
  }
  if ((c.hidden_size / c.num_attention_heads) % 2 !== 0) throw new ConfigError(`head dimension hidden_size/num_attention_heads = ${c.hidden_size / c.num_attention_heads} must be even for rotary embeddings`);
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new ConfigError(`config field num_attention_heads (${c.num_attention_heads}) must be divisible by num_key_value_heads (${c.num_key_value_heads})`);
  }
  if (!(c.rms_norm_eps > 0)) throw new ConfigError(`config field rms_norm_eps must be > 0`);
  if (!(c.rope_theta > 0)) throw new ConfigError(`config field rope_theta must be > 0`);
  if (c.use_moe) {
    posInt('n_routed_experts'); posInt('num_experts_per_tok');
    if (c.num_experts_per_tok > c.n_routed_experts) throw new ConfigError(`config field num_experts_per_tok (${c.num_experts_per_tok}) exceeds n_routed_experts (${c.n_routed_experts})`);
    if (!Number.isInteger(c.n_shared_experts) || c.n_shared_experts < 0) throw new ConfigError('config field n_shared_experts must be a non-negative integer');
  }
  if (!c.tie_word_embeddings) throw new ConfigError('config field tie_word_embeddings: only tied embeddings are supported (as in MiniMind)');
  return c;
}

export function resolveConfig(presetName: string | undefined, overrides: Partial<MiniMindConfig> = {}): MiniMindConfig {
  const name = presetName ?? 'minimind-v1-small';
  const base = PRESETS[name];
  if (!base) throw new ConfigError(`unknown preset "${name}"; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const cfg = { ...base, ...clean } as MiniMindConfig;
  if (clean.hidden_size !== undefined && clean.intermediate_size === undefined && !('intermediate_size' in clean)) {
    cfg.intermediate_size = defaultIntermediate(cfg.hidden_size);
  }
  return validateConfig(cfg);
}

export const headDim = (c: MiniMindConfig) => c.hidden_size / c.num_attention_heads;
