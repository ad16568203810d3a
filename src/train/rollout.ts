// The rollout engine of GRPO and PPO (MiniMind's rollout_engine.py): num_generations sampled
// completions per prompt, decoded together by the KV-window batch decoder that `serve` runs
// (src/serve/batch-decoder.ts: every row its own positions, rows leave when they end), with
// each sampled token's log-probability under the policy (MiniMind's per_token_logps: the
// raw logits' log-softmax, before temperature and top-k/top-p) and a mask of what counts.
//
// The policy's weights change every optimizer step; rollouts must see the current ones.
// Two ways, chosen per provider (see RolloutWeights):
//   live:    the decoder's weights are graph inputs fed from the very arrays the training
//            session updates in place (the CPU's resident state), so every rollout reads
//            the current weights and nothing is copied; each decoding run then repacks the
//            weights its products read (ONNX Runtime prepacks only constants).
//   rebuild: before each rollout the decoder is rebuilt from a snapshot of the weights, as
//            constants (downloaded first where the provider keeps them on the device): one
//            session start per rollout, then decoding at full speed.
//
// Tool calls in the middle of a completion: `interject` may return tokens to append to a
// row (a tool's result) after any sampled token; they are fed to the model but not sampled,
// so their log-probabilities are 0 and their mask is 0 (they do not train).
import { MiniMindConfig } from '../model/config.js';
import { DecodeHook } from '../model/decode-runner.js';
import { sample } from '../model/generate.js';
import { Params } from '../model/params.js';
import { BatchDecoder } from '../serve/batch-decoder.js';
import { SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';

export type RolloutWeights = 'live' | 'rebuild';

/**
 * The default: rebuild on a GPU (the trained weights live on the device); on the CPU live for
 * short completions, rebuild for long ones. Measured at v1-small, 16 rows (bench train --mode
 * grpo, 2 cores): rebuilding costs ~0.4 s a step and then decodes ~10% faster (821 vs 741
 * tokens/s), so it pays from ~170 tokens per completion (64: live 730 tokens/s, rebuild 615
 * with the rebuild; 256: live 741, rebuild 821).
 */
export const defaultRolloutWeights = (provider: string, maxNewTokens: number): RolloutWeights => (provider === 'cpu' && maxNewTokens <= 160 ? 'live' : 'rebuild');

export interface RolloutOptions {
  /** completions per prompt (MiniMind's num_generations) */
  numGenerations: number;
  /** new tokens per completion at most (MiniMind's max_gen_len; the context window bounds it too) */
  maxNewTokens: number;
  /** MiniMind's rollouts: temperature 0.8 and its generate()'s top_k 50, top_p 0.85 */
  temperature: number;
  topK: number;
  topP: number;
  /** a completion ends after one of these (MiniMind: eos, <|im_end|>) */
  stopIds: number[];
  /** ids at and above this are never sampled (the tokenizer's vocabulary, when the model's is larger) */
  vocabLimit?: number;
  /** tokens to append to a row after its sampled token (a tool call's result), or null */
  interject?: (row: number, completion: readonly number[]) => number[] | null;
}

/** One completion: row i * numGenerations + j is prompt i's j-th. */
export interface RolloutRow {
  prompt: number[];
  completion: number[];
  /** log p(token) under the policy for each completion token (0 where interjected) */
  logps: number[];
  /** 1 where the token was sampled (it trains), 0 where interjected */
  mask: number[];
  /** ended with a stop id (else it reached the length limit) */
  stopped: boolean;
}

export interface RolloutStats { tokens: number; seconds: number; refreshSeconds: number }

export class RolloutEngine {
  private decoder: BatchDecoder | null = null;
  /** what the last rollout cost (tokens sampled, time, of which getting the weights there) */
  last: RolloutStats = { tokens: 0, seconds: 0, refreshSeconds: 0 };

  /**
   * weights(): the policy's current weights on the host (live: the arrays the trainer
   * updates in place, the same every call).
   */
  constructor(readonly c: MiniMindConfig, private weights: () => Promise<Params>, readonly mode: RolloutWeights, private so: SessionOptions) {}

  /** A decoder with the current weights (live: built once over the trainer's arrays). */
  private async current(): Promise<BatchDecoder> {
    if (this.mode === 'live' && this.decoder) return this.decoder;
    await this.decoder?.release();
    this.decoder = null;
    const params = await this.weights();
    this.decoder = this.mode === 'live' ? await BatchDecoder.create(this.c, params, this.so, FED_WEIGHTS) : await BatchDecoder.create(this.c, copy(params), this.so);
    return this.decoder;
  }

  /** numGenerations completions of each prompt, sampled with `rng`. */
  async rollout(prompts: number[][], o: RolloutOptions, rng: Rng): Promise<RolloutRow[]> {
    const t0 = performance.now();
    const dec = await this.current();
    const refreshSeconds = (performance.now() - t0) / 1000;
    const G = o.numGenerations, ctx = this.c.max_position_embeddings;
    const rows: RolloutRow[] = prompts.flatMap((p) => Array.from({ length: G }, () => ({ prompt: p, completion: [], logps: [], mask: [], stopped: false })));
    const stop = new Set(o.stopIds);
    const limit = rows.map((r) => Math.min(o.maxNewTokens, ctx - r.prompt.length));
    if (limit.some((n) => n < 1)) throw new RangeError(`a prompt of ${Math.max(...prompts.map((p) => p.length))} tokens leaves no room to generate within the context window (${ctx})`);
    const joined = await dec.join(rows.map((r) => r.prompt));
    const keyOf = joined.map((j) => j.key), rowOf = new Map(keyOf.map((k, i) => [k, i]));
    let logits = new Map(joined.map((j) => [j.key, j.logits]));
    /** tokens waiting to be fed to a row without sampling (interjected) */
    const queued = rows.map(() => [] as number[]);
    let tokens = 0;
    try {
      while (logits.size) {
        const feed = new Map<number, number>(), done: number[] = [];
        for (const [key, l] of logits) {
          const i = rowOf.get(key)!, r = rows[i];
          let id: number;
          if (queued[i].length) {
            id = queued[i].shift()!;
            r.completion.push(id); r.logps.push(0); r.mask.push(0);
          } else {
            const lp = logSoftmaxAt(l); // over the whole vocabulary, as the training graph's log-probs
            if (o.vocabLimit !== undefined && o.vocabLimit < l.length) l.fill(-Infinity, o.vocabLimit);
            id = sample(l, r.completion, { temperature: o.temperature, topK: o.topK, topP: o.topP }, rng);
            r.completion.push(id); r.logps.push(lp(id)); r.mask.push(1);
            tokens++;
            if (stop.has(id)) { r.stopped = true; done.push(key); continue; }
            const extra = o.interject?.(i, r.completion);
            if (extra?.length) queued[i].push(...extra);
          }
          if (r.completion.length >= limit[i]) done.push(key);
          else feed.set(key, id);
        }
        dec.leave(done);
        logits = feed.size ? await dec.step(feed) : new Map();
      }
    } finally {
      dec.leave(keyOf); // an error leaves no rows behind for the next rollout
    }
    this.last = { tokens, seconds: (performance.now() - t0) / 1000, refreshSeconds };
    return rows;
  }

  async release(): Promise<void> { await this.decoder?.release(); this.decoder = null; }
}

/** A linear hook that keeps every weight a graph input: the decoder feeds the arrays it was given on every run */
const FED_WEIGHTS: DecodeHook = { linearHook: (_g, _x, _name, plain) => plain(), extraParams: [] };

const copy = (p: Params): Params => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));

/** log softmax(logits)[id], for any id (float64 sums over the row, computed once). */
function logSoftmaxAt(logits: Float32Array): (id: number) => number {
  let mx = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > mx) mx = logits[i];
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - mx);
  const lse = mx + Math.log(s);
  return (id) => logits[id] - lse;
}
