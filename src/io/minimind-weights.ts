// Weights saved by MiniMind's own code, mapped onto our parameter names. MiniMind2 and
// minimind-3 already use Hugging Face names; v1 (2024) uses its own (tok_embeddings,
// layers.N.attention.wq, feed_forward.w1, ...) and rotates interleaved pairs where we rotate
// halves, so its q/k projection rows are permuted (an exact reparametrisation: the same
// logits). Every tensor is accounted for: one the model does not expect, or one it needs
// and does not find, is an error that names it.
import { MiniMindConfig } from '../model/config.js';
import { paramSpecs, Params } from '../model/params.js';
import { UserError } from '../util/errors.js';

export interface LoadedTensor { shape: number[]; data: Float32Array }

// non-persistent buffers some MiniMind versions have written into state dicts: derived
// from the config, never weights
const BUFFERS = /^(model\.)?(freqs_cos|freqs_sin|pos_cis)$|^layers\.\d+\.attention\.mask$/;

const V1_RULES: [RegExp, string][] = [
  [/^tok_embeddings\.weight$/, 'model.embed_tokens.weight'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^norm\.weight$/, 'model.norm.weight'],
  [/^layers\.(\d+)\.attention\.w([qkvo])\.weight$/, 'model.layers.$1.self_attn.$2_proj.weight'],
  [/^layers\.(\d+)\.attention_norm\.weight$/, 'model.layers.$1.input_layernorm.weight'],
  [/^layers\.(\d+)\.ffn_norm\.weight$/, 'model.layers.$1.post_attention_layernorm.weight'],
  [/^layers\.(\d+)\.feed_forward\.gate\.weight$/, 'model.layers.$1.mlp.gate.weight'],
  [/^layers\.(\d+)\.feed_forward\.experts\.(\d+)\.(w[123])\.weight$/, 'model.layers.$1.mlp.experts.$2.$3.weight'],
  [/^layers\.(\d+)\.feed_forward\.shared_experts\.(w[123])\.weight$/, 'model.layers.$1.mlp.shared_experts.0.$2.weight'],
  [/^layers\.(\d+)\.feed_forward\.(w[123])\.weight$/, 'model.layers.$1.mlp.$2.weight'],
];
const V1_FFN: Record<string, string> = { w1: 'gate_proj', w3: 'up_proj', w2: 'down_proj' };

/** True when the names are MiniMind v1's (2024) rather than Hugging Face's. */
export const isV1Layout = (names: Iterable<string>) => [...names].some((n) => stripPrefixes(n) === 'tok_embeddings.weight');

/** `torch.compile` (`_orig_mod.`) and DataParallel (`module.`) wrappers prefix every name. */
export function stripPrefixes(name: string): string {
  let n = name;
  for (let m; (m = /^(_orig_mod|module)\./.exec(n));) n = n.slice(m[0].length);
  return n;
}

function v1Name(name: string): string | null {
  for (const [re, to] of V1_RULES) {
    if (re.test(name)) return name.replace(re, to).replace(/\.(w[123])\.weight$/, (_, w: string) => `.${V1_FFN[w]}.weight`);
  }
  return null;
}

/** Rows of each head from interleaved pairs (0,1),(2,3).. to halves (0,2,..)(1,3,..). */
export function interleavedToHalves(w: Float32Array, rows: number, cols: number, headDim: number): Float32Array {
  const out = new Float32Array(w.length), half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    const head = Math.floor(r / headDim), j = r % headDim;
    const src = head * headDim + (j < half ? 2 * j : 2 * (j - half) + 1);
    out.set(w.subarray(src * cols, (src + 1) * cols), r * cols);
  }
  return out;
}

/** Does this set of weights carry QK-norm (minimind-3 always does)? */
export const hasQkNorm = (names: Iterable<string>) => [...names].some((n) => /\.self_attn\.q_norm\.weight$/.test(stripPrefixes(n)));

/**
 * Our parameters from a checkpoint's tensors, for config `c`. `source` names the file in
 * errors. Tied LM heads (`lm_head.weight`, v1's `output.weight`) must equal the embedding.
 */
export function toModelParams(tensors: Map<string, LoadedTensor>, c: MiniMindConfig, source: string): Params {
  const v1 = isV1Layout(tensors.keys());
  const named = new Map<string, LoadedTensor & { from: string }>();
  const unexpected: string[] = [];
  for (const [orig, t] of tensors) {
    const n = stripPrefixes(orig);
    if (BUFFERS.test(n)) continue;
    const ours = v1 ? v1Name(n) : n;
    if (!ours) { unexpected.push(orig); continue; }
    if (named.has(ours)) throw new UserError(`${source}: tensors "${named.get(ours)!.from}" and "${orig}" both map to "${ours}"`);
    named.set(ours, { ...t, from: orig });
  }
  const head = named.get('lm_head.weight');
  if (head) {
    named.delete('lm_head.weight');
    const emb = named.get('model.embed_tokens.weight');
    if (!emb) named.set('model.embed_tokens.weight', head);
    else if (head.data.length !== emb.data.length || head.data.some((v, i) => v !== emb.data[i])) {
      throw new UserError(`${source}: "${head.from}" differs from the embedding "${emb.from}": untied LM heads are not supported (MiniMind ties them)`);
    }
  }
  const params: Params = new Map();
  const missing: string[] = [];
  for (const s of paramSpecs(c)) {
    const t = named.get(s.name);
    if (!t) { missing.push(s.name); continue; }
    named.delete(s.name);
    const n = s.shape.reduce((p, d) => p * d, 1);
    if (t.shape.join(',') !== s.shape.join(',') || t.data.length !== n) {
      throw new UserError(`${source}: weight "${t.from}" has shape [${t.shape}], the model config implies [${s.shape}] for "${s.name}"`);
    }
    const rope = v1 && /\.self_attn\.[qk]_proj\.weight$/.test(s.name);
    params.set(s.name, rope ? interleavedToHalves(t.data, s.shape[0], s.shape[1], c.head_dim) : t.data);
  }
  unexpected.push(...[...named.values()].map((t) => t.from));
  const list = (xs: string[]) => xs.slice(0, 6).map((x) => `"${x}"`).join(', ') + (xs.length > 6 ? ` and ${xs.length - 6} more` : '');
  if (missing.length) throw new UserError(`${source}: lacks weight ${list(missing)} that the model config implies (wrong --preset or config?)`);
  if (unexpected.length) throw new UserError(`${source}: has tensor ${list(unexpected)} that the model config does not use (wrong --preset or config?)`);
  return params;
}
