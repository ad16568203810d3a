// Log-likelihood of continuations given a prompt, for multiple-choice evaluation (the demo's
// held-out facts, C-Eval): one forward pass over prompt + continuation.
import { createSession, ort, Session, SessionOptions } from '../runtime/session.js';
import { MiniMindConfig } from './config.js';
import { int64Tensor, PositionInputs } from './feeds.js';
import { buildDecodeGraph, LinearHook } from './minimind.js';
import { Params } from './params.js';
import { q4Hook, Quantize } from './generate.js';

export class Scorer {
  private weights: Record<string, ort.Tensor> = {};
  private positions: PositionInputs;
  private constructor(readonly c: MiniMindConfig, private session: Session) { this.positions = new PositionInputs(c); }

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {},
    hook?: { linearHook: LinearHook; extraParams: { name: string; shape: number[] }[] }): Promise<Scorer> {
    const g = buildDecodeGraph(c, { allLogits: true, ...hook, ...(so.quantize === 'q4' ? { linearHook: q4Hook(c, params) } : {}) });
    const s = new Scorer(c, await createSession(g, so));
    for (const t of g.inputs) { const a = params.get(t.name); if (a) s.weights[t.name] = new ort.Tensor('float32', a, t.shape as number[]); }
    return s;
  }

  /** Logits [T, V] of every position of `ids`. */
  async logits(ids: number[]): Promise<Float32Array> {
    const T = ids.length;
    const feeds: Record<string, ort.Tensor> = { ...this.weights, ...this.positions.get(T, 0), input_ids: int64Tensor(BigInt64Array.from(ids, BigInt), [1, T]) };
    const empty = new ort.Tensor('float32', new Float32Array(0), [1, 0, this.c.num_key_value_heads, this.c.hidden_size / this.c.num_attention_heads]);
    for (let l = 0; l < this.c.num_hidden_layers; l++) { feeds[`past_key.${l}`] = empty; feeds[`past_value.${l}`] = empty; }
    return (await this.session.run(feeds)).logits.data as Float32Array;
  }

  /** Sum of log p(continuation tokens | everything before them). */
  async logLikelihood(prompt: number[], continuation: number[]): Promise<number> {
    const ids = [...prompt, ...continuation], T = ids.length, V = this.c.vocab_size;
    const logits = await this.logits(ids);
    let total = 0;
    for (let t = prompt.length; t < T; t++) {
      const row = logits.subarray((t - 1) * V, t * V);
      let mx = -Infinity;
      for (let i = 0; i < V; i++) if (row[i] > mx) mx = row[i];
      let s = 0;
      for (let i = 0; i < V; i++) s += Math.exp(row[i] - mx);
      total += row[ids[t]] - mx - Math.log(s);
    }
    return total;
  }

  release(): Promise<void> { return this.session.release(); }
}
