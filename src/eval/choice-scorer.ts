// Batched multiple-choice scoring: prompts sorted by length and cut into batches of similar
// length (right-padded to the longest; causal attention keeps padding away from real tokens),
// one forward pass per batch through buildChoiceGraph, which gives each prompt's last-position
// logits for just the choice tokens plus that position's log-normaliser over the vocabulary.
import { MiniMindConfig } from '../model/config.js';
import { int64Tensor, PositionInputs } from '../model/feeds.js';
import { buildChoiceGraph, targetFor } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { createSession, ort, resolveProvider, Session, SessionOptions } from '../runtime/session.js';

/**
 * Indices of `lengths` grouped into batches: ascending length, each batch at most `maxRows`
 * rows and (rows x longest) at most `tokenBudget` tokens (a longer prompt goes alone).
 */
export function lengthBuckets(lengths: number[], tokenBudget: number, maxRows: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const out: number[][] = [];
  let cur: number[] = [];
  for (const i of order) {
    // sorted ascending, so the newest row is the longest of its batch
    if (cur.length && (cur.length >= maxRows || (cur.length + 1) * lengths[i] > tokenBudget)) { out.push(cur); cur = []; }
    cur.push(i);
  }
  if (cur.length) out.push(cur);
  return out;
}

export class ChoiceScorer {
  private weights: Record<string, ort.Tensor> = {};
  private positions: PositionInputs;
  private choices: ort.Tensor;
  private constructor(readonly c: MiniMindConfig, private session: Session, choiceIds: number[], private needsBias: boolean) {
    this.positions = new PositionInputs(c);
    this.choices = int64Tensor(BigInt64Array.from(choiceIds, BigInt), [choiceIds.length]);
  }

  /** constWeights: weights inside the graph (pre-packed by ONNX Runtime) rather than fed per run */
  static async create(c: MiniMindConfig, params: Params, choiceIds: number[], so: SessionOptions & { constWeights?: boolean; fused?: boolean } = {}): Promise<ChoiceScorer> {
    const provider = await resolveProvider(so.provider);
    // CUDA's GroupQueryAttention is float16/bfloat16 only: the graph's own attention there
    const g = buildChoiceGraph(c, { weights: so.constWeights ? params : undefined, fused: so.fused ?? provider !== 'cuda', target: targetFor(provider) });
    const s = new ChoiceScorer(c, await createSession(g, so), choiceIds, g.inputs.some((t) => t.name === 'attn_bias'));
    for (const t of g.inputs) { const a = params.get(t.name); if (a) s.weights[t.name] = new ort.Tensor('float32', a, t.shape as number[]); }
    return s;
  }

  /**
   * For each prompt, log p(choice | prompt) of every choice token under the full softmax of
   * the prompt's last position (what MiniMind's scorer reads), in choice order.
   */
  async logProbs(prompts: number[][]): Promise<number[][]> {
    const B = prompts.length, T = Math.max(...prompts.map((p) => p.length));
    const ids = new BigInt64Array(B * T).fill(BigInt(this.c.pad_token_id));
    const last = new Int32Array(B), pos = new Int32Array(B);
    const rep = this.c.num_attention_heads / this.c.num_key_value_heads, lastBias = new Float32Array(B * rep * T);
    prompts.forEach((p, b) => {
      for (let t = 0; t < p.length; t++) ids[b * T + t] = BigInt(p[t]);
      last[b] = b * T + p.length - 1; pos[b] = p.length - 1;
      for (let r = 0; r < rep; r++) lastBias.fill(-1e9, (b * rep + r) * T + p.length, (b * rep + r + 1) * T); // padding after the last token
    });
    const { rope_cos, rope_sin, attn_bias } = this.positions.get(T);
    const out = await this.session.run({ ...this.weights, rope_cos, rope_sin, ...(this.needsBias ? { attn_bias } : {}), input_ids: int64Tensor(ids, [B, T]),
      last_index: new ort.Tensor('int32', last, [B]), last_pos: new ort.Tensor('int32', pos, [B]), last_bias: new ort.Tensor('float32', lastBias, [B, 1, rep, T]), choice_ids: this.choices });
    const z = out.choice_logits.data as Float32Array, lse = out.logsumexp.data as Float32Array, K = this.choices.dims[0];
    return prompts.map((_, b) => Array.from(z.subarray(b * K, (b + 1) * K), (v) => v - lse[b]));
  }

  release(): Promise<void> { return this.session.release(); }
}
