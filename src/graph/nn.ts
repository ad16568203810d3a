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

/**
 * RMSNorm as one ONNX Runtime kernel (SimplifiedLayerNormalization, registered in the ONNX
 * domain by the CPU, CUDA and WebGPU providers), for graphs without a backward pass: a
 * decode step runs ~17 norms over a few rows each, where the 7 ops of rmsNorm cost more in
 * per-op overhead than in arithmetic.
 */
export function rmsNormKernel(g: Graph, x: Tensor, w: Tensor, eps: number): Tensor {
  return g.node('SimplifiedLayerNormalization', [x, w], [{ dtype: x.dtype, shape: x.shape }], { axis: { i: -1 }, epsilon: { f: eps } })[0];
}

/**
 * rmsNormKernel(x + skip) as one kernel (com.microsoft SkipSimplifiedLayerNormalization: CPU,
 * CUDA and WebGPU), which also returns the sum: a residual add and the next norm in one op.
 * x and skip [B, T, d]. Returns [normalized, x + skip].
 */
export function skipRmsNormKernel(g: Graph, x: Tensor, skip: Tensor, w: Tensor, eps: number): [Tensor, Tensor] {
  const none = { dtype: x.dtype, shape: [], name: '' }; // the optional mean and inverse deviation
  const [y, , , sum] = g.node('SkipSimplifiedLayerNormalization', [x, skip, w],
    [{ dtype: x.dtype, shape: x.shape }, none, none, { dtype: x.dtype, shape: x.shape }], { epsilon: { f: eps } }, 'com.microsoft');
  return [y, sum];
}

/**
 * SwiGLU's activation silu(gate) * up, and with `down` given the down projection too.
 * Only gate and up are kept for the backward pass, which recomputes the sigmoid and the
 * activation: the FFN's [tokens, intermediate] tensors are the biggest ones a layer
 * stores after attention.
 */
export function swigluAct(g: Graph, gate: Tensor, up: Tensor, down?: Tensor): Tensor {
  const act = (b: Graph) => b.mul(b.mul(gate, b.sigmoid(gate)), up);
  const inputs = down ? [gate, up, down] : [gate, up];
  return g.group('SwiGLU', inputs, {}, () => ({ outputs: [down ? linear(g, act(g), down) : act(g)] }),
    ({ g: b, gradOut: [gy], need }) => {
      const s = b.sigmoid(gate), one = b.scalar(1, gate.dtype);
      let dact = gy!, dDown: Tensor | null = null;
      if (down) {
        const h = down.shape[1] as number, o = down.shape[0] as number;
        dact = b.matmul(gy!, down);
        if (need[2]) dDown = b.gemm(b.reshape(gy!, [-1, o]), b.reshape(b.mul(b.mul(gate, s), up), [-1, h]), true, false);
      }
      // d/dgate silu(gate) = s * (1 + gate * (1 - s))
      return [need[0] ? b.mul(b.mul(dact, up), b.mul(s, b.add(one, b.mul(gate, b.sub(one, s))))) : null,
        need[1] ? b.mul(dact, b.mul(gate, s)) : null, ...(down ? [dDown] : [])];
    })[0];
}

/**
 * Where labels equal ignoreIndex: `valid` is false, and `safe` (the labels with a trailing
 * axis, for gatherElements) reads 0 instead, so the gather stays in range.
 */
function maskedLabels(g: Graph, labels: Tensor, ignoreIndex: number): { valid: Tensor; safe: Tensor } {
  const valid = g.not(g.equal(labels, g.scalar(ignoreIndex, labels.dtype)));
  return { valid, safe: g.unsqueeze(g.where(valid, labels, g.scalar(0, labels.dtype)), [labels.rank]) };
}

/**
 * Mean token cross-entropy of logits [N, V] against labels [N] (int32 or int64; int32
 * runs on every provider), ignoring label -100. An all-ignored batch gives 0 rather than NaN.
 */
export function crossEntropy(g: Graph, logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1) throw new GraphError(`crossEntropy: expected logits [N, V] and labels [N], got ${logits} and ${labels}`);
  return g.group('CrossEntropy', [logits, labels], {}, () => {
    const logp = g.logSoftmax(logits, -1);
    const { valid, safe } = maskedLabels(g, labels, ignoreIndex);
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
 * Mean cross-entropy of the tied LM head, logits = h @ E^T, computed in blocks of the
 * sequence axis: h [B, T, d] with T static, E [V, d], labels [B, T]. Logits never exist
 * for the whole batch; the backward pass recomputes each block's. Same value and
 * gradients as crossEntropy(linear(h, E)).
 */
export function lmHeadCrossEntropy(g: Graph, h: Tensor, E: Tensor, labels: Tensor, chunks: number, ignoreIndex = -100): Tensor {
  const T = h.shape[1] as number, d = E.shape[1] as number;
  if (typeof h.shape[1] !== 'number' || T % chunks !== 0) throw new GraphError(`lmHeadCrossEntropy: sequence length ${h.shape[1]} is not static or not divisible by ${chunks}`);
  const Tc = T / chunks;
  const block = (b: Graph, i: number) => {
    const hc = b.reshape(chunks === 1 ? h : b.slice(h, 1, i * Tc, (i + 1) * Tc), [-1, d]);
    const yc = b.reshape(chunks === 1 ? labels : b.slice(labels, 1, i * Tc, (i + 1) * Tc), [-1]);
    const { valid, safe } = maskedLabels(b, yc, ignoreIndex);
    return { hc, valid, safe, mask: b.cast(valid, h.dtype) };
  };
  const blocks: ReturnType<typeof block>[] = [];
  const logits = (b: Graph, x: ReturnType<typeof block>) => b.matmul(x.hc, b.transpose(E, [1, 0]));
  let count: Tensor;
  return g.group('LMHeadCrossEntropy', [h, E, labels], {}, () => {
    let nll: Tensor | null = null, n: Tensor | null = null;
    for (let i = 0; i < chunks; i++) {
      const x = block(g, i);
      blocks.push(x);
      const picked = g.squeeze(g.gatherElements(g.logSoftmax(logits(g, x), -1), x.safe, 1), [1]);
      const s = g.reduceSum(g.mul(picked, x.mask), [0], false), c = g.reduceSum(x.mask, [0], false);
      nll = nll ? g.add(nll, s) : s;
      n = n ? g.add(n, c) : c;
    }
    count = g.max(n!, 1);
    return { outputs: [g.div(g.neg(nll!), count)] };
  }, ({ g: b, gradOut: [gy], need }) => {
    const dh: Tensor[] = [];
    let dE: Tensor | null = null;
    for (const x of blocks) {
      const w = b.unsqueeze(b.mul(x.mask, b.div(gy!, count)), [1]);
      const d = b.scatterElements(b.mul(b.softmax(logits(b, x), -1), w), x.safe, b.neg(w), 1, 'add'); // (softmax - onehot) * w
      if (need[0]) dh.push(b.matmul(d, E));
      if (need[1]) { const part = b.gemm(d, x.hc, true, false); dE = dE ? b.add(dE, part) : part; }
    }
    const dhAll = need[0] ? b.reshapeTo(dh.length === 1 ? dh[0] : b.concat(dh.map((t) => b.reshape(t, [-1, Tc, d])), 1), b.shapeOf(h), h.shape) : null;
    return [dhAll, dE, null];
  })[0];
}

/**
 * log(1 + exp(x)) = logsumexp(0, x), computed stably as m + log(exp(-m) + exp(x - m)) with
 * m = relu(x). Its gradient is sigmoid(x) everywhere, x = 0 included: the terms of m's
 * derivative cancel whatever value Relu's gradient takes at 0 (the form relu(x) +
 * log(1 + exp(-|x|)) gave 0 there, so DPO's first step, where policy = reference, had
 * no gradient).
 */
export function softplus(g: Graph, x: Tensor): Tensor {
  const m = g.relu(x);
  return g.add(m, g.log(g.add(g.exp(g.neg(m)), g.exp(g.sub(x, m)))));
}

/**
 * log p(label) at every position: h [N, T, d], E [V, d], labels [N, T] (-100 = not
 * counted: 0 there). Returns [N, T].
 */
export function tokenLogProbs(g: Graph, h: Tensor, E: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const logp = g.logSoftmax(linear(g, h, E), -1);
  const { valid, safe } = maskedLabels(g, labels, ignoreIndex);
  return g.mul(g.squeeze(g.gatherElements(logp, safe, 2), [2]), g.cast(valid, h.dtype));
}

/** Sum over positions of log p(label) for each sequence (see tokenLogProbs). Returns [N]. */
export function sequenceLogProbs(g: Graph, h: Tensor, E: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  return g.reduceSum(tokenLogProbs(g, h, E, labels, ignoreIndex), [1], false);
}

/** 1 where a label counts (not ignoreIndex), else 0, in `dtype`. */
export function labelMask(g: Graph, labels: Tensor, dtype: Tensor['dtype'], ignoreIndex = -100): Tensor {
  return g.cast(maskedLabels(g, labels, ignoreIndex).valid, dtype);
}

/**
 * Sigmoid DPO loss over sequence log-probs laid out [chosen (B); rejected (B)] for the
 * policy and the frozen reference: -log sigmoid(beta * ((pc - rc) - (pr - rr))), averaged.
 * Also returns the implicit rewards beta*(policy - reference) of chosen and rejected.
 */
export function dpoLoss(g: Graph, policy: Tensor, reference: Tensor, beta: number): { loss: Tensor; chosen: Tensor; rejected: Tensor; z: Tensor } {
  const half = (t: Tensor, i: number) => g.squeeze(g.slice(g.reshape(t, [2, -1]), 0, i, i + 1), [0]);
  const chosen = g.mul(g.sub(half(policy, 0), half(reference, 0)), beta);
  const rejected = g.mul(g.sub(half(policy, 1), half(reference, 1)), beta);
  const z = g.sub(chosen, rejected);
  return { loss: g.reduceMean(softplus(g, g.neg(z)), [0], false), chosen, rejected, z };
}

/**
 * Rotary embedding, rotate-half convention (Hugging Face Llama / MiniMind):
 * y = x * cos + rotate_half(x) * sin, with x [B, T, H, hd] and cos, sin [T, hd].
 */
export function rope(g: Graph, x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const hd = x.shape[3] as number;
  // tables [T, hd], or [B, T, hd] with positions per row: a heads axis before the last
  const c = g.unsqueeze(cos, [cos.rank - 1]), s = g.unsqueeze(sin, [sin.rank - 1]);
  const [x1, x2] = g.split(x, 3, [hd / 2, hd / 2]);
  const rotated = g.concat([g.neg(x2), x1], 3);
  return g.add(g.mul(x, c), g.mul(rotated, s));
}

/**
 * rope() as ONNX Runtime's RotaryEmbedding kernel (com.microsoft; CPU, CUDA and WebGPU), for
 * graphs without a backward pass: x [B, T, heads*hd] (heads side by side, as a projection
 * gives them), positions [B, T] (int64) index the tables cos/sin [P, hd/2] (rope()'s tables
 * hold each half twice). One kernel where rope() is eight ops on a decode step's few rows.
 */
export function ropeKernel(g: Graph, x: Tensor, heads: number, positions: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return g.node('RotaryEmbedding', [x, positions, cos, sin], [{ dtype: x.dtype, shape: x.shape }],
    { interleaved: { i: 0 }, num_heads: { i: heads } }, 'com.microsoft')[0];
}

/**
 * Causal softmax attention with grouped-query heads, without copying k/v per head: the
 * `rep` query heads sharing a kv head are interleaved along the time axis (row t*rep+r).
 * q [B, T, H, hd], k and v [B, S, KV, hd]; bias [*, 1, T*rep, S] is added to the scores
 * (0 where allowed, a large negative number where masked; see causalBias).
 * With a static T == S and `chunks` > 1, query block i only meets keys up to its own
 * end: the masked upper blocks are never computed nor kept for the backward pass.
 * Returns [B, T, H*hd].
 */
export function attention(g: Graph, q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, chunks = 1): Tensor {
  const [, T, H, hd] = q.shape as [unknown, number | string, number, number];
  const KV = k.shape[2] as number;
  if (H % KV !== 0) throw new GraphError(`attention: ${H} query heads not divisible by ${KV} kv heads`);
  const rep = H / KV;
  let qg = g.reshape(q, [0, 0, KV, rep, hd]);                 // B,T,KV,rep,hd
  qg = g.transpose(qg, [0, 2, 1, 3, 4]);                       // B,KV,T,rep,hd
  qg = g.mul(g.reshape(qg, [0, 0, -1, hd]), 1 / Math.sqrt(hd)); // B,KV,T*rep,hd, pre-scaled
  const kt = g.transpose(k, [0, 2, 3, 1]);                     // B,KV,hd,S
  const vt = g.transpose(v, [0, 2, 1, 3]);                     // B,KV,S,hd
  const canChunk = chunks > 1 && typeof T === 'number' && T === k.shape[1] && T % chunks === 0 && bias !== null;
  let o = attentionCore(g, qg, kt, vt, bias, canChunk ? chunks : 1, rep); // B,KV,T*rep,hd
  o = g.reshape(o, [0, 0, -1, rep, hd]);                       // B,KV,T,rep,hd
  o = g.transpose(o, [0, 2, 1, 3, 4]);                         // B,T,KV,rep,hd
  return g.reshape(o, [0, 0, -1]);                             // B,T,H*hd
}

/**
 * Decoding attention over a KV window that the caller owns and updates: the cached keys
 * and values, pastK and pastV [B, 1, KV, M, hd], in M slots of which each row uses its
 * first few (pastBias [B, 1, 1, 1, M]: 0 for a used slot, a large negative number
 * otherwise). This run's q [B, T, H*hd] and new k, v [B, T, KV*hd] (as their projections
 * give them) meet the window and each other (newBias [*, T, 1, rep, T], causal).
 * Queries stay in their projection's layout [B, T, KV, rep, hd] and the products broadcast
 * the window over T, so neither the queries nor the result are transposed; nothing
 * cache-sized is copied: the scores against the window and against the new block are
 * separate products (ONNX Runtime's CPU provider folds the keys' transpose into the
 * product), and one softmax spans both (split back by `widths`, see windowWidths).
 * Returns [B, T, H*hd].
 */
export function windowAttention(g: Graph, q: Tensor, k: Tensor, v: Tensor, pastK: Tensor, pastV: Tensor, pastBias: Tensor, newBias: Tensor,
  widths: Tensor): Tensor {
  const [, , KV, , hd] = pastK.shape as [unknown, unknown, number, unknown, number];
  const rep = (q.shape[2] as number) / (KV * hd);
  const qg = g.mul(g.reshape(q, [0, 0, KV, rep, hd]), 1 / Math.sqrt(hd));     // B,T,KV,rep,hd
  const heads = (t: Tensor) => g.reshape(t, [0, 0, 1, KV, hd]);             // B,T,1,KV,hd
  const sPast = g.add(g.matmul(qg, g.transpose(pastK, [0, 1, 2, 4, 3])), pastBias); // B,T,KV,rep,M
  const sNew = g.add(g.matmul(qg, g.transpose(heads(k), [0, 2, 3, 4, 1])), newBias); // B,T,KV,rep,T
  const p = g.softmax(g.concat([sPast, sNew], 4), -1);
  const [pPast, pNew] = g.node('Split', [p, widths],
    [{ dtype: p.dtype, shape: sPast.shape }, { dtype: p.dtype, shape: sNew.shape }], { axis: { i: 4 } });
  const o = g.add(g.matmul(pPast, pastV), g.matmul(pNew, g.transpose(heads(v), [0, 2, 3, 1, 4]))); // B,T,KV,rep,hd
  return g.reshape(o, [0, 0, -1]);
}

/** [M, T]: the window's slots (from past_bias [B, 1, 1, 1, M]) and the new tokens (k [B, T, KV*hd]), as windowAttention splits its scores; one per graph serves every layer. */
export function windowWidths(g: Graph, pastBias: Tensor, k: Tensor): Tensor {
  return g.concat([g.slice(g.shapeOf(pastBias), 0, 4, 5), g.slice(g.shapeOf(k), 0, 1, 2)], 0);
}

/**
 * softmax(q k^T + bias) v per query block. The backward pass recomputes each block's
 * probabilities instead of keeping them: they are the largest activations of the model
 * (B*H*T*S floats a layer), and recomputing costs one extra product per block.
 * qg [B,KV,R,hd] (pre-scaled), kt [B,KV,hd,S], vt [B,KV,S,hd], bias [*,1,R,S].
 */
function attentionCore(g: Graph, qg: Tensor, kt: Tensor, vt: Tensor, bias: Tensor | null, chunks: number, rep: number): Tensor {
  const S = kt.shape[3];
  // block i: its query rows and the keys it can see
  const blocks = Array.from({ length: chunks }, (_, i) => {
    if (chunks === 1) return null;
    const Tc = (S as number) / chunks;
    return { r0: i * Tc * rep, r1: (i + 1) * Tc * rep, keys: (i + 1) * Tc, last: i === chunks - 1 };
  });
  const pieces = (b: Graph, blk: typeof blocks[number]) => {
    if (!blk) return { qs: qg, ks: kt, vs: vt, bs: bias };
    return {
      qs: b.slice(qg, 2, blk.r0, blk.r1),
      ks: blk.last ? kt : b.slice(kt, 3, 0, blk.keys),
      vs: blk.last ? vt : b.slice(vt, 2, 0, blk.keys),
      bs: b.slice(blk.last ? bias! : b.slice(bias!, 3, 0, blk.keys), 2, blk.r0, blk.r1),
    };
  };
  const probs = (b: Graph, x: ReturnType<typeof pieces>) => {
    let scores = b.matmul(x.qs, x.ks);
    if (x.bs) scores = b.add(scores, x.bs);
    return b.softmax(scores, -1);
  };
  const inputs = bias ? [qg, kt, vt, bias] : [qg, kt, vt];
  const sliced: ReturnType<typeof pieces>[] = []; // the forward's block slices, reused by the backward
  const outs: Tensor[] = [];
  return g.group('Attention', inputs, {}, () => {
    for (const blk of blocks) { const x = pieces(g, blk); sliced.push(x); outs.push(g.matmul(probs(g, x), x.vs)); }
    return { outputs: [outs.length === 1 ? outs[0] : g.concat(outs, 2)] };
  }, ({ g: b, gradOut: [gy], need }) => {
    const swap = (t: Tensor) => b.transpose(t, [0, 1, 3, 2]);
    const padTo = (t: Tensor, axis: number, blk: typeof blocks[number]) => (!blk || blk.last ? t
      : b.node('Pad', [t, b.ints(new Array(t.rank).fill(0).concat(t.shape.map((_, i) => (i === axis ? (S as number) - blk.keys : 0))))],
        [{ dtype: t.dtype, shape: t.shape.map((d, i) => (i === axis ? S : d)) }])[0]);
    const dq: Tensor[] = [];
    let dkt: Tensor | null = null, dvt: Tensor | null = null;
    for (const [i, blk] of blocks.entries()) {
      const x = sliced[i];
      const p = probs(b, x);                                     // recomputed
      const dout = blk ? b.slice(gy!, 2, blk.r0, blk.r1) : gy!;
      const dvi = padTo(b.matmul(swap(p), dout), 2, blk);        // B,KV,S,hd
      const dp = b.matmul(dout, swap(x.vs));
      // softmax backward: rowsum(dp * p) equals rowsum(dout * out), a sum over the head
      // dimension instead of over all keys
      const ds = b.mul(p, b.sub(dp, b.reduceSum(b.mul(dout, outs[i]), [-1], true)));
      dq.push(b.matmul(ds, swap(x.ks)));
      const dki = padTo(b.matmul(swap(x.qs), ds), 3, blk);       // B,KV,hd,S
      dkt = dkt ? b.add(dkt, dki) : dki;
      dvt = dvt ? b.add(dvt, dvi) : dvi;
    }
    return [need[0] ? (dq.length === 1 ? dq[0] : b.concat(dq, 2)) : null, need[1] ? dkt : null, need[2] ? dvt : null, null];
  })[0];
}

/**
 * Additive causal bias [T*rep, S] (row t*rep+r) for queries at positions past..past+T-1
 * over S keys.
 */
export function causalBias(rep: number, T: number, S: number, past = S - T, masked = -1e9): Float32Array {
  const out = new Float32Array(rep * T * S);
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < rep; r++) {
      const row = (t * rep + r) * S;
      for (let s = past + t + 1; s < S; s++) out[row + s] = masked;
    }
  }
  return out;
}

/** RoPE tables [T, hd] for positions start..start+T-1 (MiniMind's precompute_freqs_cis). */
/** RoPE inverse frequencies base^(-2i/d) as PyTorch computes them in float32. */
export function ropeFrequencies(headDim: number, theta: number): Float32Array {
  const f = new Float32Array(headDim / 2);
  for (let i = 0; i < f.length; i++) f[i] = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  return f;
}

/** cos/sin tables [T, headDim] (halves repeated, rotate-half layout) for positions start..start+T-1. */
export function ropeTables(headDim: number, start: number, T: number, theta: number | Float32Array, scale = 1): { cos: Float32Array; sin: Float32Array } {
  const freqs = typeof theta === 'number' ? ropeFrequencies(headDim, theta) : theta;
  const half = headDim / 2;
  const cos = new Float32Array(T * headDim), sin = new Float32Array(T * headDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = Math.fround((start + t) * freqs[i]);
      cos[t * headDim + i] = cos[t * headDim + i + half] = Math.fround(Math.cos(a)) * scale;
      sin[t * headDim + i] = sin[t * headDim + i + half] = Math.fround(Math.sin(a)) * scale;
    }
  }
  return { cos, sin };
}
