// Batched decoding over one KV window, for sequences of different lengths that join and
// leave between steps (continuous batching).
//
// Design: each row of the batch is a row of a KvWindow, its tokens at positions 0, 1, ...
// of its own, exactly as if it were decoded alone. A step feeds one token per row at
// position length(row); past_bias hides each row's unused slots. Rows that join together
// are prefilled in one run (left-padded to the longest, pad columns masked through
// attn_bias, each row's RoPE positions starting at its first real token), and their keys
// and values go into new rows of the window. A row that leaves is replaced by the last row,
// and the window shrinks when the rows left use less than half of it, so it holds at most
// the batch's rows x the context window. A prompt that is scored (echo with logprobs) is
// prefilled by a second graph that outputs the logits of every position; it opens on the
// first such prompt, so a server that never scores never holds its weights twice.
import { MiniMindConfig } from '../model/config.js';
import { DecodeHook, openDecodeGraph, Quantize } from '../model/decode-runner.js';
import { int64Tensor, PositionInputs, RopeRows } from '../model/feeds.js';
import { KvWindow, MASKED } from '../model/kv-window.js';
import { Params } from '../model/params.js';
import { ort, Session, SessionOptions } from '../runtime/session.js';

type Graph = { session: Session; weights: Record<string, ort.Tensor> };

/** A row that joined: its key, the logits after its prompt [V], and with allLogits those of every prompt position [L, V]. */
export interface Joined { key: number; logits: Float32Array; positions?: Float32Array }

export class BatchDecoder {
  private rope: RopeRows;
  /** causal biases among a run's new tokens (attn_bias) */
  private positions: PositionInputs;
  private keys: number[] = [];           // row index -> key
  private window: KvWindow;
  private nextKey = 1;
  private readonly rep: number;
  private scoring: Promise<Graph> | null = null;

  private constructor(readonly c: MiniMindConfig, private main: Graph, private openScoring: () => Promise<Graph>) {
    this.rope = new RopeRows(c);
    this.positions = new PositionInputs(c);
    this.window = new KvWindow(c);
    this.rep = c.num_attention_heads / c.num_key_value_heads;
  }

  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {}, hook?: DecodeHook): Promise<BatchDecoder> {
    return new BatchDecoder(c, await openDecodeGraph(c, params, so, { hook }), () => openDecodeGraph(c, params, so, { hook, allLogits: true }));
  }

  get size(): number { return this.keys.length; }
  /** Slots per row of the KV window now. */
  get cacheSlots(): number { return this.window.slots; }
  /** Bytes held by the KV window now. */
  get cacheBytes(): number { return this.window.bytes; }
  /** Bytes the KV window can reach with `rows` rows of at most the context window each. */
  static boundBytes(c: MiniMindConfig, rows: number): number { return KvWindow.bytesFor(c, rows); }

  /**
   * Add sequences: the prompts are prefilled together (in groups of similar lengths, left-
   * padded to the group's longest, pad slots masked), then all join the batch at once.
   * Returns each new row's key and the logits [V] after its prompt, in the prompts' order;
   * for the prompts whose `allLogits` flag is set, also the logits of every position.
   */
  async join(prompts: number[][], allLogits: boolean[] = []): Promise<Joined[]> {
    if (!prompts.length) return [];
    if (prompts.some((p) => !p.length)) throw new Error('BatchDecoder.join: empty prompt');
    // every prefill first: rows join only when all of them ran (a failed run adds none)
    const runs: { group: number[]; T: number; all: boolean; res: Record<string, ort.Tensor> }[] = [];
    for (const all of [false, true]) {
      const which = prompts.map((_, i) => i).filter((i) => !!allLogits[i] === all);
      if (!which.length) continue;
      const graph = all ? await this.scoringGraph() : this.main;
      for (const g of prefillGroups(which.map((i) => prompts[i].length), PREFILL_TOKENS)) {
        const group = g.map((j) => which[j]), T = Math.max(...group.map((i) => prompts[i].length));
        runs.push({ group, T, all, res: await this.prefill(graph, group.map((i) => prompts[i]), T) });
      }
    }
    this.window.reserve(this.size + prompts.length, Math.max(...prompts.map((p) => p.length)));
    const V = this.c.vocab_size, out: Joined[] = [];
    for (const { group, T, all, res } of runs) {
      const logits = res.logits.data as Float32Array;
      group.forEach((i, j) => {
        const L = prompts[i].length, row = this.window.addRow();
        this.window.append(row, res, j, T, T - L, L);
        // allLogits: [n, T, V], the row's real positions are its last L
        out[i] = all
          ? { key: this.nextKey++, logits: logits.slice(((j + 1) * T - 1) * V, (j + 1) * T * V), positions: logits.slice((j * T + T - L) * V, (j + 1) * T * V) }
          : { key: this.nextKey++, logits: logits.slice(j * V, (j + 1) * V) };
        this.keys.push(out[i].key);
      });
    }
    return out;
  }

  /**
   * Prompts run as one batch [n, T] over an empty window, each right-aligned: its first
   * T-L columns are padding that no real token's query sees, and its RoPE positions start
   * at 0 on its first real token.
   */
  private async prefill(graph: Graph, prompts: number[][], T: number): Promise<Record<string, ort.Tensor>> {
    const n = prompts.length, rep = this.rep;
    const ids = new BigInt64Array(n * T), causal = this.positions.get(T).attn_bias.data as Float32Array, bias = new Float32Array(n * causal.length);
    prompts.forEach((p, j) => {
      const pad = T - p.length;
      for (let t = 0; t < p.length; t++) ids[j * T + pad + t] = BigInt(p[t]);
      bias.set(causal, j * causal.length);
      if (pad) for (let q = 0; q < rep * T; q++) bias.fill(MASKED, j * causal.length + q * T, j * causal.length + q * T + pad);
    });
    const rope = this.rope.get(prompts.map((p) => p.length - T), T); // pad columns: negative positions
    return graph.session.run({ ...graph.weights, ...KvWindow.emptyFeeds(this.c, n), ...rope,
      attn_bias: KvWindow.newTokenBias(this.c, bias, n, T), input_ids: int64Tensor(ids, [n, T]) });
  }

  /** Remove rows (finished or cancelled). */
  leave(keys: Iterable<number>): void {
    let removed = false;
    for (const key of keys) {
      const b = this.keys.indexOf(key);
      if (b < 0) continue;
      this.window.removeRow(b);
      this.keys[b] = this.keys[this.keys.length - 1];
      this.keys.pop();
      removed = true;
    }
    if (removed) this.window.fit();
  }

  /** One decoding step: feed each row's token (by key), returns logits per key ([V] views of one buffer). */
  async step(tokens: Map<number, number>): Promise<Map<number, Float32Array>> {
    const B = this.size;
    if (!B) return new Map();
    const ids = new BigInt64Array(B), lens = this.keys.map((_, b) => this.window.length(b));
    this.keys.forEach((key, b) => {
      const id = tokens.get(key);
      if (id === undefined) throw new Error(`BatchDecoder.step: no token for row ${key}`);
      ids[b] = BigInt(id);
    });
    this.window.reserve(B, Math.max(...lens) + 1);
    const res = await this.main.session.run({ ...this.main.weights, ...this.window.feeds(), ...this.rope.get(lens, 1),
      attn_bias: KvWindow.newTokenBias(this.c, this.positions.get(1).attn_bias.data as Float32Array, 1, 1), input_ids: int64Tensor(ids, [B, 1]) });
    for (let b = 0; b < B; b++) this.window.append(b, res, b, 1, 0, 1);
    const V = this.c.vocab_size, logits = res.logits.data as Float32Array, out = new Map<number, Float32Array>();
    this.keys.forEach((key, b) => out.set(key, logits.subarray(b * V, (b + 1) * V)));
    return out;
  }

  private scoringGraph(): Promise<Graph> {
    // a graph that failed to open (memory) is tried again by the next scored prompt
    return this.scoring ??= this.openScoring().catch((e) => { this.scoring = null; throw e; });
  }

  async release(): Promise<void> {
    await this.main.session.release();
    const scoring = await this.scoring?.catch(() => null);
    await scoring?.session.release();
  }
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
