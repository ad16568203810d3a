// Which stock architecture a MiniMind model is, layer for layer: Llama (dense), Qwen3
// (dense with QK-norm) or Qwen3-MoE (QK-norm, softmax top-k routing, no shared experts).
// Anything else (v1/MiniMind2 MoE with shared experts, MoE without QK-norm) has no stock
// equivalent and keeps MiniMind's layout.
import { MiniMindConfig } from '../model/config.js';

export type ExportArch = 'llama' | 'qwen3' | 'qwen3_moe' | 'minimind';

export const ARCH_CLASS: Record<ExportArch, string> = {
  llama: 'LlamaForCausalLM', qwen3: 'Qwen3ForCausalLM', qwen3_moe: 'Qwen3MoeForCausalLM', minimind: 'MiniMindForCausalLM',
};

export function exportArch(c: MiniMindConfig): ExportArch {
  if (!c.use_moe) return c.qk_norm ? 'qwen3' : 'llama';
  if (c.qk_norm && c.n_shared_experts === 0) return 'qwen3_moe';
  return 'minimind';
}

/** Why a model keeps MiniMind's layout (for errors and the model card). */
export function whyMiniMind(c: MiniMindConfig): string {
  if (c.n_shared_experts > 0) return `its MoE layers have ${c.n_shared_experts} shared expert(s), which no stock architecture has`;
  return 'its MoE layers have no QK-norm, which Qwen3-MoE (the stock MoE with MiniMind\'s routing) always applies';
}

/**
 * Qwen3-MoE's norm_topk_prob for this model: MiniMind2 normalises the top-k weights only
 * when k > 1, minimind-3 whenever norm_topk_prob is set (a top-1 expert then gets weight 1).
 */
export const normTopk = (c: MiniMindConfig) => c.norm_topk_prob && (c.num_experts_per_tok > 1 || c.family === 'minimind3');

// MiniMind's YaRN (model_minimind.py rope_scaling) in Hugging Face's rope_scaling keys
export const MINIMIND_YARN = { rope_type: 'yarn', factor: 16, original_max_position_embeddings: 2048, beta_fast: 32, beta_slow: 1, attention_factor: 1 } as const;

/** True when MiniMind's YaRN changes this model's RoPE (it does only past 2048 positions). */
export const yarnActive = (c: MiniMindConfig) => c.inference_rope_scaling && c.max_position_embeddings > MINIMIND_YARN.original_max_position_embeddings;
