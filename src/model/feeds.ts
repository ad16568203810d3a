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
  private cache = new Map<string, Record<string, ort.Tensor>>();
  constructor(private c: MiniMindConfig) { this.rope = modelRope(c); }

  /** rope_cos/rope_sin for positions past..past+T-1 and the causal bias over past+T keys. */
  get(T: number, past = 0): Record<string, ort.Tensor> {
    const key = `${T}:${past}`;
    let v = this.cache.get(key);
    if (!v) {
      const hd = headDim(this.c), rep = this.c.num_attention_heads / this.c.num_key_value_heads;
      const { cos, sin } = ropeTables(hd, past, T, this.rope.freqs, this.rope.scale);
      v = {
        rope_cos: new ort.Tensor('float32', cos, [T, hd]),
        rope_sin: new ort.Tensor('float32', sin, [T, hd]),
        attn_bias: new ort.Tensor('float32', causalBias(rep, T, past + T, past), [1, 1, rep * T, past + T]),
      };
      if (this.cache.size > 64) this.cache.clear(); // decode asks for many (T=1, past) pairs
      this.cache.set(key, v);
    }
    return v;
  }
}

/**
 * RoPE tables per row (the window decode graph's [B, T, hd]): row b's tokens sit at
 * positions starts[b]..starts[b]+T-1 (negative ones, left padding, get zeros). Each
 * position's row is computed once, as ropeTables computes it, so every caller gets the
 * same bits for the same position.
 */
export class RopeRows {
  private rope: { freqs: Float32Array; scale: number };
  private cos = new Float32Array(0);
  private sin = new Float32Array(0);
  private readonly hd: number;
  constructor(c: MiniMindConfig) { this.rope = modelRope(c); this.hd = headDim(c); }

  private ensure(positions: number): void {
    const have = this.cos.length / this.hd;
    if (positions <= have) return;
    const n = Math.max(positions, 2 * have, 64), t = ropeTables(this.hd, have, n - have, this.rope.freqs, this.rope.scale);
    const cos = new Float32Array(n * this.hd), sin = new Float32Array(n * this.hd);
    cos.set(this.cos); cos.set(t.cos, this.cos.length);
    sin.set(this.sin); sin.set(t.sin, this.sin.length);
    this.cos = cos; this.sin = sin;
  }

  get(starts: number[], T: number): { rope_cos: ort.Tensor; rope_sin: ort.Tensor } {
    const hd = this.hd, B = starts.length;
    this.ensure(Math.max(...starts) + T);
    const cos = new Float32Array(B * T * hd), sin = new Float32Array(B * T * hd);
    starts.forEach((p0, b) => {
      const skip = Math.max(0, -p0), p = p0 + skip; // negative positions (padding) keep zeros
      cos.set(this.cos.subarray(p * hd, (p0 + T) * hd), (b * T + skip) * hd);
      sin.set(this.sin.subarray(p * hd, (p0 + T) * hd), (b * T + skip) * hd);
    });
    return { rope_cos: new ort.Tensor('float32', cos, [B, T, hd]), rope_sin: new ort.Tensor('float32', sin, [B, T, hd]) };
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
