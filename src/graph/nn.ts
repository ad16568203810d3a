// Neural-network building blocks. Those whose backward pass is cheaper derived by hand
// than by chaining primitive rules are groups with their own vector-Jacobian rule.
import { reduceTo } from './autodiff.js';
import { Graph, GraphError, Tensor } from './graph.js';

/** y = x @ W^T with W stored [out, in] as Hugging Face does. */
export function linear(g: Graph, x: Tensor, w: Tensor): Tensor {
  if (w.rank !== 2) throw new GraphError(`linear: weight ${w} must be 2-D [out, in]`);
  const inDim = w.shape[1], outDim = w.shape[0];
  if (x.shape[x.rank - 1] !== inDim) throw new GraphError(`linear: input ${x} does not match weight ${w} (expected last dim ${inDim})`);
  return g.group('Linear', [x, w], {}, () => ({ outputs: [g.matmul(x, g.transpose(w, [1, 0]))] }),
    ({ g: b, gradOut: [gy], need }) => [
      need[0] ? b.matmul(gy!, w) : null,
      need[1] ? b.gemm(b.reshape(gy!, [-1, outDim as number]), b.reshape(x, [-1, inDim as number]), true, false) : null,
    ])[0];
}

/** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * w. */
export function rmsNorm(g: Graph, x: Tensor, w: Tensor, eps: number): Tensor {
  return g.group('RMSNorm', [x, w], {}, () => {
    const r = g.reciprocal(g.sqrt(g.add(g.reduceMean(g.mul(x, x), [-1], true), eps)));
    const xhat = g.mul(x, r);
    return { outputs: [g.mul(xhat, w)], saved: { r, xhat } };
  }, ({ g: b, gradOut: [gy], need, saved: { r, xhat } }) => {
    let gx: Tensor | null = null;
    if (need[0]) {
      const gxhat = b.mul(gy!, w);
      gx = b.mul(r, b.sub(gxhat, b.mul(xhat, b.reduceMean(b.mul(gxhat, xhat), [-1], true))));
    }
    return [gx, need[1] ? reduceTo(b, b.mul(gy!, xhat), w.shape) : null];
  })[0];
}

/** x * sigmoid(x). */
export function silu(g: Graph, x: Tensor): Tensor {
  return g.group('SiLU', [x], {}, () => {
    const s = g.sigmoid(x);
    return { outputs: [g.mul(x, s)], saved: { s } };
  }, ({ g: b, gradOut: [gy], saved: { s } }) => {
    // d/dx x*s = s * (1 + x * (1 - s))
    const one = b.scalar(1, x.dtype);
    return [b.mul(gy!, b.mul(s, b.add(one, b.mul(x, b.sub(one, s)))))];
  })[0];
}

/**
 * Mean token cross-entropy of logits [N, V] against labels [N] (int64), ignoring
 * label -100. An all-ignored batch gives 0 rather than NaN.
 */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1) throw new GraphError(`crossEntropy: expected logits [N, V] and labels [N], got ${logits} and ${labels}`);
  return g.group('CrossEntropy', [logits, labels], {}, () => {
    const logp = g.logSoftmax(logits, -1);
    const valid = g.not(g.equal(labels, g.scalar(ignoreIndex, 'int64')));
    const safe = g.unsqueeze(g.where(valid, labels, g.scalar(0, 'int64')), [1]);
    const picked = g.squeeze(g.gatherElements(logp, safe, 1), [1]);
    const mask = g.cast(valid, logits.dtype);
    const count = g.max(g.reduceSum(mask, [0], false), 1);
    const loss = g.div(g.neg(g.reduceSum(g.mul(picked, mask), [0], false)), count);
    return { outputs: [loss], saved: { logp, safe, mask, count } };
  }, ({ g: b, gradOut: [gy], saved: { logp, safe, mask, count } }) => {
    // d loss / d logits = (softmax - onehot(label)) * mask / count
    const w = b.unsqueeze(b.mul(mask, b.div(gy!, count)), [1]);
    const p = b.mul(b.exp(logp), w);
    return [b.scatterElements(p, safe, b.neg(w), 1, 'add'), null];
  })[0];
}

/**
 * Rotary embedding, rotate-half convention (Hugging Face Llama / MiniMind):
 * y = x * cos + rotate_half(x) * sin, with x [B, T, H, hd] and cos, sin [T, hd].
 */
export function rope(g: Graph, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const hd = x.shape[3] as number;
  const c = g.unsqueeze(cos, [1]), s = g.unsqueeze(sin, [1]);
  const [x1, x2] = g.split(x, 3, [hd / 2, hd / 2]);
  const rotated = g.concat([g.neg(x2), x1], 3);
  return g.add(g.mul(x, c), g.mul(rotated, s));
}

/**
 * Causal softmax attention with grouped-query heads, without copying k/v per head:
 * the `rep` query heads that share a kv head are stacked along the time axis.
 * q [B, T, H, hd], k and v [B, S, KV, hd]; bias [rep*T, S] or [B, 1, rep*T, S] is added
 * to the scores (0 where allowed, a large negative number where masked).
 * Returns [B, T, H*hd].
 */
export function attention(g: Graph, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null): Tensor {
  const [, , H, hd] = q.shape as [unknown, unknown, number, number];
  const KV = k.shape[2] as number;
  if (H % KV !== 0) throw new GraphError(`attention: ${H} query heads not divisible by ${KV} kv heads`);
  const rep = H / KV;
  let qg = g.reshape(q, [0, 0, KV, rep, hd]);                 // B,T,KV,rep,hd
  qg = g.transpose(qg, [0, 2, 3, 1, 4]);                       // B,KV,rep,T,hd
  qg = g.reshape(qg, [0, 0, -1, hd]);                          // B,KV,rep*T,hd
  const kt = g.transpose(k, [0, 2, 3, 1]);                     // B,KV,hd,S
  let scores = g.mul(g.matmul(qg, kt), 1 / Math.sqrt(hd));     // B,KV,rep*T,S
  if (bias) scores = g.add(scores, bias);
  const p = g.softmax(scores, -1);
  const vt = g.transpose(v, [0, 2, 1, 3]);                     // B,KV,S,hd
  let o = g.matmul(p, vt);                                     // B,KV,rep*T,hd
  o = g.reshape(o, [0, 0, rep, -1, hd]);                       // B,KV,rep,T,hd
  o = g.transpose(o, [0, 3, 1, 2, 4]);                         // B,T,KV,rep,hd
  return g.reshape(o, [0, 0, -1]);                             // B,T,H*hd
}

/** Additive causal bias [rep*T, S] for queries at positions past..past+T-1 over S keys. */
export function causalBias(rep: number, T: number, S: number, past = S - T, masked = -1e9): Float32Array {
  const out = new Float32Array(rep * T * S);
  for (let r = 0; r < rep; r++) {
    for (let t = 0; t < T; t++) {
      const row = (r * T + t) * S;
      for (let s = past + t + 1; s < S; s++) out[row + s] = masked;
    }
  }
  return out;
}

/** RoPE tables [T, hd] for positions start..start+T-1 (MiniMind's precompute_freqs_cis). */
export function ropeTables(headDim: number, start: number, T: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(T * headDim), sin = new Float32Array(T * headDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const freq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
      const a = Math.fround((start + t) * freq);
      cos[t * headDim + i] = cos[t * headDim + i + half] = Math.cos(a);
      sin[t * headDim + i] = sin[t * headDim + i + half] = Math.sin(a);
    }
  }
  return { cos, sin };
}
