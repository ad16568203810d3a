// Log-likelihood of continuations given a prompt, for multiple-choice evaluation (the demo's
// held-out facts, C-Eval): one forward pass over prompt + continuation.
import { SessionOptions } from '../runtime/session.js';
import { MiniMindConfig } from './config.js';
import { DecodeHook, DecodeRunner, Quantize } from './decode-runner.js';
import { Params } from './params.js';

export class Scorer {
  private constructor(readonly c: MiniMindConfig, private runner: DecodeRunner) {}

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {}, hook?: DecodeHook): Promise<Scorer> {
    return new Scorer(c, await DecodeRunner.create(c, params, so, { allLogits: true, hook }));
  }

  /** Logits [T, V] of every position of `ids`. */
  logits(ids: number[]): Promise<Float32Array> { return this.runner.run(ids, this.runner.emptyCache()); }

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

  release(): Promise<void> { return this.runner.release(); }
}
