// Finite-difference gradient checks in float64 for graphs built with src/graph.
import assert from 'node:assert/strict';
import { grad } from '../src/graph/autodiff.js';
import { Graph, Tensor } from '../src/graph/graph.js';
import { createSession, ort } from '../src/runtime/session.js';
import { Rng } from '../src/util/rng.js';

/** int32 inputs are given as int64 data (as the data loader holds token ids and labels) */
export interface Input { name: string; shape: number[]; data?: Float64Array | BigInt64Array; dtype?: 'float64' | 'int64' | 'int32'; diff?: boolean; positive?: boolean }

/**
 * Build `body` over float64 inputs, reduce its output with fixed random weights to a
 * scalar, and compare every analytic gradient with central differences: relative error
 * < 1e-6 where |g| >= 1e-3, absolute error < 1e-8 elsewhere. Fails naming input[index].
 */
export interface GradCheckOptions {
  seed?: number; eps?: number;
  /** fewest entries of each differentiable input that must be large enough for a relative
   *  comparison (default: a tenth of them, at least 1), so a check cannot pass on nothing */
  minCompared?: number;
  /** test hook: alter the analytic gradient of an input before the comparison */
  tamper?: (input: string, analytic: Float64Array) => void;
}

/** Entries with |g| below this are compared by absolute error only (relative error is noise there). */
const SMALL = 1e-3;

export async function checkGrad(inputs: Input[], body: (g: Graph, xs: Tensor[]) => Tensor, opts: GradCheckOptions = {}): Promise<number> {
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
  const feeds = () => Object.fromEntries(inputs.map((i, k) => [i.name, tensorOf(i, values[k])]));
  const out = await sess.run(feeds());
  const eps = opts.eps ?? 1e-5;
  let worst = 0;
  if (!diffable.length) throw new Error('gradient check: no differentiable input to check');
  for (const { i } of diffable) {
    const v = values[inputs.indexOf(i)] as Float64Array;
    const analytic = Float64Array.from(out[`grad_${i.name}`].data as Float64Array);
    opts.tamper?.(i.name, analytic);
    if (analytic.length !== v.length) throw new Error(`${i.name}: gradient has ${analytic.length} entries, input has ${v.length}`);
    let compared = 0;
    for (let k = 0; k < v.length; k++) {
      const orig = v[k];
      v[k] = orig + eps;
      const lp = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      v[k] = orig - eps;
      const lm = ((await sess.run(feeds())).loss.data as Float64Array)[0];
      v[k] = orig;
      const fd = (lp - lm) / (2 * eps);
      const a = analytic[k];
      if (Math.abs(a) < SMALL && Math.abs(fd) < SMALL) {
        // too small for a relative comparison, but a wrong small gradient still shows in absolute terms
        assert.ok(Math.abs(a - fd) < 1e-8, `${i.name}[${k}]: analytic ${a} vs finite difference ${fd} (abs ${Math.abs(a - fd).toExponential(2)})`);
        continue;
      }
      compared++;
      const rel = Math.abs(a - fd) / Math.max(Math.abs(a), Math.abs(fd));
      worst = Math.max(worst, rel);
      assert.ok(rel < 1e-6, `${i.name}[${k}]: analytic ${a} vs finite difference ${fd} (rel ${rel.toExponential(2)})`);
    }
    const min = opts.minCompared ?? Math.max(1, Math.floor(v.length / 10));
    assert.ok(compared >= min, `${i.name}: only ${compared} of ${v.length} gradient entries have |g| >= ${SMALL} (need ${min}); the check would be vacuous`);
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
  const out = await sess.run(Object.fromEntries(inputs.map((i) => [i.name, tensorOf(i, i.data!)])));
  await sess.release();
  return out.y.data as Float64Array;
}

function tensorOf(i: Input, data: Float64Array | BigInt64Array): ort.Tensor {
  if (i.dtype === 'int32') return new ort.Tensor('int32', Int32Array.from(data as BigInt64Array, Number), i.shape);
  return new ort.Tensor(i.dtype ?? 'float64', data as Float64Array, i.shape);
}
