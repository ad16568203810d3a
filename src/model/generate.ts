// Text generation with a KV cache: one prefill run over the prompt, then one run per new
// token. Sampling: temperature, top-k, top-p, repetition penalty; stops at eos.
import { SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { MiniMindConfig } from './config.js';
import { DecodeHook, DecodeRunner, Quantize } from './decode-runner.js';
import { Params } from './params.js';
import { rankByLogit } from './rank.js';

export type { Quantize } from './decode-runner.js';

export interface SamplingOptions {
  maxNewTokens?: number;
  /** 0 = greedy */
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  seed?: number;
  stopIds?: number[];
}

export class Generator {
  private constructor(readonly c: MiniMindConfig, private runner: DecodeRunner) {}

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {}, hook?: DecodeHook): Promise<Generator> {
    return new Generator(c, await DecodeRunner.create(c, params, so, { hook }));
  }

  /** Yields new token ids one at a time. */
  async *generate(prompt: number[], o: SamplingOptions = {}): AsyncGenerator<number> {
    if (!prompt.length) throw new Error('generate: empty prompt');
    const max = Math.min(o.maxNewTokens ?? 256, this.c.max_position_embeddings - prompt.length);
    const stop = new Set(o.stopIds ?? [this.c.eos_token_id]);
    const rng = new Rng(o.seed ?? 0);
    const cache = this.runner.emptyCache();
    const seen = [...prompt];
    let logits = await this.runner.run(prompt, cache);
    for (let i = 0; i < max; i++) {
      const id = sample(logits, seen, o, rng);
      yield id;
      if (stop.has(id)) return;
      seen.push(id);
      if (i + 1 < max) logits = await this.runner.run([id], cache);
    }
  }

  release(): Promise<void> { return this.runner.release(); }
}

let probScratch = new Float64Array(0); // reused: sample() runs for every token

/** Pick the next token from logits (modified in place). */
export function sample(logits: Float32Array, context: number[], o: SamplingOptions, rng: Rng): number {
  const rp = o.repetitionPenalty ?? 1;
  if (rp !== 1) for (const id of new Set(context)) logits[id] = logits[id] > 0 ? logits[id] / rp : logits[id] * rp;
  const temp = o.temperature ?? 0.85;
  if (temp <= 0) { let best = 0; for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i; return best; }
  let idx = rankByLogit(logits);
  if (!idx.length) return logits.length - 1; // every id masked (-Infinity): the last, as a full sort would give
  if (o.topK && o.topK > 0) idx = idx.subarray(0, o.topK);
  const mx = logits[idx[0]];
  if (probScratch.length < idx.length) probScratch = new Float64Array(logits.length);
  let probs = probScratch.subarray(0, idx.length);
  let sum = 0;
  for (let k = 0; k < idx.length; k++) { probs[k] = Math.exp((logits[idx[k]] - mx) / temp); sum += probs[k]; }
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let cum = 0, keep = probs.length;
    for (let k = 0; k < probs.length; k++) { cum += probs[k] / sum; if (cum >= topP) { keep = k + 1; break; } }
    idx = idx.subarray(0, keep); probs = probs.subarray(0, keep); sum = 0;
    for (let k = 0; k < keep; k++) sum += probs[k];
  }
  let r = rng.next() * sum;
  for (let k = 0; k < idx.length; k++) { r -= probs[k]; if (r <= 0) return idx[k]; }
  return idx[idx.length - 1];
}
