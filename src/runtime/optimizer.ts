// AdamW with PyTorch semantics (decoupled weight decay, bias correction), global-norm
// gradient clipping and learning-rate schedules, updating parameter arrays in place:
// ONNX Runtime reads CPU inputs without copying, so the next run sees the new values.

export interface AdamWOptions { beta1?: number; beta2?: number; eps?: number; weightDecay?: number }

export class AdamW {
  readonly beta1: number; readonly beta2: number; readonly eps: number; readonly weightDecay: number;
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  constructor(o: AdamWOptions = {}) {
    this.beta1 = o.beta1 ?? 0.9; this.beta2 = o.beta2 ?? 0.999; this.eps = o.eps ?? 1e-8; this.weightDecay = o.weightDecay ?? 0.01;
  }

  /** One update of every parameter that has a gradient, each gradient scaled by gradScale (clipping). */
  update(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number, gradScale = 1): void {
    this.step++;
    const b1 = this.beta1, b2 = this.beta2, eps = this.eps;
    const stepSize = lr / (1 - b1 ** this.step);
    const bc2sqrt = Math.sqrt(1 - b2 ** this.step);
    const decay = 1 - lr * this.weightDecay;
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) throw new Error(`optimizer: gradient for unknown parameter "${name}"`);
      let m = this.m.get(name), v = this.v.get(name);
      if (!m || !v) { m = new Float32Array(p.length); v = new Float32Array(p.length); this.m.set(name, m); this.v.set(name, v); }
      adamwKernel(p, g, m, v, b1, b2, eps, stepSize, bc2sqrt, decay, gradScale);
    }
  }
}

// Kept monomorphic and free of closures so V8 compiles it to a tight loop. The clipping
// factor is folded into the moment coefficients: m += (1-b1)*(s*g), v += (1-b2)*(s*g)^2.
function adamwKernel(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, b1: number, b2: number,
  eps: number, stepSize: number, bc2sqrt: number, decay: number, scale: number): void {
  const c1 = (1 - b1) * scale, c2 = (1 - b2) * scale * scale, inv = 1 / bc2sqrt, n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = b1 * m[i] + c1 * gi;
    const vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi; v[i] = vi;
    p[i] = p[i] * decay - stepSize * mi / (Math.sqrt(vi) * inv + eps);
  }
}

export function sumOfSquares(grads: Iterable<Float32Array>): number {
  let sq = 0;
  for (const g of grads) { let s = 0; for (let i = 0; i < g.length; i++) s += g[i] * g[i]; sq += s; }
  return sq;
}

/** The factor torch.nn.utils.clip_grad_norm_ scales gradients by, given their global norm. */
export function clipScale(norm: number, maxNorm: number): number {
  const coef = maxNorm / (norm + 1e-6);
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
