// Text generation with a KV cache: one prefill run over the prompt, then one run per new
// token. Sampling: temperature, top-k, top-p, repetition penalty; stops at eos.
import { createSession, ort, Session, SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { headDim, MiniMindConfig } from './config.js';
import { int64Tensor, PositionInputs } from './feeds.js';
import { buildDecodeGraph, LinearHook } from './minimind.js';
import { paramSpecs, Params } from './params.js';
import { q4Linear, quantizeQ4 } from './quantize.js';

/** Weight format for decoding: float32, or 4-bit blocks (MatMulNBits) for ~4x less memory traffic. */
export type Quantize = 'none' | 'q4';

/** Replace every linear layer whose input width is a multiple of 32 by a 4-bit one. */
export function q4Hook(c: MiniMindConfig, params: Params, inner?: LinearHook): LinearHook {
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  return (g, x, name, plain, weight) => {
    const shape = shapes.get(name);
    if (inner || !shape || shape[1] % 32 !== 0) return inner ? inner(g, x, name, plain, weight) : plain();
    return q4Linear(g, x, quantizeQ4(params.get(name)!, shape[0], shape[1]));
  };
}

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
  private weights: Record<string, ort.Tensor> = {};
  private positions: PositionInputs;

  private constructor(readonly c: MiniMindConfig, private session: Session) { this.positions = new PositionInputs(c); }

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {},
    hook?: { linearHook: LinearHook; extraParams: { name: string; shape: number[] }[] }): Promise<Generator> {
    const q4 = so.quantize === 'q4' ? q4Hook(c, params, hook?.linearHook) : undefined;
    const g = buildDecodeGraph(c, { ...hook, ...(q4 ? { linearHook: q4 } : {}) });
    const gen = new Generator(c, await createSession(g, so));
    for (const t of g.inputs) {
      const a = params.get(t.name);
      if (a) gen.weights[t.name] = new ort.Tensor('float32', a, t.shape as number[]);
    }
    return gen;
  }

  /** Logits [V] after feeding `ids` on top of the cache; the cache is advanced. */
  private async forward(ids: number[], cache: ort.Tensor[]): Promise<Float32Array> {
    const c = this.c, past = cache[0].dims[1];
    const feeds: Record<string, ort.Tensor> = { ...this.weights, ...this.positions.get(ids.length, past),
      input_ids: int64Tensor(BigInt64Array.from(ids, BigInt), [1, ids.length]) };
    for (let l = 0; l < c.num_hidden_layers; l++) { feeds[`past_key.${l}`] = cache[2 * l]; feeds[`past_value.${l}`] = cache[2 * l + 1]; }
    const out = await this.session.run(feeds);
    for (let l = 0; l < c.num_hidden_layers; l++) { cache[2 * l] = out[`present_key.${l}`]; cache[2 * l + 1] = out[`present_value.${l}`]; }
    return out.logits.data as Float32Array;
  }

  emptyCache(): ort.Tensor[] {
    const kv = this.c.num_key_value_heads, hd = headDim(this.c);
    return Array.from({ length: 2 * this.c.num_hidden_layers }, () => new ort.Tensor('float32', new Float32Array(0), [1, 0, kv, hd]));
  }

  /** Yields new token ids one at a time. */
  async *generate(prompt: number[], o: SamplingOptions = {}): AsyncGenerator<number> {
    if (!prompt.length) throw new Error('generate: empty prompt');
    const max = Math.min(o.maxNewTokens ?? 256, this.c.max_position_embeddings - prompt.length);
    const stop = new Set(o.stopIds ?? [this.c.eos_token_id]);
    const rng = new Rng(o.seed ?? 0);
    const cache = this.emptyCache();
    const seen = [...prompt];
    let logits = await this.forward(prompt, cache);
    for (let i = 0; i < max; i++) {
      const id = sample(logits, seen, o, rng);
      yield id;
      if (stop.has(id)) return;
      seen.push(id);
      if (i + 1 < max) logits = await this.forward([id], cache);
    }
  }

  release(): Promise<void> { return this.session.release(); }
}

/** Pick the next token from logits (modified in place). */
export function sample(logits: Float32Array, context: number[], o: SamplingOptions, rng: Rng): number {
  const rp = o.repetitionPenalty ?? 1;
  if (rp !== 1) for (const id of new Set(context)) logits[id] = logits[id] > 0 ? logits[id] / rp : logits[id] * rp;
  const temp = o.temperature ?? 0.85;
  if (temp <= 0) { let best = 0; for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i; return best; }
  let idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (o.topK && o.topK > 0) idx = idx.slice(0, o.topK);
  const mx = logits[idx[0]];
  let probs = idx.map((i) => Math.exp((logits[i] - mx) / temp));
  let sum = probs.reduce((a, b) => a + b, 0);
  const topP = o.topP ?? 1;
  if (topP < 1) {
    let cum = 0, keep = probs.length;
    for (let k = 0; k < probs.length; k++) { cum += probs[k] / sum; if (cum >= topP) { keep = k + 1; break; } }
    idx = idx.slice(0, keep); probs = probs.slice(0, keep); sum = probs.reduce((a, b) => a + b, 0);
  }
  let r = rng.next() * sum;
  for (let k = 0; k < idx.length; k++) { r -= probs[k]; if (r <= 0) return idx[k]; }
  return idx[idx.length - 1];
}
