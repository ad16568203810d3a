// Finite-difference gradient checks in float64 for graphs built with src/graph.
import assert from 'node:assert/strict';
import { grad } from '../src/graph/autodiff.js';
import { Graph, Tensor } from '../src/graph/graph.js';
import { createSession, ort } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';

export interface Input { name: string; shape: number[]; data?: Float64Array | BigInt64Array; dtype?: 'float64' | 'int64'; diff?: boolean; positive?: boolean }

/**
 * Build `body` over float64 inputs, reduce its output with fixed random weights to a
 * scalar, and compare every analytic gradient with central differences.
 */
export async function checkGrad(inputs: Input[], body: (g: Graph, xs: Tensor[]) => Tensor, opts: { seed?: number; eps?: number } = {}): Promise<number> {
  const rng = new Rng(opts.seed ?? 1);
  const g = new Graph('float64');
  const xs = inputs.map((i) => g.input(i.name, i.dtype ?? 'float64', i.shape));
  const y = body(g, xs);
  const n = y.shape.reduce<number>((p, d) => p * (d as number), 1);
  const w = g.constant(Float64Array.from({ length: n }, () => rng.normal()), 'float64', y.shape as number[]);
  const loss = y.rank === 0 ? g.mul(y, w) : g.reduceSum(g.mul(y, w), y.shape.map((_, i) => i), false);
  g.output(loss, 'loss');
  const diffable = inputs.map((i, k) => ({ i, t: xs[k] })).filter(({ i }) => (i.dtype ?? 'float64') === 'float64' && i.diff !== false);
  const grads = grad(g, [loss], diffable.map((d) => d.t));
  diffable.forEach(({ t }) => {
    const gt = grads.get(t);
    if (!gt) throw new Error(`no gradient path to ${t.name}`);
    g.output(gt, `grad_${t.name}`);
  });
  const sess = await createSession(g, { threads: 1 });
  const values = inputs.map((i) => i.data ?? Float64Array.from({ length: i.shape.reduce((p, d) => p * d, 1) },
    () => (i.positive ? 0.5 + rng.next() : rng.normal())));
  const feeds = () => Object.fromEntries(inputs.map((i, k) => [i.name, new ort.Tensor(i.dtype ?? 'float64', values[k] as Float64Array, i.shape)]));
  const out = await sess.run(feeds());
  const eps = opts.eps ?? 1e-5;
  let worst = 0;
  for (const { i } of diffable) {
    const v = values[inputs.indexOf(i)] as Float64Array;
    const analytic = out[`grad_${i.name}`].data as Float64Array;
    for (let k = 0; k < v.length; k++) {
      const orig = v[k];
      v[k] = orig + eps;
      const lp = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      v[k] = orig - eps;
      const lm = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      v[k] = orig;
      const fd = (lp - lm) / (2 * eps);
      const a = analytic[k];
      if (Math.abs(a) < 1e-3 && Math.abs(fd) < 1e-3) continue;
      const rel = Math.abs(a - fd) / Math.max(Math.abs(a), Math.abs(fd));
      worst = Math.max(worst, rel);
      assert.ok(rel < 1e-6, `${i.name}[${k}]: analytic ${a} vs finite difference ${fd} (rel ${rel.toExponential(2)})`);
    }
  }
  await sess.release();
  return worst;
}

/** Run a float64 graph once and return its output. */
export async function runGraph(inputs: (Input & { data: Float64Array | BigInt64Array })[], body: (g: Graph, xs: Tensor[]) => Tensor): Promise<Float64Array> {
  const g = new Graph('float64');
  const xs = inputs.map((i) => g.input(i.name, i.dtype ?? 'float64', i.shape));
  g.output(body(g, xs), 'y');
  const sess = await createSession(g, { threads: 1 });
  const out = await sess.run(Object.fromEntries(inputs.map((i) => [i.name, new ort.Tensor(i.dtype ?? 'float64', i.data as Float64Array, i.shape)])));
  await sess.release();
  return out.y.data as Float64Array;
}
