// The non-weight inputs every MiniMind graph takes: token ids, RoPE tables, attention bias.
import { causalBias, ropeTables } from '../graph/nn.js';
import { ort } from '../runtime/session.js';
import { headDim, MiniMindConfig } from './config.js';

export class PositionInputs {
  private cache = new Map<string, Record<string, ort.Tensor>>();
  constructor(private c: MiniMindConfig) {}

  /** rope_cos/rope_sin for positions past..past+T-1 and the causal bias over past+T keys. */
  get(T: number, past = 0): Record<string, ort.Tensor> {
    const key = `${T}:${past}`;
    let v = this.cache.get(key);
    if (!v) {
      const hd = headDim(this.c), rep = this.c.num_attention_heads / this.c.num_key_value_heads;
      const { cos, sin } = ropeTables(hd, past, T, this.c.rope_theta);
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

export const int64Tensor = (data: BigInt64Array, shape: number[]) => new ort.Tensor('int64', data, shape);
