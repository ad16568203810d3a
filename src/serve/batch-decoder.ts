// Batched decoding over one shared KV cache, for sequences of different lengths that join
// and leave between steps (continuous batching).
//
// Design: every row lives on one shared timeline. Cache slot s holds the key/value written
// at position base+s; each step feeds one token per row at position `clock` (= base+S), so
// one RoPE table [1, hd] serves the whole batch. Rows that join together are prefilled in
// one run, each prompt placed at positions clock-L..clock-1 (left-padded), i.e. it ends
// where the others are, and its keys are copied into the batch cache (right-aligned; the
// slots before its start are masked per row through attn_bias [B, 1, rep, S+1]). RoPE attention scores
// depend only on the distance between query and key positions, so a row's logits equal
// those of decoding it alone from position 0, up to float rounding. Angles are computed
// in double precision because absolute positions keep growing while the server is busy.
// When rows leave, slots no live row can see are trimmed from the front, so the cache is
// never longer than the oldest live row: at most maxBatch x context window slots.
import { buildDecodeGraph } from '../model/minimind.js';
import { headDim, MiniMindConfig } from '../model/config.js';
import { DecodeHook, decodeLinearHook, Quantize } from '../model/decode-runner.js';
import { int64Tensor, modelRope } from '../model/feeds.js';
import { causalBias } from '../graph/nn.js';
import { Params } from '../model/params.js';
import { createSession, ort, Session, SessionOptions } from '../runtime/session.js';

const MASKED = -1e9;

/** A row of the batch: `start` is the position of its first prompt token. */
interface Row { key: number; start: number }

export class BatchDecoder {
  private weights: Record<string, ort.Tensor> = {};
  private rope: { freqs: Float32Array; scale: number };
  private rows: Row[] = [];
  private cache: ort.Tensor[] = [];      // 2 per layer, [B, S, KV, hd]
  private base = 0;                      // position of slot 0
  private S = 0;                         // cache length
  private nextKey = 1;
  private readonly slotFloats: number;
  private readonly rep: number;

  private constructor(readonly c: MiniMindConfig, private session: Session) {
    this.rope = modelRope(c);
    this.slotFloats = c.num_key_value_heads * headDim(c);
    this.rep = c.num_attention_heads / c.num_key_value_heads;
  }

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {}, hook?: DecodeHook): Promise<BatchDecoder> {
    const g = buildDecodeGraph(c, { ...hook, linearHook: decodeLinearHook(c, params, so.quantize, hook) });
    const d = new BatchDecoder(c, await createSession(g, so));
    for (const t of g.inputs) { const a = params.get(t.name); if (a) d.weights[t.name] = new ort.Tensor('float32', a, t.shape as number[]); }
    return d;
  }

  get size(): number { return this.rows.length; }
  get cacheSlots(): number { return this.S; }
  /** Bytes held by the KV cache now. */
  get cacheBytes(): number { return this.rows.length * this.S * this.slotFloats * 4 * 2 * this.c.num_hidden_layers; }
  /** Bytes the cache can reach with `rows` rows of at most the context window each. */
  static boundBytes(c: MiniMindConfig, rows: number): number {
    return rows * c.max_position_embeddings * c.num_key_value_heads * headDim(c) * 4 * 2 * c.num_hidden_layers;
  }
  get clock(): number { return this.base + this.S; }

  private ropeAt(start: number, T: number): { rope_cos: ort.Tensor; rope_sin: ort.Tensor } {
    const hd = headDim(this.c), half = hd / 2, { freqs, scale } = this.rope;
    const cos = new Float32Array(T * hd), sin = new Float32Array(T * hd);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < half; i++) {
        const a = (start + t) * freqs[i];
        cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(a) * scale;
        sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(a) * scale;
      }
    }
    return { rope_cos: new ort.Tensor('float32', cos, [T, hd]), rope_sin: new ort.Tensor('float32', sin, [T, hd]) };
  }

  private layerFeeds(feeds: Record<string, ort.Tensor>, cache: ort.Tensor[]): void {
    for (let l = 0; l < this.c.num_hidden_layers; l++) { feeds[`past_key.${l}`] = cache[2 * l]; feeds[`past_value.${l}`] = cache[2 * l + 1]; }
  }

  /**
   * Add sequences: the prompts are prefilled together (in groups of similar lengths, left-
   * padded to the group's longest, pad slots masked), then all join the batch at once.
   * Returns each new row's key and the logits [V] after its prompt, in the prompts' order.
   */
  async join(prompts: number[][]): Promise<{ key: number; logits: Float32Array }[]> {
    if (!prompts.length) return [];
    if (prompts.some((p) => !p.length)) throw new Error('BatchDecoder.join: empty prompt');
    const longest = Math.max(...prompts.map((p) => p.length));
    if (!this.rows.length) { this.base = 0; this.S = 0; }
    const grow = Math.max(0, longest - this.S);   // new empty slots at the front
    const clock = this.clock;
    const out = prompts.map((ids) => {
      const key = this.nextKey++;
      return { key, row: { key, start: clock - ids.length }, logits: new Float32Array(0) as Float32Array, kv: [] as Float32Array[] };
    });
    for (const group of prefillGroups(prompts.map((p) => p.length), PREFILL_TOKENS)) {
      const res = await this.prefill(group.map((i) => prompts[i]), clock);
      group.forEach((i, j) => { out[i].logits = res[j].logits; out[i].kv = res[j].kv; });
    }
    const hd = headDim(this.c), KV = this.c.num_key_value_heads;
    // new cache: existing rows shifted right by `grow`, then each new row right-aligned
    const S = this.S + grow, B = this.rows.length + out.length, f = this.slotFloats;
    this.cache = Array.from({ length: 2 * this.c.num_hidden_layers }, (_, i) => {
      const data = new Float32Array(B * S * f);
      if (this.S) {
        const old = this.cache[i].data as Float32Array;
        for (let b = 0; b < this.rows.length; b++) data.set(old.subarray(b * this.S * f, (b + 1) * this.S * f), (b * S + grow) * f);
      }
      out.forEach((n, j) => {
        const src = n.kv[i], L = src.length / f;
        data.set(src, ((this.rows.length + j) * S + S - L) * f);
      });
      return new ort.Tensor('float32', data, [B, S, KV, hd]);
    });
    this.base -= grow;
    this.S = S;
    this.rows.push(...out.map((n) => n.row));
    return out.map(({ key, logits }) => ({ key, logits }));
  }

  /**
   * Prompts run as one batch [n, T] placed at positions clock-T..clock-1, each right-aligned
   * (its first T-L columns are padding that no query sees). Returns per prompt the logits
   * after it and its keys/values (2 per layer, L slots each; views of the run's outputs).
   */
  private async prefill(prompts: number[][], clock: number): Promise<{ logits: Float32Array; kv: Float32Array[] }[]> {
    const n = prompts.length, T = Math.max(...prompts.map((p) => p.length)), rep = this.rep;
    const hd = headDim(this.c), KV = this.c.num_key_value_heads, f = this.slotFloats, V = this.c.vocab_size;
    const ids = new BigInt64Array(n * T), causal = causalBias(rep, T, T, 0), bias = new Float32Array(n * causal.length);
    prompts.forEach((p, j) => {
      const pad = T - p.length;
      for (let t = 0; t < p.length; t++) ids[j * T + pad + t] = BigInt(p[t]);
      bias.set(causal, j * causal.length);
      if (pad) for (let q = 0; q < rep * T; q++) bias.fill(MASKED, j * causal.length + q * T, j * causal.length + q * T + pad);
    });
    const empty = new ort.Tensor('float32', new Float32Array(0), [n, 0, KV, hd]);
    const feeds: Record<string, ort.Tensor> = { ...this.weights, ...this.ropeAt(clock - T, T),
      attn_bias: new ort.Tensor('float32', bias, [n, 1, rep * T, T]), input_ids: int64Tensor(ids, [n, T]) };
    this.layerFeeds(feeds, Array(2 * this.c.num_hidden_layers).fill(empty));
    const res = await this.session.run(feeds);
    const logits = res.logits.data as Float32Array;
    return prompts.map((p, j) => {
      const kv: Float32Array[] = [];
      for (let l = 0; l < this.c.num_hidden_layers; l++) {
        for (const name of [`present_key.${l}`, `present_value.${l}`]) kv.push((res[name].data as Float32Array).subarray((j * T + T - p.length) * f, (j + 1) * T * f));
      }
      return { logits: logits.slice(j * V, (j + 1) * V), kv };
    });
  }

  /** Remove rows (finished or cancelled) and trim slots no remaining row can see. */
  leave(keys: Iterable<number>): void {
    const gone = new Set(keys);
    const keep = this.rows.map((r, b) => ({ r, b })).filter(({ r }) => !gone.has(r.key));
    if (keep.length === this.rows.length) return;
    if (!keep.length) { this.rows = []; this.cache = []; this.S = 0; return; }
    const first = Math.min(...keep.map(({ r }) => r.start)) - this.base; // first slot still visible
    const S = this.S - first, f = this.slotFloats, hd = headDim(this.c), KV = this.c.num_key_value_heads;
    this.cache = this.cache.map((t) => {
      const old = t.data as Float32Array, data = new Float32Array(keep.length * S * f);
      keep.forEach(({ b }, j) => data.set(old.subarray((b * this.S + first) * f, (b + 1) * this.S * f), j * S * f));
      return new ort.Tensor('float32', data, [keep.length, S, KV, hd]);
    });
    this.rows = keep.map(({ r }) => r);
    this.base += first;
    this.S = S;
  }

  /** One decoding step: feed each row's token (by key), returns logits per key ([V] views of one buffer). */
  async step(tokens: Map<number, number>): Promise<Map<number, Float32Array>> {
    const B = this.rows.length, S1 = this.S + 1, rep = this.rep;
    if (!B) return new Map();
    const ids = new BigInt64Array(B), bias = new Float32Array(B * rep * S1);
    this.rows.forEach((r, b) => {
      const id = tokens.get(r.key);
      if (id === undefined) throw new Error(`BatchDecoder.step: no token for row ${r.key}`);
      ids[b] = BigInt(id);
      const hidden = r.start - this.base;            // slots before the row's first token
      for (let k = 0; k < rep; k++) bias.fill(MASKED, (b * rep + k) * S1, (b * rep + k) * S1 + hidden);
    });
    const feeds: Record<string, ort.Tensor> = { ...this.weights, ...this.ropeAt(this.clock, 1),
      attn_bias: new ort.Tensor('float32', bias, [B, 1, rep, S1]), input_ids: int64Tensor(ids, [B, 1]) };
    this.layerFeeds(feeds, this.cache);
    const res = await this.session.run(feeds);
    for (let l = 0; l < this.c.num_hidden_layers; l++) { this.cache[2 * l] = res[`present_key.${l}`]; this.cache[2 * l + 1] = res[`present_value.${l}`]; }
    this.S = S1;
    const V = this.c.vocab_size, logits = res.logits.data as Float32Array, out = new Map<number, Float32Array>();
    this.rows.forEach((r, b) => out.set(r.key, logits.subarray(b * V, (b + 1) * V)));
    return out;
  }

  release(): Promise<void> { return this.session.release(); }
}

/** Padded tokens per prefill run at most (bounds the [n, heads, T, T] attention scores). */
const PREFILL_TOKENS = 2048;

/**
 * Split prompts (by length) into prefill runs: longest first, a prompt joins the current
 * run while the padded size stays within `budget` tokens and padding within a third of it.
 */
export function prefillGroups(lengths: number[], budget: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a]);
  const groups: number[][] = [];
  let cur: number[] = [], T = 0, real = 0;
  for (const i of order) {
    const L = lengths[i], n = cur.length + 1;
    if (cur.length && (n * T > budget || n * T > 1.5 * (real + L))) { groups.push(cur); cur = []; }
    if (!cur.length) { T = L; real = 0; }
    cur.push(i); real += L;
  }
  if (cur.length) groups.push(cur);
  return groups;
}
