// Reverse-mode autodiff: grad() appends vector-Jacobian nodes made of standard ONNX ops.
// Only nodes on a path from a `wrt` tensor to a loss are differentiated, so frozen
// parameters cost no backward work.
import { Dim } from './dims.js';
import { Graph, GraphError, Node, Tensor, Vjp, VjpContext } from './graph.js';

const FLOAT = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** Sum `g` over the axes that were broadcast so that it has `shape` again. */
export function reduceTo(g: Graph, x: Tensor, shape: Dim[]): Tensor {
  const lead = x.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && x.shape[i] !== 1) axes.push(i);
  }
  if (axes.length === 0) return x;
  let r = g.reduceSum(x, axes, true);
  if (lead > 0) r = g.squeeze(r, Array.from({ length: lead }, (_, i) => i));
  return r;
}

const intAttr = (ctx: VjpContext, k: string, dflt = 0): number => {
  const a = ctx.attrs[k] as { i: number } | undefined;
  return a ? a.i : dflt;
};
const constInts = (g: Graph, t: Tensor | null): number[] => {
  const init = t && g.initializers.find((i) => i.name === t.name);
  if (!init) throw new GraphError(`autodiff: expected a constant int tensor, got ${t}`);
  return Array.from(init.data as BigInt64Array, (v) => Number(v));
};
const swapLast2 = (g: Graph, t: Tensor): Tensor => {
  const perm = Array.from({ length: t.rank }, (_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return g.transpose(t, perm);
};

/** Vector-Jacobian rules of the primitive ops, keyed by ONNX op type. */
export const VJP: Record<string, Vjp> = {
  Identity: ({ gradOut: [gy] }) => [gy],
  Add: ({ g, inputs: [a, b], gradOut: [gy] }) => [reduceTo(g, gy!, a!.shape), reduceTo(g, gy!, b!.shape)],
  Sub: ({ g, inputs: [a, b], gradOut: [gy], need }) =>
    [reduceTo(g, gy!, a!.shape), need[1] ? reduceTo(g, g.neg(gy!), b!.shape) : null],
  Mul: ({ g, inputs: [a, b], gradOut: [gy], need }) =>
    [need[0] ? reduceTo(g, g.mul(gy!, b!), a!.shape) : null, need[1] ? reduceTo(g, g.mul(gy!, a!), b!.shape) : null],
  Div: ({ g, inputs: [a, b], outputs: [y], gradOut: [gy], need }) =>
    [need[0] ? reduceTo(g, g.div(gy!, b!), a!.shape) : null,
      need[1] ? reduceTo(g, g.neg(g.div(g.mul(gy!, y), b!)), b!.shape) : null],
  Pow: ({ g, inputs: [a, b], outputs: [y], gradOut: [gy], need }) =>
    [need[0] ? reduceTo(g, g.mul(gy!, g.mul(b!, g.pow(a!, g.sub(b!, 1)))), a!.shape) : null,
      need[1] ? reduceTo(g, g.mul(gy!, g.mul(y, g.log(a!))), b!.shape) : null],
  Neg: ({ g, gradOut: [gy] }) => [g.neg(gy!)],
  Exp: ({ g, outputs: [y], gradOut: [gy] }) => [g.mul(gy!, y)],
  Log: ({ g, inputs: [x], gradOut: [gy] }) => [g.div(gy!, x!)],
  Sqrt: ({ g, outputs: [y], gradOut: [gy] }) => [g.div(g.mul(gy!, 0.5), y)],
  Reciprocal: ({ g, outputs: [y], gradOut: [gy] }) => [g.neg(g.mul(gy!, g.mul(y, y)))],
  Sigmoid: ({ g, outputs: [y], gradOut: [gy] }) => [g.mul(gy!, g.mul(y, g.sub(g.scalar(1, y.dtype), y)))],
  Relu: ({ g, inputs: [x], gradOut: [gy] }) => [g.where(g.greater(x!, g.scalar(0, x!.dtype)), gy!, g.scalar(0, gy!.dtype))],
  // gy * sign(x) without Sign (no WebGPU kernel): 0 at x = 0 as Sign gives
  Abs: ({ g, inputs: [x], gradOut: [gy] }) => {
    const zero = g.scalar(0, x!.dtype);
    return [g.where(g.less(x!, zero), g.neg(gy!), g.where(g.greater(x!, zero), gy!, g.scalar(0, gy!.dtype)))];
  },
  Cast: ({ g, inputs: [x], gradOut: [gy] }) => [FLOAT.has(x!.dtype) ? g.cast(gy!, x!.dtype) : null],
  MatMul: ({ g, inputs: [a, b], gradOut: [gy], need }) => {
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (need[0]) ga = reduceTo(g, g.matmul(gy!, swapLast2(g, b!)), a!.shape);
    if (need[1]) {
      if (b!.rank === 2 && a!.rank > 2) { // weight shared over batch dims: one 2-D product
        const k = a!.shape[a!.rank - 1], n = gy!.shape[gy!.rank - 1];
        gb = g.gemm(g.reshape(a!, [-1, k as number]), g.reshape(gy!, [-1, n as number]), true, false);
      } else gb = reduceTo(g, g.matmul(swapLast2(g, a!), gy!), b!.shape);
    }
    return [ga, gb];
  },
  Gemm: (ctx) => {
    const { g, inputs: [a, b], gradOut: [gy], need } = ctx;
    const tA = intAttr(ctx, 'transA') === 1, tB = intAttr(ctx, 'transB') === 1;
    const alpha = (ctx.attrs.alpha as { f: number } | undefined)?.f ?? 1;
    let ga = need[0] ? (tA ? g.gemm(b!, gy!, tB, true, alpha) : g.gemm(gy!, b!, false, !tB, alpha)) : null;
    let gb = need[1] ? (tB ? g.gemm(gy!, a!, true, tA, alpha) : g.gemm(a!, gy!, !tA, false, alpha)) : null;
    return [ga, gb];
  },
  ReduceSum: (ctx) => {
    const { g, inputs: [x, axesT], gradOut: [gy] } = ctx;
    let t = gy!;
    if (intAttr(ctx, 'keepdims', 1) === 0) t = g.unsqueeze(t, constInts(g, axesT));
    return [g.expand(t, g.shapeOf(x!), x!.shape), null];
  },
  ReduceMean: (ctx) => {
    const { g, inputs: [x, axesT], gradOut: [gy] } = ctx;
    let t = gy!;
    if (intAttr(ctx, 'keepdims', 1) === 0) t = g.unsqueeze(t, constInts(g, axesT));
    return [g.expand(g.div(t, meanCount(g, x!, constInts(g, axesT))), g.shapeOf(x!), x!.shape), null];
  },
  ReduceMax: (ctx) => {
    const { g, inputs: [x, axesT], outputs: [y], gradOut: [gy] } = ctx;
    let t = gy!, yk = y;
    if (intAttr(ctx, 'keepdims', 1) === 0) {
      const axes = constInts(g, axesT);
      t = g.unsqueeze(t, axes);
      yk = g.unsqueeze(y, axes);
    }
    const zero = g.scalar(0, x!.dtype);
    return [g.where(g.equal(x!, yk), g.expand(t, g.shapeOf(x!), x!.shape), zero), null];
  },
  Softmax: (ctx) => {
    const { g, outputs: [y], gradOut: [gy] } = ctx;
    const axis = intAttr(ctx, 'axis', -1);
    return [g.mul(y, g.sub(gy!, g.reduceSum(g.mul(gy!, y), [axis], true)))];
  },
  Reshape: ({ g, inputs: [x], gradOut: [gy] }) => [g.reshapeTo(gy!, g.shapeOf(x!), x!.shape), null],
  Transpose: (ctx) => {
    const perm = (ctx.attrs.perm as { ints: number[] }).ints;
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [ctx.g.transpose(ctx.gradOut[0]!, inv)];
  },
  Unsqueeze: ({ g, inputs: [, axesT], gradOut: [gy] }) => [g.squeeze(gy!, constInts(g, axesT)), null],
  Squeeze: ({ g, inputs: [, axesT], gradOut: [gy] }) => [g.unsqueeze(gy!, constInts(g, axesT)), null],
  Expand: ({ g, inputs: [x], gradOut: [gy] }) => [reduceTo(g, gy!, x!.shape), null],
  Where: ({ g, inputs: [c, a, b], gradOut: [gy], need }) => {
    const zero = g.scalar(0, gy!.dtype);
    return [null, need[1] ? reduceTo(g, g.where(c!, gy!, zero), a!.shape) : null,
      need[2] ? reduceTo(g, g.where(c!, zero, gy!), b!.shape) : null];
  },
  Concat: (ctx) => {
    const { g, inputs, gradOut: [gy] } = ctx;
    const axis = intAttr(ctx, 'axis');
    const sizes = inputs.map((t) => t!.shape[axis]);
    if (!sizes.every((s) => typeof s === 'number')) throw new GraphError('autodiff: Concat over a symbolic axis is not differentiable here');
    return g.split(gy!, axis, sizes as number[]);
  },
  Split: (ctx) => {
    const { g, outputs, gradOut } = ctx;
    const parts = outputs.map((y, i) => gradOut[i] ?? g.zeros(g.shapeOf(y), y.shape, y.dtype));
    return [g.concat(parts, intAttr(ctx, 'axis')), null];
  },
  Slice: ({ g, inputs: [x, starts, ends, axesT], gradOut: [gy] }) => {
    const [s] = constInts(g, starts), [e] = constInts(g, ends), [a] = constInts(g, axesT);
    const d = x!.shape[a];
    if (typeof d !== 'number') throw new GraphError('autodiff: Slice over a symbolic axis is not differentiable here');
    const lo = Math.max(0, Math.min(d, s < 0 ? s + d : s)), hi = Math.max(0, Math.min(d, e < 0 ? e + d : e));
    const pads = new Array(2 * x!.rank).fill(0);
    pads[a] = lo;
    pads[x!.rank + a] = d - hi;
    return [g.node('Pad', [gy!, g.ints(pads)], [{ dtype: gy!.dtype, shape: x!.shape }])[0], null, null, null];
  },
  Gather: (ctx) => {
    const { g, inputs: [data, idx], gradOut: [gy] } = ctx;
    if (intAttr(ctx, 'axis') !== 0) throw new GraphError('autodiff: Gather is differentiable on axis 0 only');
    if (g.gatherGradAsProduct && data!.rank === 2 && typeof data!.shape[0] === 'number' && typeof data!.shape[1] === 'number') {
      const [V, R] = data!.shape as number[];
      const rows = g.constant(Array.from({ length: V }, (_, v) => v), idx!.dtype, [1, V]);
      const oneHot = g.cast(g.equal(g.reshape(idx!, [-1, 1]), rows), data!.dtype); // N, V
      return [g.gemm(oneHot, g.reshape(gy!, [-1, R]), true, false), null];
    }
    const zeros = g.zeros(g.shapeOf(data!), data!.shape, data!.dtype);
    if (idx!.dtype === 'int64') return [g.scatterND(zeros, g.unsqueeze(idx!, [-1]), gy!, 'add'), null];
    // int32 indices (token ids on WebGPU, which has no int64 Unsqueeze nor Cast to
    // ScatterND's int64): ScatterElements over rows [V, R], each index repeated R times
    const rest = data!.shape.slice(1);
    if (!rest.every((d) => typeof d === 'number')) throw new GraphError('autodiff: Gather with int32 indices needs static row dims');
    const R = (rest as number[]).reduce((p, d) => p * d, 1);
    const rows = g.expand(g.reshape(idx!, [-1, 1]), g.ints([1, R]), [1, R]);
    const flat = g.scatterElements(data!.rank === 2 ? zeros : g.reshape(zeros, [0, R]), rows, g.reshape(gy!, [-1, R]), 0, 'add');
    return [data!.rank === 2 ? flat : g.reshapeTo(flat, g.shapeOf(data!), data!.shape), null];
  },
  GatherElements: (ctx) => {
    const { g, inputs: [data, idx], gradOut: [gy] } = ctx;
    const zeros = g.zeros(g.shapeOf(data!), data!.shape, data!.dtype);
    return [g.scatterElements(zeros, idx!, gy!, intAttr(ctx, 'axis'), 'add'), null];
  },
  GatherND: ({ g, inputs: [data, idx], gradOut: [gy] }) =>
    [g.scatterND(g.zeros(g.shapeOf(data!), data!.shape, data!.dtype), idx!, gy!, 'add'), null],
  ScatterND: (ctx) => {
    const { g, inputs: [, idx], gradOut: [gy], need } = ctx;
    if ((ctx.attrs.reduction as { s: string } | undefined)?.s !== 'add') throw new GraphError('autodiff: only ScatterND with reduction "add" is differentiable');
    return [need[0] ? gy : null, null, need[2] ? g.gatherND(gy!, idx!) : null];
  },
  TopK: (ctx) => {
    const { g, inputs: [x], outputs: [, idx], gradOut: [gv] } = ctx;
    const zeros = g.zeros(g.shapeOf(x!), x!.shape, x!.dtype);
    return [g.scatterElements(zeros, idx, gv!, intAttr(ctx, 'axis', -1), 'add'), null];
  },
};

/**
 * How many elements ReduceMean averaged over, with the reduced axes kept: a constant when
 * their dims are static, else a ReduceSum of ones shaped like x (Size and int64 Cast have
 * no WebGPU kernel).
 */
function meanCount(g: Graph, x: Tensor, axes: number[]): Tensor {
  const ax = axes.map((a) => (a < 0 ? a + x.rank : a));
  const dims = ax.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) return g.scalar((dims as number[]).reduce((p, d) => p * d, 1), x.dtype);
  const ones = g.expand(g.scalar(1, x.dtype), g.shapeOf(x), x.shape);
  return g.reduceSum(ones, ax, true);
}

interface Unit { inputs: (Tensor | null)[]; outputs: Tensor[]; ctxBase: Omit<VjpContext, 'g' | 'gradOut' | 'need'>; vjp: Vjp; op: string }

function units(nodes: Node[]): Unit[] {
  const out: Unit[] = [];
  const seen = new Set<object>();
  for (const n of nodes) {
    if (n.group) {
      if (seen.has(n.group)) continue;
      seen.add(n.group);
      const grp = n.group;
      out.push({ op: grp.op, inputs: grp.inputs, outputs: grp.outputs, vjp: grp.vjp,
        ctxBase: { inputs: grp.inputs, outputs: grp.outputs, attrs: grp.attrs, saved: grp.saved } });
    } else {
      out.push({ op: n.op, inputs: n.inputs, outputs: n.outputs, vjp: VJP[n.op],
        ctxBase: { inputs: n.inputs, outputs: n.outputs, attrs: n.attrs, saved: {} } });
    }
  }
  return out;
}

/**
 * Append the backward pass of sum(weight_i * loss_i) and return d/d(wrt) for each wrt
 * tensor (null where the loss does not depend on it). Losses must be scalars.
 */
export function grad(g: Graph, losses: Tensor[] | { loss: Tensor; weight: number }[], wrt: Tensor[]): Map<Tensor, Tensor | null> {
  const terms = losses.map((l) => (l instanceof Tensor ? { loss: l, weight: 1 } : l));
  for (const { loss } of terms) if (loss.rank !== 0) throw new GraphError(`grad: loss ${loss} must be a scalar`);
  const forward = units(g.nodes);

  // Which float tensors depend on a wrt tensor (only those need gradients; integer and
  // bool tensors such as routing decisions carry none).
  const live = new Set<string>(wrt.map((t) => t.name));
  for (const u of forward) {
    if (u.inputs.some((t) => t && live.has(t.name))) for (const o of u.outputs) if (FLOAT.has(o.dtype)) live.add(o.name);
  }

  const contrib = new Map<string, Tensor[]>();
  const push = (t: Tensor, gt: Tensor) => { const l = contrib.get(t.name); if (l) l.push(gt); else contrib.set(t.name, [gt]); };
  const total = (t: Tensor): Tensor | null => {
    const l = contrib.get(t.name);
    if (!l || l.length === 0) return null;
    if (l.length > 1) contrib.set(t.name, [l.reduce((a, b) => g.add(a, b))]);
    return contrib.get(t.name)![0];
  };

  return g.scope('grad', () => {
    for (const { loss, weight } of terms) push(loss, g.scalar(weight, loss.dtype));
    for (let i = forward.length - 1; i >= 0; i--) {
      const u = forward[i];
      if (!u.outputs.some((o) => live.has(o.name) && contrib.has(o.name))) continue;
      const need = u.inputs.map((t) => !!t && live.has(t.name) && FLOAT.has(t.dtype));
      if (!need.some(Boolean)) continue;
      const gradOut = u.outputs.map((o) => (FLOAT.has(o.dtype) ? total(o) : null));
      if (!gradOut.some(Boolean)) continue;
      if (!u.vjp) throw new GraphError(`autodiff: no gradient rule for op ${u.op}`);
      const gin = u.vjp({ g, ...u.ctxBase, gradOut, need });
      u.inputs.forEach((t, k) => { if (t && need[k] && gin[k]) push(t, gin[k]!); });
    }
    const res = new Map<Tensor, Tensor | null>();
    for (const w of wrt) res.set(w, total(w));
    return res;
  });
}
