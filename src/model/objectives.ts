// The heads of the post-training stages past DPO, on the model's final hidden states:
// a frozen model's per-token log-probabilities (GRPO's and PPO's reference), a teacher's
// softened log-probabilities and the student's distillation loss, GRPO/CISPO's and PPO's
// policy losses, and PPO's critic (a value head) with its value loss. Every input a loss
// takes per token is [B, T], aligned with `labels`: position t holds what concerns the
// token labels[t] (the token after t); positions whose label is -100 do not count.
import { Graph, Tensor } from '../graph/graph.js';
import { crossEntropy, labelMask, linear, rmsNorm, tokenLogProbs } from '../graph/nn.js';
import { distillationLoss, grpoLoss, GrpoLossOptions, ppoPolicyLoss, ppoValueLoss } from '../graph/policy-losses.js';
import { Rng } from '../util/rng.js';
import { MiniMindConfig } from './config.js';
import { Params } from './params.js';

/** PPO's critic: MiniMind's CriticModel puts a Linear(hidden, 1) with bias on the hidden states */
export const VALUE_HEAD = ['value_head.weight', 'value_head.bias'] as const;
export const valueHeadSpecs = (c: MiniMindConfig) => [{ name: VALUE_HEAD[0], shape: [1, c.hidden_size] }, { name: VALUE_HEAD[1], shape: [1] }];

/** A fresh value head as nn.Linear initialises one: weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden)). */
export function initValueHead(c: MiniMindConfig, seed: number): Params {
  const rng = new Rng(seed), bound = 1 / Math.sqrt(c.hidden_size);
  const u = (n: number) => Float32Array.from({ length: n }, () => (2 * rng.next() - 1) * bound);
  return new Map([[VALUE_HEAD[0], u(c.hidden_size)], [VALUE_HEAD[1], u(1)]]);
}

export type PolicyObjective =
  /** output `token_logps` [B, T]: log p(label) per position (0 where not counted); no loss */
  | { kind: 'tokenlogp' }
  /** output `teacher_logp` [B, T, vocab] = log_softmax(logits[..., :vocab] / temperature); no loss */
  | { kind: 'teacher'; temperature: number; vocab: number }
  /** input `teacher_logp`; loss alpha * (CE + aux) + (1 - alpha) * distillation loss (train_distillation.py) */
  | { kind: 'distill'; alpha: number; temperature: number }
  /** inputs `old_logps`, `ref_logps` [B, T], `advantages` [B]; loss: grpoLoss + aux (train_grpo.py) */
  | ({ kind: 'grpo' } & GrpoLossOptions)
  /** inputs `old_logps`, `ref_logps`, `advantages` [B, T], `loss_weight` []; loss: (ppoPolicyLoss + aux) * loss_weight */
  | { kind: 'ppo_actor'; clipEpsilon: number; klCoef: number }
  /** the critic (value head, extra params VALUE_HEAD): output `values` [B, T]; no loss */
  | { kind: 'values' }
  /** the critic; inputs `old_values`, `returns` [B, T], `loss_weight` []; loss: vf_coef * ppoValueLoss * loss_weight */
  | { kind: 'ppo_critic'; clipRange: number; vfCoef: number };

export const isPolicyObjective = (o: { kind: string }): o is PolicyObjective =>
  ['tokenlogp', 'teacher', 'distill', 'grpo', 'ppo_actor', 'values', 'ppo_critic'].includes(o.kind);

/** What a head adds: the loss (null: a forward-only graph) and its outputs. */
export interface Head { loss: Tensor | null }

/**
 * The head of `o` on x [B, T, d] (after the final norm), with the tied embedding E, the
 * labels, the MoE aux loss and a weight lookup (for the value head). Writes its outputs.
 */
export function policyHead(g: Graph, c: MiniMindConfig, o: PolicyObjective, x: Tensor, E: Tensor, labels: Tensor, aux: Tensor | null, p: (name: string) => Tensor): Head {
  const ft = g.floatType, B = labels.shape[0], T = labels.shape[1];
  const mask = () => labelMask(g, labels, ft);
  const withAux = (t: Tensor) => (aux ? g.add(t, aux) : t);
  const maskedMean = (t: Tensor, m: Tensor) => g.div(g.reduceSum(g.mul(t, m), [0, 1], false), g.max(g.reduceSum(m, [0, 1], false), 1));
  switch (o.kind) {
    case 'tokenlogp':
      g.output(tokenLogProbs(g, x, E, labels), 'token_logps');
      return { loss: null };
    case 'teacher': {
      let logits = linear(g, x, E);
      if (o.vocab < c.vocab_size) logits = g.slice(logits, 2, 0, o.vocab); // train_distillation.py: teacher_logits[..., :vocab_size_student]
      g.output(g.logSoftmax(g.div(logits, o.temperature), -1), 'teacher_logp');
      return { loss: null };
    }
    case 'distill': {
      const V = c.vocab_size;
      const logits = g.reshape(linear(g, x, E), [-1, V]);
      const ce = crossEntropy(g, logits, g.reshape(labels, [-1]));
      const teacher = g.reshape(g.input('teacher_logp', ft, [B, T, V]), [-1, V]);
      const kd = distillationLoss(g, logits, teacher, g.reshape(mask(), [-1]), o.temperature);
      g.output(ce, 'ce_loss');
      g.output(kd, 'distill_loss');
      if (aux) g.output(aux, 'aux_loss');
      const loss = g.add(g.mul(withAux(ce), o.alpha), g.mul(kd, 1 - o.alpha));
      g.output(loss, 'loss');
      return { loss };
    }
    case 'grpo': {
      const lp = tokenLogProbs(g, x, E, labels), m = mask();
      const ref = g.input('ref_logps', ft, [B, T]);
      const policy = grpoLoss(g, lp, g.input('old_logps', ft, [B, T]), ref, g.input('advantages', ft, [B]), m, o);
      g.output(policy, 'policy_loss');
      g.output(maskedMean(g.sub(ref, lp), m), 'kl_ref'); // train_grpo.py's logged KL_ref
      if (aux) g.output(aux, 'aux_loss');
      const loss = withAux(policy);
      g.output(loss, 'loss');
      return { loss };
    }
    case 'ppo_actor': {
      const lp = tokenLogProbs(g, x, E, labels), m = mask();
      const old = g.input('old_logps', ft, [B, T]), ref = g.input('ref_logps', ft, [B, T]);
      const policy = ppoPolicyLoss(g, lp, old, ref, g.input('advantages', ft, [B, T]), m, o.clipEpsilon, o.klCoef);
      // train_ppo.py's diagnostics: approx_kl = mean(0.5 * log_ratio^2), clipfrac = share of |ratio - 1| > eps, kl_ref
      const logRatio = g.sub(lp, old), d = g.sub(ref, lp);
      g.output(maskedMean(g.mul(g.mul(logRatio, logRatio), 0.5), m), 'approx_kl');
      g.output(maskedMean(g.cast(g.greater(g.abs(g.sub(g.exp(logRatio), 1)), g.scalar(o.clipEpsilon, ft)), ft), m), 'clipfrac');
      g.output(maskedMean(g.sub(g.sub(g.exp(d), d), 1), m), 'kl_ref');
      g.output(policy, 'policy_loss');
      if (aux) g.output(aux, 'aux_loss');
      const loss = g.mul(withAux(policy), g.input('loss_weight', ft, []));
      g.output(loss, 'loss');
      return { loss };
    }
    case 'values':
    case 'ppo_critic': {
      // CriticModel.forward: value_head(model.norm(hidden)), where MiniMindModel's hidden states are normed already
      const h = rmsNorm(g, x, p('model.norm.weight'), c.rms_norm_eps);
      const values = g.squeeze(g.add(linear(g, h, p(VALUE_HEAD[0])), p(VALUE_HEAD[1])), [2]);
      if (o.kind === 'values') { g.output(values, 'values'); return { loss: null }; }
      const vl = ppoValueLoss(g, values, g.input('old_values', ft, [B, T]), g.input('returns', ft, [B, T]), mask(), o.clipRange);
      g.output(vl, 'value_loss');
      const loss = g.mul(g.mul(vl, o.vfCoef), g.input('loss_weight', ft, []));
      g.output(loss, 'loss');
      return { loss };
    }
  }
}
