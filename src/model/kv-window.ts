// The KV cache of the window decode graph (buildDecodeGraph's default form): per layer a
// key and a value block [rows, KV, M, hd] (Hugging Face's layout; the graph reads it as
// [rows, 1, KV, M, hd] to broadcast it over a run's tokens) with M slots per row, of
// which row b uses its first length(b). Runs read the window in place; only the new tokens'
// keys and values come out and are written into their slots. So a step copies nothing
// cache-sized, where a cache grown by Concat in the graph was copied (and transposed to the
// attention layout) on every run.
import { ort } from '../runtime/session.js';
import { headDim, MiniMindConfig } from './config.js';

/** The bias that hides a slot or a column from attention (past_bias, prefill padding). */
export const MASKED = -1e9;
/** The window grows and shrinks in multiples of this many slots, rows in multiples of ROW_STEP. */
const SLOT_STEP = 32, ROW_STEP = 4;
const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

export class KvWindow {
  private blocks: Float32Array[] = []; // per layer its keys, then its values: [cap, KV, M, hd]
  private lens: number[] = [];
  private cap = 0;
  private M = 0;
  private readonly KV: number;
  private readonly hd: number;
  private readonly layers: number;
  /** the context window: no row holds more positions */
  private readonly context: number;

  constructor(c: MiniMindConfig) {
    this.KV = c.num_key_value_heads;
    this.hd = headDim(c);
    this.layers = c.num_hidden_layers;
    this.context = c.max_position_embeddings;
  }

  /** Bytes of the blocks for `rows` rows of `slots` slots (what reserve() allocates at most). */
  static bytesFor(c: MiniMindConfig, rows: number, slots = c.max_position_embeddings): number {
    return 2 * c.num_hidden_layers * roundUp(rows, ROW_STEP) * roundUp(slots, SLOT_STEP) * c.num_key_value_heads * headDim(c) * 4;
  }

  get rows(): number { return this.lens.length; }
  /** M: slots per row */
  get slots(): number { return this.M; }
  /** Bytes held now. */
  get bytes(): number { return 2 * this.layers * this.cap * this.M * this.KV * this.hd * 4; }
  length(row: number): number { return this.lens[row]; }

  /** Room for `rows` rows of `slots` used slots each; what is cached stays. */
  reserve(rows: number, slots: number): void {
    if (slots > this.context) throw new RangeError(`KV cache: ${slots} positions exceed the context window (${this.context})`);
    const M = slots > this.M ? roundUp(Math.min(this.context, Math.max(slots, Math.ceil(this.M * 1.5))), SLOT_STEP) : this.M;
    const cap = rows > this.cap ? roundUp(rows, ROW_STEP) : this.cap;
    if (M !== this.M || cap !== this.cap) this.relayout(cap, M);
  }

  /** Shrink the window when the rows use less than half of it (long rows have left). */
  fit(): void {
    const need = roundUp(Math.max(1, ...this.lens.map((n) => n + 1)), SLOT_STEP);
    const cap = roundUp(this.rows, ROW_STEP);
    if (this.M > 2 * need || this.cap > 2 * cap) this.relayout(Math.min(this.cap, Math.max(cap, ROW_STEP)), Math.min(this.M, need));
  }

  private relayout(cap: number, M: number): void {
    const { KV, hd } = this, oldM = this.M;
    this.blocks = Array.from({ length: 2 * this.layers }, (_, i) => {
      const t = new Float32Array(cap * KV * M * hd), old = this.blocks[i];
      if (old) {
        this.lens.forEach((n, b) => {
          for (let h = b * KV; h < (b + 1) * KV; h++) t.set(old.subarray(h * oldM * hd, (h * oldM + n) * hd), h * M * hd);
        });
      }
      return t;
    });
    this.cap = cap;
    this.M = M;
  }

  /** A new empty row, last; returns its index. */
  addRow(): number {
    this.reserve(this.rows + 1, this.M);
    this.lens.push(0);
    return this.rows - 1;
  }

  /** Remove row b: the last row moves into its place (callers track rows by index). */
  removeRow(b: number): void {
    const last = this.rows - 1, block = this.KV * this.hd * this.M;
    if (b !== last) {
      for (const t of this.blocks) t.copyWithin(b * block, last * block, (last + 1) * block);
      this.lens[b] = this.lens[last];
    }
    this.lens.pop();
  }

  /**
   * Write `count` new tokens of row `row`: columns from..from+count-1 of row `srcRow` of a run's
   * outputs key.<l>/value.<l> [n, T, KV*hd]. The slots must be reserved.
   */
  append(row: number, out: Record<string, ort.Tensor>, srcRow: number, T: number, from: number, count: number): void {
    const { KV, hd, M } = this, start = this.lens[row];
    if (start + count > M) throw new RangeError(`KV cache: row ${row} needs ${start + count} slots, the window has ${M}`);
    for (let l = 0; l < this.layers; l++) {
      for (const [i, name] of [`key.${l}`, `value.${l}`].entries()) {
        const src = out[name].data as Float32Array, dst = this.blocks[2 * l + i];
        for (let t = 0; t < count; t++) {
          const at = (srcRow * T + from + t) * KV * hd;
          for (let h = 0; h < KV; h++) {
            // a plain loop: a head is a few dozen floats, and subarray() would allocate per head
            const s = at + h * hd, d = ((row * KV + h) * M + start + t) * hd;
            for (let i = 0; i < hd; i++) dst[d + i] = src[s + i];
          }
        }
      }
    }
    this.lens[row] = start + count;
  }

  /** past_key.<l>/past_value.<l> [B, 1, KV, M, hd] over the rows (views, no copy) and past_bias [B, 1, 1, 1, M]. */
  feeds(): Record<string, ort.Tensor> {
    const B = this.rows, { KV, hd, M } = this;
    const bias = new Float32Array(B * M);
    this.lens.forEach((n, b) => bias.fill(MASKED, b * M + n, (b + 1) * M));
    const f: Record<string, ort.Tensor> = { past_bias: new ort.Tensor('float32', bias, [B, 1, 1, 1, M]) };
    for (let l = 0; l < this.layers; l++) {
      f[`past_key.${l}`] = new ort.Tensor('float32', this.blocks[2 * l].subarray(0, B * KV * M * hd), [B, 1, KV, M, hd]);
      f[`past_value.${l}`] = new ort.Tensor('float32', this.blocks[2 * l + 1].subarray(0, B * KV * M * hd), [B, 1, KV, M, hd]);
    }
    return f;
  }

  /**
   * The feeds of an empty window for `n` rows (a prefill): one slot of zeros, masked. Not zero
   * slots: ONNX Runtime's WebGPU kernels crash the process on the empty products (measured on
   * 1.30), and the masked slot changes no bit (its softmax weight is exp(-1e9) = 0 and its
   * values add 0 * 0).
   */
  static emptyFeeds(c: MiniMindConfig, n: number): Record<string, ort.Tensor> {
    const KV = c.num_key_value_heads, hd = headDim(c), zeros = new Float32Array(n * KV * hd);
    const f: Record<string, ort.Tensor> = { past_bias: new ort.Tensor('float32', new Float32Array(n).fill(MASKED), [n, 1, 1, 1, 1]) };
    for (let l = 0; l < c.num_hidden_layers; l++) {
      f[`past_key.${l}`] = new ort.Tensor('float32', zeros, [n, 1, KV, 1, hd]);
      f[`past_value.${l}`] = new ort.Tensor('float32', zeros, [n, 1, KV, 1, hd]);
    }
    return f;
  }

  /**
   * The window graph's attn_bias [n, T, 1, rep, T] from causal biases laid out
   * [n, 1, T*rep, T] (causalBias, PositionInputs): the same numbers, row t*rep+r being
   * query t's head r within its group.
   */
  static newTokenBias(c: MiniMindConfig, bias: Float32Array, n: number, T: number): ort.Tensor {
    return new ort.Tensor('float32', bias, [n, T, 1, c.num_attention_heads / c.num_key_value_heads, T]);
  }
}
