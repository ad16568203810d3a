// The losses of knowledge distillation and of the policy-gradient stages (GRPO, CISPO, PPO)
// as MiniMind-3's trainers compute them (train_distillation.py, train_grpo.py,
// train_ppo.py). Each is a group with a hand-derived gradient: elementwise rules whose
// ties follow PyTorch's (torch.minimum/maximum give half the gradient to each side of a
// tie; torch.clamp passes the gradient at its bounds), so a step equals MiniMind's.
import { Graph, Tensor } from './graph.js';

const one = (g: Graph, like: Tensor) => g.scalar(1, like.dtype);
const num = (g: Graph, v: Tensor | number, like: Tensor) => (typeof v === 'number' ? g.scalar(v, like.dtype) : v);
/** torch.clamp(x, lo, hi) (either bound may be absent) */
function clamp(g: Graph, x: Tensor, lo: Tensor | number | null, hi: Tensor | number | null): Tensor {
  let y = x;
  if (hi !== null) y = g.where(g.greater(x, num(g, hi, x)), num(g, hi, x), y);
  if (lo !== null) y = g.where(g.less(x, num(g, lo, x)), num(g, lo, x), y);
  return y;
}
/** 1 where lo <= x <= hi, else 0: torch.clamp's gradient (it passes the gradient at its bounds) */
const inside = (g: Graph, x: Tensor, lo: Tensor | number, hi: Tensor | number) =>
  g.cast(g.and(g.not(g.less(x, num(g, lo, x))), g.not(g.greater(x, num(g, hi, x)))), x.dtype);
/**
 * The share of the gradient of torch.minimum(a, b) that goes to a: 1 where a < b, 0 where
 * a > b, 1/2 on a tie (b gets the rest). torch.maximum(a, b) gives a the share minShare(b, a).
 */
const minShare = (g: Graph, a: Tensor, b: Tensor) =>
  g.where(g.less(a, b), one(g, a), g.where(g.greater(a, b), g.scalar(0, a.dtype), g.scalar(0.5, a.dtype)));
/** torch.minimum / torch.maximum forward (ties give either: the values are equal) */
const minimum = (g: Graph, a: Tensor, b: Tensor) => g.where(g.less(b, a), b, a);
const maximum = (g: Graph, a: Tensor, b: Tensor) => g.where(g.less(a, b), b, a);

/**
 * MiniMind's distillation_loss over the positions with a label: T^2 * KL(teacher || student)
 * with both at temperature T, F.kl_div's 'batchmean' (the sum over positions and vocabulary
 * divided by the positions counted). logits [N, V] (the student's, unscaled), teacherLogp
 * [N, V] = log_softmax(teacher logits / T), mask [N] (1 = counted). Gradient to the logits:
 * T * (softmax(logits / T) - teacher probs) * mask / count.
 */
export function distillationLoss(g: Graph, logits: Tensor, teacherLogp: Tensor, mask: Tensor, temperature: number): Tensor {
  let slp: Tensor, count: Tensor;
  return g.group('DistillationLoss', [logits, teacherLogp, mask], {}, () => {
    slp = g.logSoftmax(g.mul(logits, 1 / temperature), -1);
    const perRow = g.reduceSum(g.mul(g.exp(teacherLogp), g.sub(teacherLogp, slp)), [1], false); // N
    count = g.max(g.reduceSum(mask, [0], false), 1);
    return { outputs: [g.mul(g.div(g.reduceSum(g.mul(perRow, mask), [0], false), count), temperature * temperature)] };
  }, ({ g: b, gradOut: [gy] }) => {
    const w = b.unsqueeze(b.mul(mask, b.div(b.mul(gy!, temperature), count)), [1]); // N, 1
    return [b.mul(b.sub(b.exp(slp), b.exp(teacherLogp)), w), null, null];
  })[0];
}

export interface GrpoLossOptions { lossType: 'grpo' | 'cispo'; beta: number; epsilon: number; epsilonHigh: number }

/**
 * train_grpo.py's policy loss. lp [N, R]: the policy's log-probabilities of the completion
 * tokens; old and ref [N, R]: the rollout's and the frozen reference's; adv [N]: the
 * group-normalised advantages; mask [N, R]: 1 on the completion tokens that count. Per
 * token: kl = exp(ref - lp) - (ref - lp) - 1, ratio = exp(lp - old), and
 *   grpo:  -(min(ratio * A, clamp(ratio, 1 - eps, 1 + eps) * A) - beta * kl)
 *   cispo: -(detach(min(ratio, eps_high)) * A * lp - beta * kl)
 * averaged over each row's counted tokens (at least 1), then over the rows.
 */
export function grpoLoss(g: Graph, lp: Tensor, old: Tensor, ref: Tensor, adv: Tensor, mask: Tensor, o: GrpoLossOptions): Tensor {
  let ratio: Tensor, A: Tensor, count: Tensor, d: Tensor;
  const lo = 1 - o.epsilon, hi = 1 + o.epsilon;
  return g.group('GrpoLoss', [lp, old, ref, adv, mask], {}, () => {
    d = g.sub(ref, lp);
    const kl = g.sub(g.sub(g.exp(d), d), 1);
    ratio = g.exp(g.sub(lp, old));
    A = g.unsqueeze(adv, [1]);
    const term = o.lossType === 'cispo' ? g.mul(g.mul(clamp(g, ratio, null, o.epsilonHigh), A), lp)
      : minimum(g, g.mul(ratio, A), g.mul(clamp(g, ratio, lo, hi), A));
    const perToken = g.neg(g.sub(term, g.mul(kl, o.beta)));
    count = g.max(g.reduceSum(mask, [1], true), 1);                       // N, 1
    return { outputs: [g.reduceMean(g.div(g.reduceSum(g.mul(perToken, mask), [1], true), count), [0, 1], false)] };
  }, ({ g: b, gradOut: [gy] }) => {
    // d loss / d perToken: mask / count / N (N as a sum of ones: no int64 Cast, which WebGPU lacks)
    const rows = b.reduceSum(b.div(count, count), [0, 1], false);
    const w = b.div(b.div(b.mul(mask, gy!), count), rows);
    const rA = b.mul(ratio, A); // d (ratio * A) / d lp
    const dterm = o.lossType === 'cispo' ? b.mul(clamp(b, ratio, null, o.epsilonHigh), A)
      : b.mul(rA, b.add(minShare(b, rA, b.mul(clamp(b, ratio, lo, hi), A)), b.mul(minShare(b, b.mul(clamp(b, ratio, lo, hi), A), rA), inside(b, ratio, lo, hi))));
    const dkl = b.sub(one(b, d), b.exp(d));                               // d kl / d lp
    return [b.mul(w, b.sub(b.mul(dkl, o.beta), dterm)), null, null, null, null];
  })[0];
}

/**
 * train_ppo.py's actor loss over one minibatch: with ratio = exp(lp - old) and n the masked
 * token count (at least 1),
 *   sum(max(-A * ratio, -A * clamp(ratio, 1 - eps, 1 + eps)) * mask) / n + kl_coef * kl_ref,
 *   kl_ref = sum((exp(ref - lp) - (ref - lp) - 1) * mask) / n.
 * lp, old, ref, adv (per token, already masked) and mask: [N, R].
 */
export function ppoPolicyLoss(g: Graph, lp: Tensor, old: Tensor, ref: Tensor, adv: Tensor, mask: Tensor, clipEpsilon: number, klCoef: number): Tensor {
  let ratio: Tensor, count: Tensor, d: Tensor, a: Tensor, c: Tensor;
  const lo = 1 - clipEpsilon, hi = 1 + clipEpsilon;
  return g.group('PpoPolicyLoss', [lp, old, ref, adv, mask], {}, () => {
    ratio = g.exp(g.sub(lp, old));
    a = g.neg(g.mul(adv, ratio));
    c = g.neg(g.mul(adv, clamp(g, ratio, lo, hi)));
    count = g.max(g.reduceSum(mask, [0, 1], false), 1);
    d = g.sub(ref, lp);
    const kl = g.div(g.reduceSum(g.mul(g.sub(g.sub(g.exp(d), d), 1), mask), [0, 1], false), count);
    const pg = g.div(g.reduceSum(g.mul(maximum(g, a, c), mask), [0, 1], false), count);
    return { outputs: [g.add(pg, g.mul(kl, klCoef))] };
  }, ({ g: b, gradOut: [gy] }) => {
    const w = b.div(b.mul(mask, gy!), count);
    // maximum(a, c): a's share minShare(c, a), c's minShare(a, c); d a / d lp = -A * ratio, d c / d lp = that inside the clamp
    const dpg = b.mul(b.neg(b.mul(adv, ratio)), b.add(minShare(b, c, a), b.mul(minShare(b, a, c), inside(b, ratio, lo, hi))));
    const dkl = b.mul(b.sub(one(b, d), b.exp(d)), klCoef);
    return [b.mul(w, b.add(dpg, dkl)), null, null, null, null];
  })[0];
}

/**
 * train_ppo.py's value loss over one minibatch: 0.5 * sum(max((v - R)^2, (clamp(v, old - r,
 * old + r) - R)^2) * mask) / n, with v the critic's values, old its values at the rollout,
 * R the returns, r the value clip range, n the masked count (at least 1). All [N, R].
 */
export function ppoValueLoss(g: Graph, v: Tensor, old: Tensor, returns: Tensor, mask: Tensor, clipRange: number): Tensor {
  let a: Tensor, c: Tensor, vc: Tensor, count: Tensor, lo: Tensor, hi: Tensor;
  return g.group('PpoValueLoss', [v, old, returns, mask], {}, () => {
    lo = g.sub(old, clipRange); hi = g.add(old, clipRange);
    vc = clamp(g, v, lo, hi);
    const e1 = g.sub(v, returns), e2 = g.sub(vc, returns);
    a = g.mul(e1, e1); c = g.mul(e2, e2);
    count = g.max(g.reduceSum(mask, [0, 1], false), 1);
    return { outputs: [g.mul(g.div(g.reduceSum(g.mul(maximum(g, a, c), mask), [0, 1], false), count), 0.5)] };
  }, ({ g: b, gradOut: [gy] }) => {
    const w = b.div(b.mul(mask, b.mul(gy!, 0.5)), count);
    const da = b.mul(b.sub(v, returns), 2), dc = b.mul(b.mul(b.sub(vc, returns), 2), inside(b, v, lo, hi));
    return [b.mul(w, b.add(b.mul(minShare(b, c, a), da), b.mul(minShare(b, a, c), dc))), null, null, null];
  })[0];
}
