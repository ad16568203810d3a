// MiniMind model configuration. Every field is declared once, in CONFIG_FIELDS: the table
// gives the TypeScript type, the CLI option (name, aliases, help) and the config.json key
// of each MiniMind generation, so the interface, the command line and the files we read
// and write cannot drift apart.

/**
 * Which MiniMind code a model follows where the generations differ:
 * - minimind2: MiniMind v1 (2024) and MiniMind2 (2025). MoE: top-k weights normalised
 *   only when k > 1, sequence-level auxiliary loss, shared experts. FFN 8/3·h rounded up to 64.
 * - minimind3: current MiniMind. MoE: top-k weights normalised whenever norm_topk_prob is
 *   set (so top-1 gets weight 1), batch-level auxiliary loss, no shared experts; QK-norm;
 *   FFN ceil(h·π/64)·64.
 */
export type Family = 'minimind2' | 'minimind3';
export const FAMILIES: Family[] = ['minimind2', 'minimind3'];

type Kind = 'int' | 'number' | 'bool' | 'family';
interface FieldSpec {
  kind: Kind;
  describe: string;
  /** CLI aliases (MiniMind v1's LMConfig names) */
  alias?: string;
  /** config.json key where MiniMind's generations name it differently */
  keys?: { minimind1?: string; minimind3?: string };
  /** not a CLI option (fixed by the architecture or by the tokenizer) */
  internal?: boolean;
  /** computed from other fields unless given explicitly (re-derived when they change) */
  derived?: boolean;
}

export const CONFIG_FIELDS = {
  family: { kind: 'family', describe: 'MiniMind generation whose MoE/FFN rules and config.json keys the model follows (minimind2 = v1 and MiniMind2; minimind3 = current)' },
  hidden_size: { kind: 'int', describe: 'hidden size', alias: 'dim', keys: { minimind1: 'dim' } },
  num_hidden_layers: { kind: 'int', describe: 'decoder layers', alias: 'n_layers', keys: { minimind1: 'n_layers' } },
  num_attention_heads: { kind: 'int', describe: 'query heads', alias: 'n_heads', keys: { minimind1: 'n_heads' } },
  num_key_value_heads: { kind: 'int', describe: 'key/value heads (grouped-query attention)', alias: 'n_kv_heads', keys: { minimind1: 'n_kv_heads' } },
  head_dim: { kind: 'int', describe: 'per-head dimension (default hidden_size/num_attention_heads)', derived: true },
  vocab_size: { kind: 'int', describe: "vocabulary size (default: the tokenizer's)" },
  intermediate_size: { kind: 'int', describe: 'FFN width (default: the family\'s rule, from hidden_size)', alias: 'hidden_dim', keys: { minimind1: 'hidden_dim' }, derived: true },
  moe_intermediate_size: { kind: 'int', describe: 'FFN width of each routed expert (default intermediate_size)', derived: true },
  max_position_embeddings: { kind: 'int', describe: 'longest sequence the model is meant for', keys: { minimind1: 'max_seq_len' }, internal: true },
  rms_norm_eps: { kind: 'number', describe: 'RMSNorm epsilon', keys: { minimind1: 'norm_eps' } },
  rope_theta: { kind: 'number', describe: 'RoPE base' },
  inference_rope_scaling: { kind: 'bool', describe: "YaRN RoPE scaling (MiniMind's inference_rope_scaling: factor 16 over 2048 positions)" },
  qk_norm: { kind: 'bool', describe: 'RMSNorm on queries and keys (MiniMind-3)' },
  tie_word_embeddings: { kind: 'bool', describe: 'LM head shares the embedding', internal: true },
  use_moe: { kind: 'bool', describe: 'mixture-of-experts FFN' },
  n_routed_experts: { kind: 'int', describe: 'routed experts (MoE)', keys: { minimind3: 'num_experts' } },
  num_experts_per_tok: { kind: 'int', describe: 'experts per token, top-k (MoE)' },
  n_shared_experts: { kind: 'int', describe: 'shared experts that see every token (MoE, minimind2 family)' },
  aux_loss_alpha: { kind: 'number', describe: 'load-balancing loss weight (MoE)', keys: { minimind3: 'router_aux_loss_coef' } },
  norm_topk_prob: { kind: 'bool', describe: 'normalise the top-k routing weights (MoE)' },
  bos_token_id: { kind: 'int', describe: 'begin-of-sequence token', internal: true },
  eos_token_id: { kind: 'int', describe: 'end-of-sequence token', internal: true },
  pad_token_id: { kind: 'int', describe: 'padding token', internal: true },
} as const satisfies Record<string, FieldSpec>;

type Fields = typeof CONFIG_FIELDS;
type TypeOf<K extends Kind> = K extends 'bool' ? boolean : K extends 'family' ? Family : number;
export type MiniMindConfig = { -readonly [F in keyof Fields]: TypeOf<Fields[F]['kind']> };
export type ConfigField = keyof MiniMindConfig;
export const FIELD_NAMES = Object.keys(CONFIG_FIELDS) as ConfigField[];

export class ConfigError extends Error {}

/** MiniMind v1/MiniMind2's FFN width: 8/3 of hidden, rounded up to a multiple of 64. */
export function defaultIntermediate(hidden: number, family: Family = 'minimind2'): number {
  if (family === 'minimind3') return Math.ceil((hidden * Math.PI) / 64) * 64;
  return 64 * Math.ceil(Math.floor((hidden * 8) / 3) / 64);
}

type Required4 = 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads';
const BASE: Omit<MiniMindConfig, Required4 | 'head_dim' | 'intermediate_size' | 'moe_intermediate_size'> = {
  family: 'minimind2', vocab_size: 6400, max_position_embeddings: 32768, rms_norm_eps: 1e-5, rope_theta: 1e4,
  inference_rope_scaling: false, qk_norm: false, tie_word_embeddings: true, use_moe: false, n_routed_experts: 4,
  num_experts_per_tok: 2, n_shared_experts: 1, aux_loss_alpha: 0.01, norm_topk_prob: true, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0,
};
// minimind-3 (model_minimind.py defaults): QK-norm, eps 1e-6, theta 1e6, top-1 MoE without shared experts
const MINIMIND3 = {
  family: 'minimind3', qk_norm: true, rms_norm_eps: 1e-6, rope_theta: 1e6, num_experts_per_tok: 1, n_shared_experts: 0, aux_loss_alpha: 5e-4,
} as const;

/** Fill the derived fields (head_dim, FFN widths) that were not given. */
function derive(c: Omit<MiniMindConfig, 'head_dim' | 'intermediate_size' | 'moe_intermediate_size'> & Partial<MiniMindConfig>): MiniMindConfig {
  const intermediate = c.intermediate_size ?? defaultIntermediate(c.hidden_size, c.family);
  return { ...c, head_dim: c.head_dim ?? c.hidden_size / c.num_attention_heads, intermediate_size: intermediate, moe_intermediate_size: c.moe_intermediate_size ?? intermediate };
}

function preset(o: Partial<MiniMindConfig> & Pick<MiniMindConfig, Required4>): MiniMindConfig {
  return derive({ ...BASE, ...o });
}

const V1 = { max_position_embeddings: 512 } as const; // v1's LMConfig max_seq_len: its RoPE table ends there

export const PRESETS: Record<string, MiniMindConfig> = {
  'minimind-v1-small': preset({ ...V1, hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 16, num_key_value_heads: 8 }),
  'minimind-v1': preset({ ...V1, hidden_size: 768, num_hidden_layers: 16, num_attention_heads: 16, num_key_value_heads: 8 }),
  // v1's MOEFeedForward has one shared expert (n_shared_experts is a flag there)
  'minimind-v1-moe': preset({ ...V1, hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 16, num_key_value_heads: 8,
    use_moe: true, n_routed_experts: 4, num_experts_per_tok: 2, n_shared_experts: 1, aux_loss_alpha: 0.01 }),
  'minimind2-small': preset({ hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, rope_theta: 1e6 }),
  'minimind2': preset({ hidden_size: 768, num_hidden_layers: 16, num_attention_heads: 8, num_key_value_heads: 2, rope_theta: 1e6 }),
  'minimind2-moe': preset({ hidden_size: 640, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, rope_theta: 1e6,
    use_moe: true, n_routed_experts: 4, num_experts_per_tok: 2, n_shared_experts: 1, aux_loss_alpha: 0.01 }),
  'minimind3': preset({ ...MINIMIND3, hidden_size: 768, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4 }),
  'minimind3-moe': preset({ ...MINIMIND3, hidden_size: 768, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, use_moe: true, n_routed_experts: 4 }),
  // a few-minute CPU model for the demo and tests
  'tiny': preset({ hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024 }),
};

/** Check every field's type and range; errors name the field. */
export function validateConfig(c: MiniMindConfig): MiniMindConfig {
  if (!Number.isInteger(c.head_dim) && c.hidden_size % c.num_attention_heads !== 0) {
    throw new ConfigError(`config field hidden_size (${c.hidden_size}) must be divisible by num_attention_heads (${c.num_attention_heads})`);
  }
  for (const k of FIELD_NAMES) {
    const kind: Kind = CONFIG_FIELDS[k].kind, v = c[k] as unknown;
    const bad = (what: string) => new ConfigError(`config field ${k} must be ${what}, got ${JSON.stringify(v)}`);
    if (kind === 'bool' && typeof v !== 'boolean') throw bad('true or false');
    if (kind === 'family' && !FAMILIES.includes(v as Family)) throw bad(`one of ${FAMILIES.join(', ')}`);
    if (kind === 'number' && (typeof v !== 'number' || !Number.isFinite(v))) throw bad('a number');
    if (kind === 'int' && (!Number.isInteger(v) || (v as number) < 0)) throw bad('a non-negative integer');
  }
  const posInt = (k: ConfigField) => { if (!((c[k] as number) > 0)) throw new ConfigError(`config field ${k} must be a positive integer, got ${JSON.stringify(c[k])}`); };
  for (const k of ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size', 'intermediate_size', 'max_position_embeddings'] as const) posInt(k);
  if (c.head_dim % 2 !== 0) throw new ConfigError(`config field head_dim (${c.head_dim}) must be even for rotary embeddings`);
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new ConfigError(`config field num_attention_heads (${c.num_attention_heads}) must be divisible by num_key_value_heads (${c.num_key_value_heads})`);
  }
  if (!(c.rms_norm_eps > 0)) throw new ConfigError(`config field rms_norm_eps must be > 0`);
  if (!(c.rope_theta > 0)) throw new ConfigError(`config field rope_theta must be > 0`);
  if (c.use_moe) {
    posInt('n_routed_experts'); posInt('num_experts_per_tok'); posInt('moe_intermediate_size');
    if (c.num_experts_per_tok > c.n_routed_experts) throw new ConfigError(`config field num_experts_per_tok (${c.num_experts_per_tok}) exceeds n_routed_experts (${c.n_routed_experts})`);
    if (c.family === 'minimind3' && c.n_shared_experts > 0) throw new ConfigError('config field n_shared_experts: minimind3-family models have no shared experts (use family minimind2)');
  }
  if (!c.tie_word_embeddings) throw new ConfigError('config field tie_word_embeddings: only tied embeddings are supported (as in MiniMind)');
  return c;
}

/** A config from fields over a base: derived fields follow the fields they depend on unless given. */
export function configFrom(base: MiniMindConfig, overrides: Partial<MiniMindConfig>): MiniMindConfig {
  const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<MiniMindConfig>;
  const merged: Partial<MiniMindConfig> = { ...base, ...clean };
  const changed = (...ks: ConfigField[]) => ks.some((k) => k in clean && clean[k] !== base[k]);
  if (!('head_dim' in clean) && changed('hidden_size', 'num_attention_heads')) delete merged.head_dim;
  if (!('intermediate_size' in clean) && changed('hidden_size', 'family')) delete merged.intermediate_size;
  if (!('moe_intermediate_size' in clean) && base.moe_intermediate_size === base.intermediate_size) delete merged.moe_intermediate_size;
  return validateConfig(derive(merged as MiniMindConfig));
}

export function resolveConfig(presetName: string | undefined, overrides: Partial<MiniMindConfig> = {}): MiniMindConfig {
  const name = presetName ?? 'minimind-v1-small';
  const base = PRESETS[name];
  if (!base) throw new ConfigError(`unknown preset "${name}"; choose one of: ${Object.keys(PRESETS).join(', ')}`);
  return configFrom(base, overrides);
}

export const headDim = (c: MiniMindConfig) => c.head_dim;
