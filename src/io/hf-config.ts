// config.json as MiniMind's three generations write it, read into our MiniMindConfig and
// written back with the keys of the model's family, so MiniMind's own `from_pretrained`
// loads what we save. Key names come from CONFIG_FIELDS (model/config.ts).
import { CONFIG_FIELDS, ConfigError, configFrom, ConfigField, FIELD_NAMES, MiniMindConfig, PRESETS } from '../model/config.js';

/** Whose code wrote a config.json. */
export type ConfigSource = 'minimind1' | 'minimind2' | 'minimind3';

const keyOf = (f: ConfigField, src: ConfigSource): string => (CONFIG_FIELDS[f] as { keys?: Partial<Record<ConfigSource, string>> }).keys?.[src] ?? f;

/**
 * Tell the writer apart by its keys: v1's LMConfig uses dim/n_layers; minimind-3 writes
 * num_experts/router_aux_loss_coef even for dense models; MiniMind2
 * (and minimind before this version) uses the remaining Hugging Face style names.
 */
export function configSource(raw: Record<string, unknown>): ConfigSource {
  if ('dim' in raw || 'n_layers' in raw) return 'minimind1';
  if ('num_experts' in raw || 'router_aux_loss_coef' in raw) return 'minimind3';
  return 'minimind2';
}

// each writer's defaults for keys its config.json may omit (its MiniMindConfig/LMConfig defaults)
const DEFAULTS: Record<ConfigSource, MiniMindConfig> = {
  minimind1: PRESETS['minimind-v1-small'], minimind2: PRESETS['minimind2-small'], minimind3: PRESETS['minimind3'],
};

/**
 * Parse a config.json object. `qk_norm` is ours: without it, the caller decides from the
 * weights (minimind-3 checkpoints always carry q/k norms and write no such key).
 */
export function parseHfConfig(raw: Record<string, unknown>, file: string): { config: MiniMindConfig; source: ConfigSource; qkNormGiven: boolean } {
  const source = configSource(raw);
  const fail = (m: string) => new ConfigError(`${file}: ${m}`);
  if (raw.model_type !== undefined && raw.model_type !== 'minimind') throw fail(`model_type "${raw.model_type}" is not a MiniMind model (expected "minimind")`);
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') throw fail(`field hidden_act: only "silu" is supported, got ${JSON.stringify(raw.hidden_act)}`);
  if (raw.scoring_func !== undefined && raw.scoring_func !== 'softmax') throw fail(`field scoring_func: only "softmax" routing is supported, got ${JSON.stringify(raw.scoring_func)}`);
  if (raw.seq_aux === false) throw fail('field seq_aux: only the sequence-level auxiliary loss (seq_aux true) is supported for this family');
  const over: Partial<Record<ConfigField, unknown>> = { family: source === 'minimind3' ? 'minimind3' : 'minimind2' };
  for (const f of FIELD_NAMES) {
    if (f === 'family' || f === 'qk_norm') continue;
    const v = raw[keyOf(f, source)];
    if (v !== undefined && v !== null) over[f] = v;
  }
  if (source === 'minimind1') {
    // v1 builds a shared expert whenever n_shared_experts is not None (it is a flag there)
    over.n_shared_experts = raw.n_shared_experts === null ? 0 : 1;
    const multiple = typeof raw.multiple_of === 'number' ? raw.multiple_of : 64;
    if (over.intermediate_size === undefined) over.intermediate_size = multiple * Math.ceil(Math.floor((8 * Number(over.hidden_size ?? 512)) / 3) / multiple);
  }
  const qkNormGiven = typeof raw.qk_norm === 'boolean';
  if (qkNormGiven) over.qk_norm = raw.qk_norm;
  try {
    return { config: configFrom(DEFAULTS[source], over as Partial<MiniMindConfig>), source, qkNormGiven };
  } catch (e) {
    if (e instanceof ConfigError) throw fail(e.message);
    throw e;
  }
}

/** config.json for a model: MiniMind's keys for its family, plus `qk_norm` (ours; MiniMind ignores it). */
export function hfConfig(c: MiniMindConfig): Record<string, unknown> {
  const src: ConfigSource = c.family;
  const out: Record<string, unknown> = { architectures: ['MiniMindForCausalLM'], model_type: 'minimind', torch_dtype: 'float32', hidden_act: 'silu', dropout: 0.0, flash_attn: true };
  for (const f of FIELD_NAMES) if (f !== 'family') out[keyOf(f, src)] = c[f];
  if (src === 'minimind2') {
    Object.assign(out, { scoring_func: 'softmax', seq_aux: true });
    if (c.moe_intermediate_size === c.intermediate_size) delete out.moe_intermediate_size; // not a MiniMind2 key
  }
  else delete out.n_shared_experts; // minimind-3 has none
  return out;
}
