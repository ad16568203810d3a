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
export function appendAdamW(g: Graph, entries: AdamWEntry[], after: Tensor[] = []): Tensor {
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
  let clip = g.node('Min', [g.div(s.clip_max_norm, g.add(norm, 1e-6)), g.scalar(1)], [{ dtype: f, shape: [] }])[0];
  if (after.length) {
    // an exact +0 that depends on every tensor in `after` (IsNaN keeps a NaN loss from leaking in)
    const sum = after.map((t) => g.reduceSum(t, t.shape.map((_, i) => i), false)).reduce((a, b) => g.add(a, b));
    clip = g.add(clip, g.mul(g.cast(g.node('IsNaN', [sum], [{ dtype: 'bool', shape: [] }])[0], f), 0));
  }
  const c = g.mul(clip, s.grad_scale);
  const c1 = g.mul(s.adam_b1c, c), c2 = g.mul(g.mul(s.adam_b2c, c), c);
  // scalars that depend on the clip factor (+0): no per-weight op can run before every
  // gradient exists, so none holds a weight-sized temporary through the backward pass
  const zero = g.mul(clip, 0);
  const b1 = g.add(s.adam_b1, zero), b2 = g.add(s.adam_b2, zero), decay = g.add(s.adam_decay, zero);
  const named = (op: string, a: Tensor, b: Tensor, name: string) => g.node(op, [a, b], [{ dtype: f, shape: a.shape, name }])[0];
  for (const e of entries) {
    const m = g.input(moment('m', e.name), f, e.param.shape), v = g.input(moment('v', e.name), f, e.param.shape);
    g.scope(`adamw/${e.name}`, () => {
      // outputs named by their last op: an Identity would be one more pass
      const m1 = g.output(named('Add', g.mul(m, b1), g.mul(e.grad, c1), updated(m.name)));
      const v1 = g.output(named('Add', g.mul(v, b2), g.mul(g.mul(e.grad, e.grad), c2), updated(v.name)));
      const denom = g.add(g.mul(g.sqrt(v1), s.adam_k1), s.adam_k2);
      g.output(named('Sub', g.mul(e.param, decay), g.div(m1, denom), updated(e.name)));
    });
  }
  return norm;
}
