// A decode graph ready to run: weights wrapped once, position inputs cached, and a KV cache
// (a one-row KvWindow) advanced by each run. Generation and scoring share it.
import { Graph, Tensor } from '../graph/graph.js';
import { createSession, ort, resolveProvider, Session, SessionOptions } from '../runtime/session.js';
import { MiniMindConfig } from './config.js';
import { int64Tensor, PositionInputs, RopeRows } from './feeds.js';
import { KvWindow } from './kv-window.js';
import { buildDecodeGraph, FusedLinear, LinearHook, targetFor } from './minimind.js';
import { paramSpecs, Params } from './params.js';
import { Q4, q4Linear, quantizeQ4 } from './quantize.js';

/** Weight format for decoding: float32, or 4-bit blocks (MatMulNBits) for ~4x less memory traffic. */
export type Quantize = 'none' | 'q4';

/** Weights beyond the model's and the hook that uses them (LoRA adapters). */
export interface DecodeHook { linearHook: LinearHook; extraParams: { name: string; shape: number[] }[] }

/** The 4-bit form of the weights `names` side by side, or null where q4 leaves them in float32 (input width not a multiple of 32, or widths that differ). */
function q4Weight(shapes: Map<string, number[]>, params: Params, names: string[]): Q4 | null {
  const s = names.map((n) => shapes.get(n));
  if (s.some((x) => !x || x[1] % 32 !== 0 || x[1] !== s[0]![1])) return null;
  // rows of several weights side by side quantize as each alone: blocks run along a row
  return quantizeQ4(joinRows(names.map((n) => params.get(n)!)), s.reduce((a, x) => a + x![0], 0), s[0]![1]);
}

const joinRows = (ws: Float32Array[]) => {
  if (ws.length === 1) return ws[0];
  const out = new Float32Array(ws.reduce((a, w) => a + w.length, 0));
  let at = 0;
  for (const w of ws) { out.set(w, at); at += w.length; }
  return out;
};

/** Replace every linear layer whose input width is a multiple of 32 by a 4-bit one. */
export function q4Hook(c: MiniMindConfig, params: Params, inner?: LinearHook): LinearHook {
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  return (g, x, name, plain, weight) => {
    if (inner) return inner(g, x, name, plain, weight);
    const q = q4Weight(shapes, params, [name]);
    return q ? q4Linear(g, x, q) : plain();
  };
}

/**
 * Weights as constants of the decode graph: ONNX Runtime then packs each MatMul's weight
 * once when the session starts (and a GPU provider keeps it in device memory), where a fed
 * weight is packed again on every run. Measured at v1-small: bench decode 110 -> 190
 * tokens/s, at ~2.3x the peak memory while the session starts.
 */
export function constWeightsHook(params: Params): LinearHook {
  return (g, x, name) => constProduct(g, x, params, [name]);
}

/** x times the weights `names` [out_i, in] side by side, as one constant [in, sum out_i]. */
function constProduct(g: Graph, x: Tensor, params: Params, names: string[]): Tensor {
  const inDim = x.shape[x.rank - 1] as number, ws = names.map((n) => params.get(n)!);
  const outDim = ws.reduce((a, w) => a + w.length / inDim, 0);
  // stored [in, out]: no Transpose for ONNX Runtime to fold into one more copy
  const wt = new Float32Array(inDim * outDim);
  let o0 = 0;
  for (const w of ws) {
    const n = w.length / inDim;
    for (let o = 0; o < n; o++) for (let i = 0; i < inDim; i++) wt[i * outDim + o0 + o] = w[o * inDim + i];
    o0 += n;
  }
  return g.matmul(x, g.constant(wt, 'float32', [inDim, outDim]));
}

/** q/k/v and gate/up as one product each, for the weight formats a decode graph makes constants (float32, q4). */
function fusedLinear(c: MiniMindConfig, params: Params, quantize: Quantize | undefined): FusedLinear {
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  return (g, x, names) => {
    const widths = names.map((n) => shapes.get(n)![0]);
    if (quantize === 'q4') {
      const q = q4Weight(shapes, params, names);
      return q ? g.split(q4Linear(g, x, q), -1, widths) : null;
    }
    return g.split(constProduct(g, x, params, names), -1, widths);
  };
}

/** The linear layers of a decode graph: 4-bit, the caller's hook (LoRA), or constant float32 weights. */
function decodeLinearHook(c: MiniMindConfig, params: Params, quantize: Quantize | undefined, hook?: DecodeHook): LinearHook {
  if (quantize === 'q4') return q4Hook(c, params, hook?.linearHook);
  return hook?.linearHook ?? constWeightsHook(params);
}

/** The window decode graph as openDecodeGraph runs it (weights that no hook turns into constants are inputs). */
export async function windowDecodeGraph(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize }, o: { allLogits?: boolean; hook?: DecodeHook } = {}): Promise<Graph> {
  return buildDecodeGraph(c, { allLogits: o.allLogits, ...o.hook, linearHook: decodeLinearHook(c, params, so.quantize, o.hook), target: targetFor(await resolveProvider(so.provider)),
    // a caller's hook (LoRA) sees each layer on its own
    fusedLinear: o.hook ? undefined : fusedLinear(c, params, so.quantize) });
}

/**
 * A window decode graph's session (buildDecodeGraph) and the weights it is fed: those no hook
 * turned into constants (LoRA's base weights, for example), wrapped once.
 */
export async function openDecodeGraph(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize }, o: { allLogits?: boolean; hook?: DecodeHook } = {}):
  Promise<{ session: Session; weights: Record<string, ort.Tensor> }> {
  const g = await windowDecodeGraph(c, params, so, o);
  const session = await createSession(g, so), weights: Record<string, ort.Tensor> = {};
  for (const t of g.inputs) { const a = params.get(t.name); if (a) weights[t.name] = new ort.Tensor('float32', a, t.shape as number[]); }
  return { session, weights };
}

export class DecodeRunner {
  private rope: RopeRows;
  /** attn_bias: causal among a run's new tokens (its RoPE tables are not the window graph's) */
  private positions: PositionInputs;
  private constructor(readonly c: MiniMindConfig, private session: Session, private weights: Record<string, ort.Tensor>) {
    this.rope = new RopeRows(c);
    this.positions = new PositionInputs(c);
  }

  /** allLogits: logits of every position ([T, V]) instead of the last one ([V]). */
  static async create(c: MiniMindConfig, params: Params, so: SessionOptions & { quantize?: Quantize } = {}, o: { allLogits?: boolean; hook?: DecodeHook } = {}): Promise<DecodeRunner> {
    const { session, weights } = await openDecodeGraph(c, params, so, o);
    return new DecodeRunner(c, session, weights);
  }

  /** A cache for one sequence. */
  emptyCache(): KvWindow {
    const w = new KvWindow(this.c);
    w.addRow();
    return w;
  }

  /** Logits after feeding `ids` on top of the cache; the cache is advanced. */
  async run(ids: number[], cache: KvWindow): Promise<Float32Array> {
    const past = cache.length(0), T = ids.length;
    cache.reserve(1, past + T);
    const feeds: Record<string, ort.Tensor> = { ...this.weights, ...cache.feeds(), ...this.rope.get([past], T),
      attn_bias: KvWindow.newTokenBias(this.c, this.positions.get(T).attn_bias.data as Float32Array, 1, T),
      input_ids: int64Tensor(BigInt64Array.from(ids, BigInt), [1, T]) };
    const out = await this.session.run(feeds);
    cache.append(0, out, 0, T, 0, T);
    return out.logits.data as Float32Array;
  }

  release(): Promise<void> { return this.session.release(); }
}
