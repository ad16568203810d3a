// AdamW on the host, in the float32 arithmetic and op order of the graph update that
// training runs (src/graph/adamw.ts), so the two agree bit for bit: the reference the
// graph is tested against, itself tested against PyTorch. Also global-norm clipping and
// the learning-rate schedules.
import { adamwScalars } from '../graph/adamw.js';

export interface AdamWOptions { beta1?: number; beta2?: number; eps?: number; weightDecay?: number }

export class AdamW {
  readonly beta1: number; readonly beta2: number; readonly eps: number; readonly weightDecay: number;
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9; this.beta2 = o.beta2 ?? 0.999; this.eps = o.eps ?? 1e-8; this.weightDecay = o.weightDecay ?? 0.01;
  }

  /**
   * One update of every parameter that has a gradient. `scale` multiplies the gradients
   * first (clipping, and 1/n for a sum of n micro-batches), as the graph's update does.
   */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number, scale = 1): void {
    this.step++;
    const s = adamwScalars({ lr, step: this.step, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, maxNorm: 0 });
    const c = f(scale), c1 = f(f(s.adam_b1c) * c), c2 = f(f(f(s.adam_b2c) * c) * c);
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) throw new Error(`optimizer: gradient for unknown parameter "${name}"`);
      let m = this.m.get(name), v = this.v.get(name);
      if (!m || !v) { m = new Float32Array(p.length); v = new Float32Array(p.length); this.m.set(name, m); this.v.set(name, v); }
      adamwKernel(p, g, m, v, f(s.adam_b1), c1, f(s.adam_b2), c2, f(s.adam_k1), f(s.adam_k2), f(s.adam_decay));
    }
  }
}

const f = Math.fround;

// Every operation rounds to float32 as the graph's ops do (a double-precision +, -, *, /
// or sqrt of float32 values, rounded once, is the float32 result).
function adamwKernel(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, b1: number, c1: number, b2: number, c2: number,
  k1: number, k2: number, decay: number): void {
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * b1) + f(gi * c1));
    const vi = f(f(v[i] * b2) + f(f(gi * gi) * c2));
    const denom = f(f(f(Math.sqrt(vi)) * k1) + k2);
    m[i] = mi; v[i] = vi;
    p[i] = f(f(p[i] * decay) - f(mi / denom));
  }
}

export function sumOfSquares(grads: Iterable<Float32Array>): number {
  let sq = 0;
  for (const g of grads) { let s = 0; for (let i = 0; i < g.length; i++) s += g[i] * g[i]; sq += s; }
  return sq;
}

/** The factor torch.nn.utils.clip_grad_norm_ scales gradients by, given their global norm (float32, as the graph computes it). */
export function clipScale(norm: number, maxNorm: number): number {
  const coef = f(f(maxNorm) / f(f(norm) + f(1e-6)));
  return maxNorm > 0 && coef < 1 ? coef : 1;
}

/** Scale gradients in place so their global L2 norm is at most maxNorm. Returns the norm before clipping. */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  const norm = Math.sqrt(sumOfSquares(list));
  const coef = clipScale(norm, maxNorm);
  if (coef < 1) for (const g of list) for (let i = 0; i < g.length; i++) g[i] *= coef;
  return norm;
}

export type Schedule = 'minimind' | 'cosine' | 'constant';

/**
 * Learning rate at `step` of `total`: MiniMind's lr*(0.1+0.45*(1+cos(pi*t/T))), cosine
 * decay to 10% after linear warmup, or constant.
 */
export function learningRate(schedule: Schedule, base: number, step: number, total: number, warmup = 0): number {
  if (warmup > 0 && step < warmup) return base * (step + 1) / warmup;
  const t = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
  switch (schedule) {
    case 'minimind': return base * (0.1 + 0.45 * (1 + Math.cos(Math.PI * Math.min(1, step / Math.max(1, total)))));
    case 'cosine': return base * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * t)));
    default: return base;
  }
}
