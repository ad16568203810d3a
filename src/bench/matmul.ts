// ONNX Runtime's matrix-product speed at the shapes one training step of a model runs, so a
// training figure can be read against what this machine's MatMul/Gemm does (and torch.mm
// at the same shapes: scripts/bench/torch_mm.py reads the list --shapes_out writes).
import { Graph } from '../graph/graph.js';
import { MiniMindConfig } from '../model/config.js';
import { defaultChunks } from '../model/minimind.js';
import { createSession, ort, SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { machine, median } from './stats.js';

/** C[m, n] = op(A)[m, k] @ op(B)[k, n]; trans names the operand stored transposed
 * (B: a weight [out, in] in a forward projection; A: the activation gradient in a weight gradient). */
export interface MatmulShape { m: number; k: number; n: number; trans: '' | 'A' | 'B'; count: number; what: string }

const flops = (s: { m: number; k: number; n: number }) => 2 * s.m * s.k * s.n;

/**
 * The products of one training step (forward, input gradients, weight gradients) of every
 * linear layer and the LM head, as src/graph/nn.ts builds them; equal shapes are merged and
 * counted. MoE experts see their share of the tokens (B*T*top_k/experts, balanced routing).
 */
export function trainShapes(c: MiniMindConfig, B: number, T: number): MatmulShape[] {
  const N = B * T, d = c.hidden_size, hd = c.head_dim, L = c.num_hidden_layers;
  const out = new Map<string, MatmulShape>();
  const add = (s: Omit<MatmulShape, 'count' | 'what'>, count: number, what: string) => {
    const key = `${s.m}x${s.k}x${s.n}${s.trans}`, have = out.get(key);
    if (have) { have.count += count; if (!have.what.split(',').includes(what)) have.what += `,${what}`; } else out.set(key, { ...s, count, what });
  };
  // y = x W^T, dx = dy W, dW = dy^T x (Gemm transA, K = rows)
  const linear = (rows: number, inDim: number, outDim: number, count: number, what: string) => {
    if (rows < 1) return;
    add({ m: rows, k: inDim, n: outDim, trans: 'B' }, count, what);
    add({ m: rows, k: outDim, n: inDim, trans: '' }, count, `d${what}`);
    add({ m: outDim, k: rows, n: inDim, trans: 'A' }, count, `${what}.grad`);
  };
  linear(N, d, c.num_attention_heads * hd, L, 'q');
  linear(N, d, c.num_key_value_heads * hd, 2 * L, 'kv');
  linear(N, c.num_attention_heads * hd, d, L, 'o');
  const ffn = (rows: number, width: number, count: number) => {
    linear(rows, d, width, 2 * count, 'gate_up');
    linear(rows, width, d, count, 'down');
  };
  if (c.use_moe) {
    linear(N, d, c.n_routed_experts, L, 'router');
    ffn(Math.round((N * c.num_experts_per_tok) / c.n_routed_experts), c.moe_intermediate_size, c.n_routed_experts * L);
    if (c.n_shared_experts) ffn(N, c.intermediate_size, c.n_shared_experts * L);
  } else ffn(N, c.intermediate_size, L);
  // LM head in sequence chunks; the backward pass recomputes the chunk's logits
  const chunks = defaultChunks(T), rows = N / chunks, V = c.vocab_size;
  add({ m: rows, k: d, n: V, trans: 'B' }, 2 * chunks, 'lm_head');
  add({ m: rows, k: V, n: d, trans: '' }, chunks, 'dlm_head');
  add({ m: V, k: rows, n: d, trans: 'A' }, chunks, 'lm_head.grad');
  return [...out.values()];
}

/** Median of the rates with each shape weighted by the FLOPs it does in a step. */
export function weightedMedian(rates: { gflops: number; weight: number }[]): number {
  const s = [...rates].sort((a, b) => a.gflops - b.gflops);
  const total = s.reduce((p, r) => p + r.weight, 0);
  let acc = 0;
  for (let i = 0; i < s.length; i++) {
    acc += s[i].weight;
    if (acc > total / 2) return s[i].gflops;
    if (acc === total / 2) return (s[i].gflops + s[i + 1].gflops) / 2;
  }
  return NaN;
}

/** Seconds per product: median over `timed` samples, each long enough (>= 20 ms) to time. */
async function timeShape(s: Omit<MatmulShape, 'count' | 'what'>, so: SessionOptions, warmup: number, timed: number, rng: Rng): Promise<number> {
  const g = new Graph();
  // stored as the training graph stores them, and the same ops it uses (ORT folds the
  // forward's Transpose into the MatMul as it does there)
  const aDims = s.trans === 'A' ? [s.k, s.m] : [s.m, s.k], bDims = s.trans === 'B' ? [s.n, s.k] : [s.k, s.n];
  const a = g.input('a', 'float32', aDims), b = g.input('b', 'float32', bDims);
  // unnamed: a named output would add an Identity copy to the timing
  const c = g.output(s.trans === 'A' ? g.gemm(a, b, true, false) : g.matmul(a, s.trans === 'B' ? g.transpose(b, [1, 0]) : b));
  const sess = await createSession(g, so);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const feeds = { a: new ort.Tensor('float32', rand(s.m * s.k), aDims), b: new ort.Tensor('float32', rand(s.k * s.n), bDims) };
  const fetches = { [c.name]: new ort.Tensor('float32', new Float32Array(s.m * s.n), [s.m, s.n]) };
  try {
    let t0 = performance.now();
    for (let i = 0; i < Math.max(1, warmup); i++) await sess.run(feeds, fetches);
    const reps = Math.max(1, Math.ceil(20 / ((performance.now() - t0) / Math.max(1, warmup))));
    const ts: number[] = [];
    for (let i = 0; i < timed; i++) {
      t0 = performance.now();
      for (let r = 0; r < reps; r++) await sess.run(feeds, fetches);
      ts.push((performance.now() - t0) / 1000 / reps);
    }
    return median(ts);
  } finally {
    await sess.release();
  }
}

export async function benchMatmul(c: MiniMindConfig, B: number, T: number, so: SessionOptions, warmup = 2, timed = 5): Promise<Record<string, unknown>> {
  const rng = new Rng(0);
  const shapes = trainShapes(c, B, T);
  const measured = [];
  for (const s of shapes) {
    const sec = await timeShape(s, so, warmup, timed, rng);
    measured.push({ ...s, gflops: flops(s) / sec / 1e9 });
  }
  const n = 2048, sq = await timeShape({ m: n, k: n, n, trans: '' }, so, warmup, timed, rng);
  const stepFlops = measured.reduce((p, s) => p + flops(s) * s.count, 0);
  return {
    bench: 'matmul', batch_size: B, max_seq_len: T, threads: so.threads ?? 0, shapes: measured,
    gflops_weighted_median: weightedMedian(measured.map((s) => ({ gflops: s.gflops, weight: flops(s) * s.count }))),
    // what the step's products would take at these rates, as a rate
    gflops_step: stepFlops / measured.reduce((p, s) => p + (flops(s) * s.count) / (s.gflops * 1e9), 0) / 1e9,
    step_gflop: stepFlops / 1e9, gflops_2048: flops({ m: n, k: n, n }) / sq / 1e9, ...machine(),
  };
}
