// `export --format hf`: a transformers directory that AutoModelForCausalLM loads without
// trust_remote_code. Our parameter names already are Llama/Qwen3's, so the weights are
// written as they are; config.json is the stock architecture's (see arch.ts).
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { hfConfig } from '../io/hf-config.js';
import { STDtype, TensorData, writeSafetensors } from '../io/safetensors.js';
import { MiniMindConfig } from '../model/config.js';
import { paramSpecs, Params } from '../model/params.js';
import { UserError } from '../util/errors.js';
import { ARCH_CLASS, exportArch, MINIMIND_YARN, normTopk, whyMiniMind, yarnActive } from './arch.js';
import { ExportDtype, toBf16, toF16 } from './dtype.js';

const TORCH_DTYPE: Record<string, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };

/**
 * MiniMind's YaRN as Hugging Face computes YaRN: the two agree unless HF's correction
 * range (clamped at head_dim-1) runs past MiniMind's (clamped at head_dim/2-1), which
 * only happens for a rope_theta below ~330.
 */
function ropeScaling(c: MiniMindConfig): Record<string, unknown> | null {
  if (!yarnActive(c)) return null;
  const dim = c.head_dim, y = MINIMIND_YARN;
  const high = Math.ceil((dim * Math.log(y.original_max_position_embeddings / (y.beta_slow * 2 * Math.PI))) / (2 * Math.log(c.rope_theta)));
  if (high > dim / 2 - 1) throw new UserError(`rope_theta ${c.rope_theta} with YaRN (inference_rope_scaling): Hugging Face's YaRN ramp differs from MiniMind's here; export without inference_rope_scaling`);
  return { ...y };
}

/** config.json of the stock architecture; `minimind_family` (ignored by transformers) lets an import restore the family. */
export function stockConfig(c: MiniMindConfig, dtype: ExportDtype = 'f32'): Record<string, unknown> {
  const arch = exportArch(c);
  if (arch === 'minimind') throw new Error('stockConfig: no stock architecture for this model');
  const out: Record<string, unknown> = {
    architectures: [ARCH_CLASS[arch]], model_type: arch, vocab_size: c.vocab_size, hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size, num_hidden_layers: c.num_hidden_layers, num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads, head_dim: c.head_dim, hidden_act: 'silu', max_position_embeddings: c.max_position_embeddings,
    rms_norm_eps: c.rms_norm_eps, rope_theta: c.rope_theta, rope_scaling: ropeScaling(c), attention_bias: false, attention_dropout: 0.0,
    initializer_range: 0.02, tie_word_embeddings: true, use_cache: true, bos_token_id: c.bos_token_id, eos_token_id: c.eos_token_id,
    pad_token_id: c.pad_token_id, torch_dtype: TORCH_DTYPE[dtype], minimind_family: c.family,
  };
  if (arch === 'llama') Object.assign(out, { mlp_bias: false, pretraining_tp: 1 });
  else Object.assign(out, { use_sliding_window: false, sliding_window: null, max_window_layers: c.num_hidden_layers });
  if (arch === 'qwen3_moe') {
    Object.assign(out, { num_experts: c.n_routed_experts, num_experts_per_tok: c.num_experts_per_tok, moe_intermediate_size: c.moe_intermediate_size,
      norm_topk_prob: normTopk(c), decoder_sparse_step: 1, mlp_only_layers: [], router_aux_loss_coef: c.aux_loss_alpha, output_router_logits: false });
  }
  return out;
}

/** JSON text of a config; transformers wants YaRN's attention_factor written as a float (1.0, not 1). */
export function configJson(cfg: Record<string, unknown>): string {
  return JSON.stringify(cfg, null, 2).replace(/("attention_factor": )(\d+)(,?\n)/, '$1$2.0$3');
}

/** Weights in the export dtype (f32, f16 or bf16), with their HF names. */
export function exportTensors(c: MiniMindConfig, params: Params, dtype: ExportDtype, onTensor?: (done: number, total: number) => void): Map<string, { shape: number[]; data: TensorData; dtype: STDtype }> {
  const out = new Map<string, { shape: number[]; data: TensorData; dtype: STDtype }>();
  const specs = paramSpecs(c);
  for (const s of specs) {
    const a = params.get(s.name)!;
    if (dtype === 'f32') out.set(s.name, { shape: s.shape, data: a, dtype: 'F32' });
    else out.set(s.name, { shape: s.shape, data: new Uint8Array((dtype === 'f16' ? toF16(a) : toBf16(a)).buffer), dtype: dtype === 'f16' ? 'F16' : 'BF16' });
    onTensor?.(out.size, specs.length);
  }
  return out;
}

export function checkHfDtype(dtype: ExportDtype): void {
  if (dtype === 'q8_0') throw new UserError('--dtype q8_0 is a GGUF quantization: use --format gguf, or f32/f16/bf16 for --format hf');
}

export interface HfExportResult { arch: string; note?: string }

/** Write model.safetensors and config.json (the tokenizer, generation config and card are written by the caller). */
export function writeHfWeights(dir: string, c: MiniMindConfig, params: Params, dtype: ExportDtype, onTensor?: (done: number, total: number) => void): HfExportResult {
  checkHfDtype(dtype);
  fs.mkdirSync(dir, { recursive: true });
  const arch = exportArch(c);
  writeSafetensors(path.join(dir, 'model.safetensors'), exportTensors(c, params, dtype, onTensor), { format: 'pt' });
  if (arch === 'minimind') {
    writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify({ ...hfConfig(c), torch_dtype: TORCH_DTYPE[dtype] }, null, 2));
    return { arch: ARCH_CLASS[arch], note: `kept MiniMind's layout: ${whyMiniMind(c)}; loading it in transformers needs MiniMind's model_minimind.py (trust_remote_code)` };
  }
  writeFileAtomic(path.join(dir, 'config.json'), configJson(stockConfig(c, dtype)));
  return { arch: ARCH_CLASS[arch] };
}
