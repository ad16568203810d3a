// The non-weight inputs every MiniMind graph takes: token ids, RoPE tables, attention bias.
import { causalBias, ropeFrequencies, ropeTables } from '../graph/nn.js';
import { ort } from '../runtime/session.js';
import { headDim, MiniMindConfig } from './config.js';

// MiniMind's YaRN settings for inference_rope_scaling (model_minimind.py's rope_scaling)
const YARN = { factor: 16, originalMax: 2048, betaFast: 32, betaSlow: 1, attentionFactor: 1 };

/**
 * The model's RoPE inverse frequencies. With inference_rope_scaling, YaRN blends each
 * frequency towards frequency/factor along a linear ramp, as MiniMind does whenever
 * max_position_embeddings exceeds the original 2048 (so for every position, not only long ones).
 */
export function modelRope(c: MiniMindConfig): { freqs: Float32Array; scale: number } {
  const dim = headDim(c), freqs = ropeFrequencies(dim, c.rope_theta);
  if (!c.inference_rope_scaling) return { freqs, scale: 1 };
  if (c.max_position_embeddings / YARN.originalMax > 1) {
    const invDim = (b: number) => (dim * Math.log(YARN.originalMax / (b * 2 * Math.PI))) / (2 * Math.log(c.rope_theta));
    const low = Math.max(Math.floor(invDim(YARN.betaFast)), 0), high = Math.min(Math.ceil(invDim(YARN.betaSlow)), dim / 2 - 1);
    const f = Math.fround;
    for (let i = 0; i < freqs.length; i++) {
      const ramp = Math.min(Math.max(f((i - low) / Math.max(high - low, 0.001)), 0), 1);
      freqs[i] = f(freqs[i] * f(f(1 - ramp) + f(ramp / YARN.factor)));
    }
  }
  return { freqs, scale: YARN.attentionFactor };
}

export class PositionInputs {
  private rope: { freqs: Float32Array; scale: number };
  private cache = new Map<number, Record<string, ort.Tensor>>();
  constructor(private c: MiniMindConfig) { this.rope = modelRope(c); }

  /** rope_cos/rope_sin for positions 0..T-1 and the causal bias [1, 1, T*rep, T] among them. */
  get(T: number): Record<string, ort.Tensor> {
    let v = this.cache.get(T);
    if (!v) {
      const hd = headDim(this.c), rep = this.c.num_attention_heads / this.c.num_key_value_heads;
      const { cos, sin } = ropeTables(hd, 0, T, this.rope.freqs, this.rope.scale);
      v = {
        rope_cos: new ort.Tensor('float32', cos, [T, hd]),
        rope_sin: new ort.Tensor('float32', sin, [T, hd]),
        attn_bias: new ort.Tensor('float32', causalBias(rep, T, T), [1, 1, rep * T, T]),
      };
      if (this.cache.size > 64) this.cache.clear(); // scoring asks for many lengths
      this.cache.set(T, v);
    }
    return v;
  }
}

/**
 * The window decode graph's RoPE inputs: position_ids [B, T] (row b's tokens at positions
 * starts[b]..starts[b]+T-1; negative ones, left padding, read position 0) and the tables
 * rope_cos/rope_sin [P, hd/2] they index, computed once per position as ropeTables does.
 */
export class RopeRows {
  private rope: { freqs: Float32Array; scale: number };
  private tables = { rope_cos: new ort.Tensor('float32', new Float32Array(0), [0, 0]), rope_sin: new ort.Tensor('float32', new Float32Array(0), [0, 0]) };
  private readonly hd: number;
  constructor(c: MiniMindConfig) { this.rope = modelRope(c); this.hd = headDim(c); }

  /** Tables covering positions 0..positions-1 (grown by doubling). */
  private ensure(positions: number): void {
    const half = this.hd / 2, have = this.tables.rope_cos.dims[0] ?? 0;
    if (positions <= have) return;
    const n = Math.max(positions, 2 * have, 64), t = ropeTables(this.hd, 0, n, this.rope.freqs, this.rope.scale);
    const cos = new Float32Array(n * half), sin = new Float32Array(n * half);
    for (let p = 0; p < n; p++) {
      cos.set(t.cos.subarray(p * this.hd, p * this.hd + half), p * half);
      sin.set(t.sin.subarray(p * this.hd, p * this.hd + half), p * half);
    }
    this.tables = { rope_cos: new ort.Tensor('float32', cos, [n, half]), rope_sin: new ort.Tensor('float32', sin, [n, half]) };
  }

  get(starts: number[], T: number): Record<string, ort.Tensor> {
    const B = starts.length, pos = new BigInt64Array(B * T);
    this.ensure(Math.max(...starts) + T);
    starts.forEach((p, b) => { for (let t = 0; t < T; t++) pos[b * T + t] = BigInt(Math.max(0, p + t)); });
    return { ...this.tables, position_ids: new ort.Tensor('int64', pos, [B, T]) };
  }
}

export const int64Tensor = (data: BigInt64Array, shape: number[]) => new ort.Tensor('int64', data, shape);

/** int64 values as int32; throws naming `what` on one that does not fit. */
function int32From(src: BigInt64Array, what: string): Int32Array {
  const data = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Number(src[i]);
    if (v !== (v | 0)) throw new RangeError(`${what}: value ${src[i]} does not fit int32`);
    data[i] = v;
  }
  return data;
}

/** Token ids or labels as the training graph takes them (minimind.ts trainIndexType: int32). */
export const trainIndexTensor = (data: BigInt64Array, shape: number[]) => new ort.Tensor('int32', int32From(data, 'token ids'), shape);
