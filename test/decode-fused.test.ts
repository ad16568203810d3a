// The window decode graph runs q/k/v and gate/up as one product each (their weights side by
// side, as float32 constants or as 4-bit blocks). Checked against the same graph with each
// linear layer on its own, and the 4-bit form against float32 products of its own values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, Tensor } from '../src/graph/graph.js';
import { MiniMindConfig, resolveConfig } from '../src/model/config.js';
import { DecodeHook, DecodeRunner, Quantize } from '../src/model/decode-runner.js';
import { initParams, paramSpecs, Params } from '../src/model/params.js';
import { dequantizeQ4, quantizeQ4 } from '../src/model/quantize.js';

const so = { threads: 1 };
const dense = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300, max_position_embeddings: 64 });
const moe3 = resolveConfig('minimind3-moe', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 300,
  max_position_embeddings: 64, moe_intermediate_size: 64, intermediate_size: 128 });

/** logits after a 5-token prompt and 8 greedy-free steps (fixed tokens) */
async function decode(c: MiniMindConfig, params: Params, o: { quantize?: Quantize; hook?: DecodeHook } = {}): Promise<Float32Array[]> {
  const r = await DecodeRunner.create(c, params, { ...so, quantize: o.quantize }, { hook: o.hook });
  const cache = r.emptyCache(), out = [(await r.run([3, 14, 15, 92, 65], cache)).slice()];
  for (let s = 0; s < 8; s++) out.push((await r.run([(s * 37) % 300], cache)).slice());
  await r.release();
  return out;
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((x, s) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - b[s][i])), 0)));

/** each linear layer its own product, with the weight `value(name)` as a float32 constant */
function perLayer(value: (name: string, w: Float32Array, shape: number[]) => Float32Array, c: MiniMindConfig, params: Params): DecodeHook {
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  return {
    extraParams: [],
    linearHook: (g: Graph, x: Tensor, name: string) => {
      const [N, K] = shapes.get(name)!, w = value(name, params.get(name)!, [N, K]), wt = new Float32Array(N * K);
      for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = w[n * K + k];
      return g.matmul(x, g.constant(wt, 'float32', [K, N]));
    },
  };
}

for (const [name, c] of [['dense', dense], ['minimind-3 MoE with q/k norms', moe3]] as const) {
  test(`${name}: q/k/v and gate/up as one product each give the logits of separate products`, async () => {
    const params = initParams(c, 7);
    const fused = await decode(c, params), separate = await decode(c, params, { hook: perLayer((_n, w) => w, c, params) });
    const d = maxDiff(fused, separate);
    assert.ok(d < 1e-4, `max |fused - separate| = ${d}`);
  });
}

test('4-bit decoding (one product per group) matches float32 products of the same 4-bit values', async () => {
  const c = dense, params = initParams(c, 9);
  const q4 = await decode(c, params, { quantize: 'q4' });
  const dequantized = await decode(c, params, { hook: perLayer((_n, w, [N, K]) => dequantizeQ4(quantizeQ4(w, N, K)), c, params) });
  const original = await decode(c, params);
  const d = maxDiff(q4, dequantized), cost = maxDiff(q4, original);
  // MatMulNBits rounds activations to 8 bits (accuracy level 4): close, not exact; a weight
  // in the wrong place would move the logits as much as the 4-bit rounding itself does
  assert.ok(d < cost / 5, `max |q4 - dequantized float32| = ${d}, 4-bit rounding moves the logits by ${cost}`);
});
