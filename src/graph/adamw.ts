// AdamW as graph ops, so that an optimizer step runs on ONNX Runtime's threads (or a GPU)
// next to the backward pass, and weights, gradients and moments never cross into
// JavaScript. PyTorch semantics: global-norm clipping (clip_grad_norm_), decoupled weight
// decay, bias correction. AdamW in src/runtime/optimizer.ts computes the same float32 ops.
//
// Each op is a pass over memory on the CPU, so the update is written in 13 of them per
// weight, with everything per-step folded into scalars:
//   m' = m*b1 + g*c1                 c1 = (1-b1) * clip * grad_scale
//   v' = v*b2 + (g*g)*c2             c2 = (1-b2) * (clip * grad_scale)^2
//   p' = p*decay - m' / (sqrt(v')*k1 + k2)
// where k1 = 1/(sqrt(1-b2^t) * step_size), k2 = eps/step_size, step_size = lr/(1-b1^t),
// decay = 1 - lr*weight_decay: PyTorch's p*decay - step_size * m/(sqrt(v)/sqrt(1-b2^t) + eps).
import { Graph, Tensor } from './graph.js';

/** Graph inputs of one update: float32 scalars the host computes per step (see adamwScalars). */
export const ADAMW_SCALARS = ['clip_max_norm', 'grad_scale', 'adam_b1', 'adam_b1c', 'adam_b2', 'adam_b2c', 'adam_k1', 'adam_k2', 'adam_decay'] as const;
export type AdamWScalars = Record<(typeof ADAMW_SCALARS)[number], number>;

export interface AdamWHyper {
  lr: number; step: number; beta1: number; beta2: number; eps: number; weightDecay: number; maxNorm: number;
  /** the gradient is the graph's gradient times this (1/micro-batches when it is a sum) */
  gradScale?: number;
}

/** The per-step scalars of an update: `step` counts from 1; maxNorm <= 0 turns clipping off. */
export function adamwScalars(h: AdamWHyper): AdamWScalars {
  const stepSize = h.lr / (1 - h.beta1 ** h.step);
  return {
    clip_max_norm: h.maxNorm > 0 ? h.maxNorm : Infinity, grad_scale: h.gradScale ?? 1,
    adam_b1: h.beta1, adam_b1c: 1 - h.beta1, adam_b2: h.beta2, adam_b2c: 1 - h.beta2,
    adam_k1: 1 / (Math.sqrt(1 - h.beta2 ** h.step) * stepSize), adam_k2: h.eps / stepSize, adam_decay: 1 - h.lr * h.weightDecay,
  };
}

/** Names of an update's state: inputs `name`, `m.name`, `v.name`; outputs with `new.` in front. */
export const moment = (kind: 'm' | 'v', name: string) => `${kind}.${name}`;
export const updated = (input: string) => `new.${input}`;

export interface AdamWEntry { name: string; param: Tensor; grad: Tensor }

/**
 * Append a clipped AdamW update of every entry: inputs m.<name>, v.<name> and the scalars,
 * outputs new.<name>, new.m.<name>, new.v.<name> and `grad_norm` (before clipping).
 * The caller binds each output to its input's buffer, so the update is in place. That is
 * safe when every read of an old value precedes the write: the gradients' reads do (the
 * clip factor needs every gradient), and `after` lists the other outputs (the loss, whose
 * last ops the backward pass does not wait for), made ancestors of the clip factor too.
 */
export function appendAdamW(g: Graph, entries: AdamWEntry[], o: { after?: Tensor[]; skipNonFinite?: boolean } = {}): Tensor {
  const after = o.after ?? [];
  const f = g.floatType;
  const s: Record<string, Tensor> = {};
  for (const k of ADAMW_SCALARS) s[k] = g.input(k, f, []);
  let sumsq: Tensor | null = null;
  for (const e of entries) {
    const sq = g.node('ReduceSumSquare', [e.grad], [{ dtype: f, shape: [] }], { keepdims: { i: 0 } })[0];
    sumsq = sumsq ? g.add(sumsq, sq) : sq;
  }
  if (!sumsq) throw new Error('appendAdamW: nothing to update');
  const norm = g.output(g.mul(g.sqrt(sumsq), s.grad_scale), 'grad_norm');
  // torch.nn.utils.clip_grad_norm_: g * min(1, max_norm / (norm + 1e-6))
  // (Where/Less and Not/Equal rather than Min and IsNaN: the WebGPU provider has neither)
  const coef = g.div(s.clip_max_norm, g.add(norm, 1e-6));
  let clip = g.where(g.less(coef, 1), coef, g.scalar(1));
  if (after.length) {
    // an exact +0 that depends on every tensor in `after` (the NaN test keeps a NaN loss from leaking in)
    const sum = after.map((t) => g.reduceSum(t, t.shape.map((_, i) => i), false)).reduce((a, b) => g.add(a, b));
    clip = g.add(clip, g.mul(g.cast(g.not(g.equal(sum, sum)), f), 0));
  }
  const c = g.mul(clip, s.grad_scale);
  let c1 = g.mul(s.adam_b1c, c), c2 = g.mul(g.mul(s.adam_b2c, c), c);
  // scalars that depend on the clip factor (+0): no per-weight op can run before every
  // gradient exists, so none holds a weight-sized temporary through the backward pass
  const zero = g.mul(clip, 0);
  let b1 = g.add(s.adam_b1, zero), b2 = g.add(s.adam_b2, zero), decay = g.add(s.adam_decay, zero), k2 = s.adam_k2;
  // a non-finite norm (float16 overflow under loss scaling) skips the step: the moments keep
  // their values (b = 1, c = 0), the weights too (decay 1, denominator infinite), and
  // the gradients are zeroed first since inf * 0 is NaN
  let finite: Tensor | null = null;
  if (o.skipNonFinite) {
    finite = g.equal(g.sub(norm, norm), g.scalar(0)); // inf - inf and NaN - NaN are NaN
    const unless = (x: Tensor, v: number) => g.where(finite!, x, g.scalar(v));
    c1 = unless(c1, 0); c2 = unless(c2, 0); b1 = unless(b1, 1); b2 = unless(b2, 1); decay = unless(decay, 1); k2 = unless(k2, Infinity);
  }
  const named = (op: string, a: Tensor, b: Tensor, name: string) => g.node(op, [a, b], [{ dtype: f, shape: a.shape, name }])[0];
  for (const e of entries) {
    const m = g.input(moment('m', e.name), f, e.param.shape), v = g.input(moment('v', e.name), f, e.param.shape);
    g.scope(`adamw/${e.name}`, () => {
      const grad = finite ? g.where(finite, e.grad, g.scalar(0)) : e.grad;
      // outputs named by their last op: an Identity would be one more pass
      const m1 = g.output(named('Add', g.mul(m, b1), g.mul(grad, c1), updated(m.name)));
      const v1 = g.output(named('Add', g.mul(v, b2), g.mul(g.mul(grad, grad), c2), updated(v.name)));
      const denom = g.add(g.mul(g.sqrt(v1), s.adam_k1), k2);
      g.output(named('Sub', g.mul(e.param, decay), g.div(m1, denom), updated(e.name)));
    });
  }
  return norm;
}
