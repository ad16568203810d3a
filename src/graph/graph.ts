// A small symbolic graph builder over standard ONNX ops. Each op method checks shapes at
// build time and throws a GraphError naming the op and the shapes, so mistakes never
// surface later as a cryptic ONNX Runtime error.
import { Dim, divDims, isUnknown, mulDims, prodDims, sameDim, shapeStr } from './dims.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool' | 'uint8';
/** What MatMul and Gemm compute in under mixed precision. */
export type HalfType = 'float16' | 'bfloat16';
export type FloatType = 'float32' | 'float64';

export interface TensorValue { dtype: DType; dims: number[]; data: ArrayLike<number> | BigInt64Array }
export type Attr =
  | { i: number } | { f: number } | { s: string } | { ints: number[] } | { floats: number[] } | { t: TensorValue };

export class GraphError extends Error {}

export class Tensor {
  constructor(readonly name: string, readonly dtype: DType, readonly shape: Dim[]) {}
  get rank(): number { return this.shape.length; }
  toString(): string { return `${this.name}:${this.dtype}${shapeStr(this.shape)}`; }
}

export interface Node {
  op: string;
  domain?: string;
  inputs: (Tensor | null)[];
  outputs: Tensor[];
  attrs: Record<string, Attr>;
  group?: Group;
}

/** Context handed to a vector-Jacobian rule. */
export interface VjpContext {
  g: Graph;
  inputs: (Tensor | null)[];
  outputs: Tensor[];
  attrs: Record<string, Attr>;
  /** gradient of the loss w.r.t. each output (null: output does not reach the loss) */
  gradOut: (Tensor | null)[];
  /** whether each input needs a gradient */
  need: boolean[];
  /** values the forward pass stashed for the backward pass (groups only) */
  saved: Record<string, Tensor>;
}
export type Vjp = (ctx: VjpContext) => (Tensor | null)[];

/** Several nodes differentiated as one unit by a hand-derived rule. */
export interface Group {
  op: string;
  inputs: Tensor[];
  outputs: Tensor[];
  attrs: Record<string, Attr>;
  saved: Record<string, Tensor>;
  vjp: Vjp;
  nodes: Node[];
}

export interface Initializer extends TensorValue { name: string }

function fail(op: string, msg: string, ts: (Tensor | null)[] = []): never {
  const shapes = ts.filter((t): t is Tensor => t !== null).map((t) => t.toString()).join(', ');
  throw new GraphError(`${op}: ${msg}${shapes ? ` (inputs ${shapes})` : ''}`);
}

export function broadcastShapes(op: string, ...ts: Tensor[]): Dim[] {
  const rank = Math.max(...ts.map((t) => t.rank));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const t of ts) {
      const k = i - (rank - t.rank);
      if (k < 0) continue;
      const e = t.shape[k];
      if (e === 1) continue;
      if (d === 1 || (isUnknown(d) && !isUnknown(e))) d = e;
      else if (isUnknown(e)) continue;
      else if (!sameDim(d, e)) fail(op, `shapes do not broadcast at axis ${i} (${d} vs ${e})`, ts);
    }
    out.push(d);
  }
  return out;
}

const normAxis = (op: string, axis: number, rank: number, t?: Tensor): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(op, `axis ${axis} out of range for rank ${rank}`, t ? [t] : []);
  return a;
};

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers: Initializer[] = [];
  private counter = 0;
  private prefix: string[] = [];
  private openGroups: Group[] = [];
  private constCache = new Map<string, Tensor>();

  /**
   * Mixed precision: MatMul and Gemm of floatType inputs compute in this type (their
   * inputs cast to it, the product cast back), as torch.autocast does; everything else,
   * weights and their gradients included, stays in floatType.
   */
  matmulType: HalfType | null = null;

  /**
   * Gather's gradient (the embedding's) as a product with a one-hot matrix instead of a
   * scatter-add: GPU scatter-adds sum colliding rows (a token seen twice) with atomics in
   * whatever order the threads arrive, so the bits change from run to run; the product sums
   * in a fixed order. It costs vocab x tokens x width multiply-adds, as the LM head's own
   * gradient does.
   */
  gatherGradAsProduct = false;

  constructor(readonly floatType: FloatType = 'float32') {}

  // ---------------------------------------------------------------- structure
  fresh(hint = 't'): string {
    if (hint.startsWith('?')) return `${hint}_${this.counter++}`; // unknown dims keep their marker first
    return `${this.prefix.length ? this.prefix.join('/') + '/' : ''}${hint}_${this.counter++}`;
  }

  scope<T>(name: string, fn: () => T): T {
    this.prefix.push(name);
    try { return fn(); } finally { this.prefix.pop(); }
  }

  input(name: string, dtype: DType, shape: Dim[]): Tensor {
    if (this.inputs.some((t) => t.name === name)) throw new GraphError(`duplicate graph input "${name}"`);
    const t = new Tensor(name, dtype, shape);
    this.inputs.push(t);
    return t;
  }

  output(t: Tensor, name?: string): Tensor {
    let out = t;
    if (name && name !== t.name) {
      // give the producing node's output the name itself where nothing else depends on the
      // old one: an Identity would copy it on every run (a decode step's whole KV cache)
      const produced = this.nodes.some((n) => n.outputs.includes(t));
      if (produced && !this.outputs.includes(t) && !this.nameTaken(name)) (t as { name: string }).name = name;
      else out = this.identity(t, name);
    }
    if (this.outputs.some((o) => o.name === out.name)) throw new GraphError(`duplicate graph output "${out.name}"`);
    this.outputs.push(out);
    return out;
  }

  private nameTaken(name: string): boolean {
    return this.inputs.some((t) => t.name === name) || this.initializers.some((t) => t.name === name)
      || this.nodes.some((n) => n.outputs.some((t) => t.name === name));
  }

  /** Low-level: append a node whose output types the caller has inferred. */
  node(op: string, inputs: (Tensor | null)[], outs: { dtype: DType; shape: Dim[]; name?: string }[],
    attrs: Record<string, Attr> = {}, domain?: string): Tensor[] {
    const outputs = outs.map((o) => new Tensor(o.name ?? this.fresh(op.toLowerCase()), o.dtype, o.shape));
    const n: Node = { op, inputs, outputs, attrs, domain };
    this.nodes.push(n);
    for (const grp of this.openGroups) grp.nodes.push(n);
    return outputs;
  }

  /**
   * Emit nodes with `body` and differentiate them as one unit with `vjp`.
   * body receives the inputs and returns the outputs plus tensors the vjp needs.
   */
  group(op: string, inputs: Tensor[], attrs: Record<string, Attr>,
    body: () => { outputs: Tensor[]; saved?: Record<string, Tensor> }, vjp: Vjp): Tensor[] {
    const grp: Group = { op, inputs, outputs: [], attrs, saved: {}, vjp, nodes: [] };
    this.openGroups.push(grp);
    let res;
    try { res = body(); } finally { this.openGroups.pop(); }
    grp.outputs = res.outputs;
    grp.saved = res.saved ?? {};
    for (const n of grp.nodes) n.group = grp; // the outermost group owns nested groups' nodes
    return res.outputs;
  }

  // ---------------------------------------------------------------- constants
  constant(data: number[] | Float32Array | Float64Array | BigInt64Array, dtype: DType, dims: number[]): Tensor {
    const small = (data as ArrayLike<number>).length <= 16; // only small constants are shared
    const key = small ? `${dtype}|${dims.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}` : '';
    if (small && this.constCache.has(key)) return this.constCache.get(key)!;
    const name = this.fresh('const');
    const arr: ArrayLike<number> | BigInt64Array = dtype === 'int64'
      ? (data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data as ArrayLike<number>), (v) => BigInt(v)))
      : data as ArrayLike<number>;
    this.initializers.push({ name, dtype, dims, data: arr });
    const t = new Tensor(name, dtype, dims);
    if (small) this.constCache.set(key, t);
    return t;
  }

  scalar(v: number, dtype: DType = this.floatType): Tensor { return this.constant([v], dtype, []); }
  ints(v: number[]): Tensor { return this.constant(v, 'int64', [v.length]); }

  // ---------------------------------------------------------------- elementwise
  private binary(op: string, a: Tensor, b: Tensor, outType?: DType): Tensor {
    if (a.dtype !== b.dtype) fail(op, `dtype mismatch ${a.dtype} vs ${b.dtype}`, [a, b]);
    return this.node(op, [a, b], [{ dtype: outType ?? a.dtype, shape: broadcastShapes(op, a, b) }])[0];
  }
  private unary(op: string, x: Tensor, attrs: Record<string, Attr> = {}): Tensor {
    return this.node(op, [x], [{ dtype: x.dtype, shape: x.shape }], attrs)[0];
  }
  private num(x: Tensor | number, like: Tensor): Tensor {
    return typeof x === 'number' ? this.scalar(x, like.dtype) : x;
  }

  add(a: Tensor, b: Tensor | number): Tensor { return this.binary('Add', a, this.num(b, a)); }
  sub(a: Tensor, b: Tensor | number): Tensor { return this.binary('Sub', a, this.num(b, a)); }
  mul(a: Tensor, b: Tensor | number): Tensor { return this.binary('Mul', a, this.num(b, a)); }
  div(a: Tensor, b: Tensor | number): Tensor { return this.binary('Div', a, this.num(b, a)); }
  pow(a: Tensor, b: Tensor | number): Tensor { return this.binary('Pow', a, this.num(b, a)); }
  /** max(a, b) as Where(a < b, b, a): ONNX Max has no WebGPU kernel; ties and NaN in b give a. */
  max(a: Tensor, b: Tensor | number): Tensor {
    const bt = this.num(b, a);
    return this.where(this.less(a, bt), bt, a);
  }
  equal(a: Tensor, b: Tensor | number): Tensor { return this.binary('Equal', a, this.num(b, a), 'bool'); }
  less(a: Tensor, b: Tensor | number): Tensor { return this.binary('Less', a, this.num(b, a), 'bool'); }
  greater(a: Tensor, b: Tensor | number): Tensor { return this.binary('Greater', a, this.num(b, a), 'bool'); }
  and(a: Tensor, b: Tensor): Tensor { return this.binary('And', a, b); }
  not(x: Tensor): Tensor { return this.unary('Not', x); }
  neg(x: Tensor): Tensor { return this.unary('Neg', x); }
  exp(x: Tensor): Tensor { return this.unary('Exp', x); }
  log(x: Tensor): Tensor { return this.unary('Log', x); }
  sqrt(x: Tensor): Tensor { return this.unary('Sqrt', x); }
  reciprocal(x: Tensor): Tensor { return this.unary('Reciprocal', x); }
  sigmoid(x: Tensor): Tensor { return this.unary('Sigmoid', x); }
  relu(x: Tensor): Tensor { return this.unary('Relu', x); }
  abs(x: Tensor): Tensor { return this.unary('Abs', x); }
  sign(x: Tensor): Tensor { return this.unary('Sign', x); }
  identity(x: Tensor, name?: string): Tensor {
    return this.node('Identity', [x], [{ dtype: x.dtype, shape: x.shape, name }])[0];
  }

  where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
    if (cond.dtype !== 'bool') fail('Where', 'condition must be bool', [cond]);
    if (a.dtype !== b.dtype) fail('Where', `dtype mismatch ${a.dtype} vs ${b.dtype}`, [a, b]);
    return this.node('Where', [cond, a, b], [{ dtype: a.dtype, shape: broadcastShapes('Where', cond, a, b) }])[0];
  }

  cast(x: Tensor, to: DType): Tensor {
    if (x.dtype === to) return x;
    return this.node('Cast', [x], [{ dtype: to, shape: x.shape }], { to: { i: onnxTypeCode(to) } })[0];
  }

  // ---------------------------------------------------------------- linear algebra
  matmul(a: Tensor, b: Tensor): Tensor {
    if (this.matmulType && a.dtype === this.floatType) return this.cast(this.matmul(this.cast(a, this.matmulType), this.cast(b, this.matmulType)), a.dtype);
    if (a.rank < 2 || b.rank < 2) fail('MatMul', 'inputs must have rank >= 2', [a, b]);
    if (a.dtype !== b.dtype) fail('MatMul', `dtype mismatch ${a.dtype} vs ${b.dtype}`, [a, b]);
    const k1 = a.shape[a.rank - 1], k2 = b.shape[b.rank - 2];
    if (!sameDim(k1, k2)) fail('MatMul', `inner dimensions differ (${k1} vs ${k2})`, [a, b]);
    const batch = broadcastShapes('MatMul', new Tensor('', a.dtype, a.shape.slice(0, -2)),
      new Tensor('', b.dtype, b.shape.slice(0, -2)));
    return this.node('MatMul', [a, b], [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }])[0];
  }

  /** 2-D general matrix product op(A) @ op(B) (ONNX Gemm, no bias). */
  gemm(a: Tensor, b: Tensor, transA = false, transB = false, alpha = 1): Tensor {
    if (this.matmulType && a.dtype === this.floatType) return this.cast(this.gemm(this.cast(a, this.matmulType), this.cast(b, this.matmulType), transA, transB, alpha), a.dtype);
    if (a.rank !== 2 || b.rank !== 2) fail('Gemm', 'inputs must be 2-D', [a, b]);
    const [m, k1] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (!sameDim(k1, k2)) fail('Gemm', `inner dimensions differ (${k1} vs ${k2})`, [a, b]);
    const attrs: Record<string, Attr> = { transA: { i: transA ? 1 : 0 }, transB: { i: transB ? 1 : 0 } };
    if (alpha !== 1) attrs.alpha = { f: alpha };
    return this.node('Gemm', [a, b], [{ dtype: a.dtype, shape: [m, n] }], attrs)[0];
  }

  // ---------------------------------------------------------------- reductions
  private reduce(op: string, x: Tensor, axes: number[], keepdims: boolean): Tensor {
    const ax = axes.map((a) => normAxis(op, a, x.rank, x));
    const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
    return this.node(op, [x, this.ints(ax)], [{ dtype: x.dtype, shape }], { keepdims: { i: keepdims ? 1 : 0 } })[0];
  }
  reduceSum(x: Tensor, axes: number[], keepdims = true): Tensor { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: Tensor, axes: number[], keepdims = true): Tensor { return this.reduce('ReduceMean', x, axes, keepdims); }
  reduceMax(x: Tensor, axes: number[], keepdims = true): Tensor { return this.reduce('ReduceMax', x, axes, keepdims); }

  softmax(x: Tensor, axis = -1): Tensor { return this.unary('Softmax', x, { axis: { i: normAxis('Softmax', axis, x.rank, x) } }); }
  /**
   * log(softmax(x)) as x - max - log(sum(exp(x - max))), the same steps ORT's kernel takes:
   * LogSoftmax has no WebGPU kernel. One unit for autodiff: gx = gy - softmax * sum(gy).
   */
  logSoftmax(x: Tensor, axis = -1): Tensor {
    const a = normAxis('LogSoftmax', axis, x.rank, x);
    return this.group('LogSoftmax', [x], { axis: { i: a } }, () => {
      const s = this.sub(x, this.reduceMax(x, [a], true));
      return { outputs: [this.sub(s, this.log(this.reduceSum(this.exp(s), [a], true)))] };
    }, ({ g, outputs: [y], gradOut: [gy] }) => [g.sub(gy!, g.mul(g.exp(y), g.reduceSum(gy!, [a], true)))])[0];
  }

  // ---------------------------------------------------------------- shape ops
  shapeOf(x: Tensor): Tensor { return this.node('Shape', [x], [{ dtype: 'int64', shape: [x.rank] }])[0]; }

  /** ONNX Reshape with a constant target: 0 copies the input dim, -1 is inferred. */
  reshape(x: Tensor, target: number[]): Tensor {
    const out: Dim[] = target.map((d, i) => {
      if (d === 0) {
        if (i >= x.rank) fail('Reshape', `0 at position ${i} but input has rank ${x.rank}`, [x]);
        return x.shape[i];
      }
      return d;
    });
    const neg = out.indexOf(-1);
    if (out.filter((d) => d === -1).length > 1) fail('Reshape', 'more than one -1 in target', [x]);
    const total = prodDims(x.shape);
    if (neg >= 0) {
      const known = prodDims(out.filter((_, i) => i !== neg));
      const inferred = divDims(total, known);
      if (inferred === undefined) fail('Reshape', `cannot reshape to [${target}]: ${total} not divisible by ${known}`, [x]);
      out[neg] = inferred;
    } else if (!sameDim(prodDims(out), total)) {
      fail('Reshape', `cannot reshape to [${target}]: element counts ${total} vs ${prodDims(out)}`, [x]);
    }
    return this.node('Reshape', [x, this.ints(target)], [{ dtype: x.dtype, shape: out }])[0];
  }

  /** Reshape to a runtime shape tensor; `shape` is the statically known result. */
  reshapeTo(x: Tensor, shapeTensor: Tensor, shape: Dim[]): Tensor {
    return this.node('Reshape', [x, shapeTensor], [{ dtype: x.dtype, shape }])[0];
  }

  transpose(x: Tensor, perm: number[]): Tensor {
    if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) fail('Transpose', `bad perm [${perm}]`, [x]);
    return this.node('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }], { perm: { ints: perm } })[0];
  }

  /** Slice one axis [start, end) with constant bounds (end may exceed the dim, as in ONNX). */
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    const a = normAxis('Slice', axis, x.rank, x);
    const d = x.shape[a];
    let len: Dim;
    if (typeof d === 'number') {
      const s = Math.max(0, Math.min(d, start < 0 ? start + d : start));
      const e = Math.max(0, Math.min(d, end < 0 ? end + d : end));
      len = Math.max(0, e - s);
    } else if (start >= 0 && end >= 0 && end < 2 ** 62) {
      len = end - start;
    } else if (start < 0 && end >= 2 ** 31) {
      len = -start;
    } else {
      len = this.fresh('?slice');
    }
    const shape = x.shape.slice();
    shape[a] = len;
    return this.node('Slice', [x, this.ints([start]), this.ints([end]), this.ints([a])], [{ dtype: x.dtype, shape }])[0];
  }

  concat(xs: Tensor[], axis: number): Tensor {
    const a = normAxis('Concat', axis, xs[0].rank, xs[0]);
    for (const t of xs) {
      if (t.rank !== xs[0].rank || t.dtype !== xs[0].dtype) fail('Concat', 'ranks or dtypes differ', xs);
      t.shape.forEach((d, i) => { if (i !== a && !sameDim(d, xs[0].shape[i])) fail('Concat', `dims differ at axis ${i}`, xs); });
    }
    const shape = xs[0].shape.slice();
    shape[a] = xs.map((t) => t.shape[a]).reduce((p, d) => (typeof p === 'number' && typeof d === 'number' ? p + d : this.fresh('?cat')));
    return this.node('Concat', xs, [{ dtype: xs[0].dtype, shape }], { axis: { i: a } })[0];
  }

  split(x: Tensor, axis: number, sizes: number[]): Tensor[] {
    const a = normAxis('Split', axis, x.rank, x);
    const d = x.shape[a];
    const total = sizes.reduce((p, s) => p + s, 0);
    if (typeof d === 'number' && d !== total) fail('Split', `sizes [${sizes}] do not sum to ${d}`, [x]);
    return this.node('Split', [x, this.ints(sizes)], sizes.map((s) => {
      const shape = x.shape.slice();
      shape[a] = s;
      return { dtype: x.dtype, shape };
    }), { axis: { i: a } });
  }

  unsqueeze(x: Tensor, axes: number[]): Tensor {
    const rank = x.rank + axes.length;
    const ax = axes.map((a) => normAxis('Unsqueeze', a, rank, x)).sort((p, q) => p - q);
    const shape: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[k++]);
    return this.node('Unsqueeze', [x, this.ints(ax)], [{ dtype: x.dtype, shape }])[0];
  }

  squeeze(x: Tensor, axes: number[]): Tensor {
    const ax = axes.map((a) => normAxis('Squeeze', a, x.rank, x));
    for (const a of ax) if (x.shape[a] !== 1 && typeof x.shape[a] === 'number') fail('Squeeze', `axis ${a} has size ${x.shape[a]}`, [x]);
    return this.node('Squeeze', [x, this.ints(ax)], [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !ax.includes(i)) }])[0];
  }

  /** Broadcast x to `shape` given as a runtime shape tensor (statically `dims`). */
  expand(x: Tensor, shapeTensor: Tensor, dims: Dim[]): Tensor {
    const out = broadcastShapes('Expand', x, new Tensor('', x.dtype, dims));
    return this.node('Expand', [x, shapeTensor], [{ dtype: x.dtype, shape: out }])[0];
  }

  // ---------------------------------------------------------------- indexing
  gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
    const a = normAxis('Gather', axis, data.rank, data);
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32') fail('Gather', 'indices must be int64/int32', [indices]);
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.node('Gather', [data, indices], [{ dtype: data.dtype, shape }], { axis: { i: a } })[0];
  }

  gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
    const a = normAxis('GatherElements', axis, data.rank, data);
    if (indices.rank !== data.rank) fail('GatherElements', 'indices rank must equal data rank', [data, indices]);
    return this.node('GatherElements', [data, indices], [{ dtype: data.dtype, shape: indices.shape }], { axis: { i: a } })[0];
  }

  scatterElements(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction: 'none' | 'add' = 'none'): Tensor {
    const a = normAxis('ScatterElements', axis, data.rank, data);
    const attrs: Record<string, Attr> = { axis: { i: a } };
    if (reduction !== 'none') attrs.reduction = { s: reduction };
    return this.node('ScatterElements', [data, indices, updates], [{ dtype: data.dtype, shape: data.shape }], attrs)[0];
  }

  gatherND(data: Tensor, indices: Tensor): Tensor {
    const k = indices.shape[indices.rank - 1];
    if (typeof k !== 'number') fail('GatherND', 'last indices dim must be static', [data, indices]);
    const shape = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
    return this.node('GatherND', [data, indices], [{ dtype: data.dtype, shape }])[0];
  }

  scatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor {
    const attrs: Record<string, Attr> = reduction !== 'none' ? { reduction: { s: reduction } } : {};
    return this.node('ScatterND', [data, indices, updates], [{ dtype: data.dtype, shape: data.shape }], attrs)[0];
  }

  /**
   * Zeros of the runtime shape `shapeTensor` (statically `dims`): a scalar 0 expanded, since
   * ConstantOfShape has no WebGPU kernel.
   */
  zeros(shapeTensor: Tensor, dims: Dim[], dtype: DType = this.floatType): Tensor {
    return this.node('Expand', [this.scalar(0, dtype), shapeTensor], [{ dtype, shape: dims }])[0];
  }

  topk(x: Tensor, k: number, axis = -1): [Tensor, Tensor] {
    const a = normAxis('TopK', axis, x.rank, x);
    const d = x.shape[a];
    if (typeof d === 'number' && k > d) fail('TopK', `k=${k} larger than axis size ${d}`, [x]);
    const shape = x.shape.slice();
    shape[a] = k;
    const [v, i] = this.node('TopK', [x, this.ints([k])], [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }], { axis: { i: a } });
    return [v, i];
  }

  nonzero(x: Tensor): Tensor {
    return this.node('NonZero', [x], [{ dtype: 'int64', shape: [x.rank, this.fresh('?nz')] }])[0];
  }
}

export function onnxTypeCode(t: DType): number {
  return { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16 }[t];
}

export function dimsMul(...ds: Dim[]): Dim { return ds.reduce<Dim>((p, d) => mulDims(p, d), 1); }
