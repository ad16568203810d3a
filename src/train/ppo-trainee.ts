// PPO (MiniMind-3's train_ppo.py): an actor (the policy), a critic (the model with a value
// head, its own AdamW and learning rate), a frozen reference and the rollout engine. Each
// batch of prompts: one completion per prompt, rewarded at its last token; the critic's
// values at the rollout give GAE advantages (gamma, lambda) and returns, the advantages are
// whitened over the batch; then --ppo_update_iters passes over shuffled minibatches, each
// one update of actor (clipped ratio + KL to the reference) and critic (clipped value loss),
// every --accumulation_steps minibatches. A pass whose approximate KL to the rollout policy
// exceeds --early_stop_kl zeroes the rest of its minibatches' losses and ends the updates.
import { PromptBatch, promptIds } from '../data/prompts.js';
import { drawKey } from '../data/variants.js';
import { writeSafetensors } from '../io/safetensors.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { valueHeadSpecs } from '../model/objectives.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { ort, SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { StepOutput, Trainee, UpdateClock } from './loop.js';
import { RewardReporter, RlOptions, rolloutRewards, rolloutRng } from './rl-common.js';
import { RolloutEngine, RolloutRow } from './rollout.js';
import { RolloutBatch } from './rollout-batch.js';

export interface PpoOptions extends RlOptions {
  clipEpsilon: number; vfCoef: number; klCoef: number; gamma: number; lam: number; clipRangeValue: number;
  ppoUpdateIters: number; earlyStopKl: number; miniBatchSize: number;
  /** minibatches per optimizer update (MiniMind's --accumulation_steps) */
  accumulationSteps: number;
  /** the critic's learning rate over the actor's (both follow the schedule) */
  criticLrScale: number;
  /** prompts per batch (for the nominal update count of the schedule) */
  batchSize: number;
}

/** The critic's weight names in checkpoints: `critic.` before the model's names. */
export const CRITIC = 'critic.';

/** What one PPO batch computed before its updates (the fixtures replay MiniMind's through PpoTrainee.update). */
export interface PpoRollout {
  rows: RolloutRow[];
  rewards: number[];
}

/** What the last batch's updates did, minibatch by minibatch and update by update (MiniMind's per-step view). */
export interface PpoTrace {
  /** each minibatch's (policy loss + vf_coef * value loss + aux) / accumulation_steps, 0 once stopped (what MiniMind backpropagates) */
  losses: number[];
  updates: { actorNorm: number; criticNorm: number; actorLr: number; criticLr: number }[];
}

export class PpoTrainee implements Trainee<PromptBatch> {
  readonly update = 'adamw' as const;
  readonly shapes: Map<string, number[]>;
  readonly selfUpdating: { updatesPerStep: number };
  /** the last batch's minibatches and updates */
  trace: PpoTrace = { losses: [], updates: [] };

  private constructor(private actor: TrainSession, private critic: TrainSession, private criticForward: TrainSession, private reference: TrainSession,
    private engine: RolloutEngine, private tok: MiniTokenizer, private criticParams: Params, private o: PpoOptions, private report: RewardReporter) {
    this.shapes = new Map([...actor.trainable.map((n) => [n, actor.shapes.get(n)!] as const), ...critic.trainable.map((n) => [CRITIC + n, critic.shapes.get(n)!] as const)]);
    const mb = Math.max(1, Math.min(o.miniBatchSize, o.batchSize));
    // train_ppo.py's total_optimizer_steps per batch: ppo_update_iters * ceil(batch / minibatch) / accumulation
    this.selfUpdating = { updatesPerStep: (o.ppoUpdateIters * Math.ceil(o.batchSize / mb)) / o.accumulationSteps };
  }

  /**
   * params: the starting model (actor; the critic starts from a copy of it, the reference is
   * a frozen copy); critic: the value head's weights (and any others to start from).
   */
  static async create(c: MiniMindConfig, params: Params, valueHead: Params, tok: MiniTokenizer, o: PpoOptions, build: Pick<BuildOptions, 'matmulType' | 'lossScaling'>,
    so: SessionOptions, report: RewardReporter): Promise<PpoTrainee> {
    if (build.lossScaling) throw new UserError('ppo: --dtype float16 (loss scaling) is not supported; use --dtype bfloat16 or float32');
    const copy = (p: Params) => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));
    const extraParams = valueHeadSpecs(c), mm = { matmulType: build.matmulType };
    const reference = await TrainSession.create(c, { ...mm, objective: { kind: 'tokenlogp' }, trainable: () => false }, so);
    reference.bind(copy(params));
    const actor = await TrainSession.create(c, { ...mm, update: 'accumulate', objective: { kind: 'ppo_actor', clipEpsilon: o.clipEpsilon, klCoef: o.klCoef } }, so);
    actor.bind(params);
    const criticParams = new Map([...copy(params), ...valueHead]);
    const critic = await TrainSession.create(c, { ...mm, extraParams, update: 'accumulate', objective: { kind: 'ppo_critic', clipRange: o.clipRangeValue, vfCoef: o.vfCoef } }, so);
    critic.bind(criticParams);
    const criticForward = await TrainSession.create(c, { ...mm, extraParams, objective: { kind: 'values' }, trainable: () => false }, so);
    const engine = new RolloutEngine(c, async () => new Map([...params, ...(await actor.weights())]), o.rolloutWeights, so);
    return new PpoTrainee(actor, critic, criticForward, reference, engine, tok, criticParams, o, report);
  }

  get metricNames(): string[] {
    return ['reward', 'kl_ref', 'approx_kl', 'clipfrac', 'policy_loss', 'critic_loss', 'avg_response_len', 'updates', 'reward_errors'];
  }

  async step(b: PromptBatch, _scalars?: unknown, _lossScale?: number, clock?: UpdateClock): Promise<StepOutput> {
    if (!clock) throw new Error('PpoTrainee.step: needs the update clock of a self-updating trainee');
    const prompts = await Promise.all(b.prompts.map((p) => promptIds(this.tok, p, this.o.maxPromptLen)));
    const rows = await this.engine.rollout(prompts, this.o.rollout, rolloutRng(this.o.seed, b));
    const { texts, rewards } = await rolloutRewards(this.tok, this.o.rewards, b.prompts, rows);
    this.report(rewards, b);
    if (this.o.debug) this.o.debug(b, await Promise.all(prompts.map((p) => this.tok.decode(p))), texts, rewards.rewards);
    // failed rewards (NaN) count as 0 here: GAE has no group to leave them out of
    const out = await this.train({ rows, rewards: rewards.rewards.map((r) => (Number.isFinite(r) ? r : 0)) }, clock,
      (B) => { const rng = new Rng(drawKey(this.o.seed ^ 0x33c7, b.epoch, b.batch)); return Array.from({ length: this.o.ppoUpdateIters }, () => [...rng.permutation(B)]); });
    out.metrics!.reward_errors = rewards.errors.length;
    // tokens_per_s counts the sampled tokens (the rollout's own speed: bench --mode grpo)
    return { ...out, tokens: this.engine.last.tokens };
  }

  /**
   * The updates on one batch of rollouts: values, GAE, whitened advantages, then minibatch
   * passes in the orders `orders(B)` gives (one permutation of 0..B-1 per pass).
   */
  async train(r: PpoRollout, clock: UpdateClock, orders: (B: number) => number[][]): Promise<StepOutput> {
    const o = this.o, rows = r.rows, B = rows.length;
    const all = new RolloutBatch(rows, this.tok.eosId);
    // the critic's and the reference's view of the rollouts, before any update
    this.criticForward.bind(new Map([...this.criticParams, ...(await this.critic.weights())]));
    const values = (await this.criticForward.step(all.batch)).values.values;
    const ref = (await this.reference.step(all.batch)).values.token_logps;
    const oldValues = rows.map((row, b) => all.gather(values, b).map((v, k) => v * row.mask[k]));
    const { advantages, returns } = gae(rows, r.rewards, oldValues, o.gamma, o.lam);
    const refRows = rows.map((_, b) => all.gather(ref, b));

    const mb = Math.max(1, Math.min(o.miniBatchSize, B)), acc = o.accumulationSteps;
    const sums: Record<string, number> = { policy_loss: 0, critic_loss: 0, approx_kl: 0, kl_ref: 0, clipfrac: 0 };
    let count = 0, updates = 0, inGroup = 0, gradNorm = NaN, stop = false;
    this.trace = { losses: [], updates: [] };
    const apply = async () => {
      const a = clock(updates), c = clock(updates, o.criticLrScale);
      gradNorm = await this.actor.apply({ ...a, grad_scale: 1 / acc });
      const criticNorm = await this.critic.apply({ ...c, grad_scale: 1 / acc });
      this.trace.updates.push({ actorNorm: gradNorm, criticNorm, actorLr: a.lr, criticLr: c.lr });
      updates++; inGroup = 0;
    };
    for (const order of orders(B)) {
      if (stop) break;
      for (let i = 0; i < B; i += mb) {
        const idx = order.slice(i, i + mb), sub = new RolloutBatch(idx.map((j) => rows[j]), this.tok.eosId), { B: n, T } = sub.batch;
        const t = (f: (b: number, k: number) => number) => new ort.Tensor('float32', sub.spread((b, k) => f(idx[b], k)), [n, T]);
        // the actor's gradient joins the group's sums; a minibatch over the KL limit takes its share out again
        const before = inGroup > 0 ? await this.actor.accumulators().then((a) => a.map((x) => Float32Array.from(x))) : null;
        const a = await this.actor.step(sub.batch, {
          old_logps: t((j, k) => rows[j].logps[k]), ref_logps: t((j, k) => refRows[j][k]), advantages: t((j, k) => advantages[j][k]),
          loss_weight: new ort.Tensor('float32', new Float32Array([1]), []),
        });
        const approxKl = a.values.approx_kl[0];
        if (approxKl > o.earlyStopKl) stop = true;
        // train_ppo.py: once stopped, the losses of the pass's remaining minibatches are zeroed, its own included
        if (stop) await this.actor.setAccumulators(before ?? this.actor.trainable.map((n) => new Float32Array(this.actor.shapes.get(n)!.reduce((p, d) => p * d, 1))));
        const c = await this.critic.step(sub.batch, {
          old_values: t((j, k) => oldValues[j][k]), returns: t((j, k) => returns[j][k]), loss_weight: new ort.Tensor('float32', new Float32Array([stop ? 0 : 1]), []),
        });
        this.trace.losses.push(stop ? 0 : (a.loss + o.vfCoef * c.values.value_loss[0]) / acc);
        sums.policy_loss += a.values.policy_loss[0]; sums.critic_loss += c.values.value_loss[0]; sums.approx_kl += approxKl;
        sums.kl_ref += a.values.kl_ref[0]; sums.clipfrac += a.values.clipfrac[0]; count++;
        if (++inGroup === acc) await apply();
      }
    }
    if (inGroup > 0) await apply();
    const metrics: Record<string, number> = { reward: mean(r.rewards), avg_response_len: mean(rows.map((_, b) => all.trained(b))), updates };
    for (const [k, v] of Object.entries(sums)) metrics[k] = v / Math.max(count, 1);
    return { loss: metrics.policy_loss + o.vfCoef * metrics.critic_loss, gradNorm, metrics, updates };
  }

  /** Write the critic (the model's weights and value_head.weight/bias) as safetensors. */
  async saveCritic(file: string): Promise<void> {
    const w = new Map([...this.criticParams, ...(await this.critic.weights())]);
    writeSafetensors(file, new Map([...w].map(([k, data]) => [k, { shape: this.critic.shapes.get(k)!, data }])));
  }

  async snapshot() {
    const a = await this.actor.snapshot(), c = await this.critic.snapshot();
    const join = (x: Map<string, Float32Array>, y: Map<string, Float32Array>) => new Map([...x, ...[...y].map(([k, v]) => [CRITIC + k, v] as const)]);
    return { weights: join(a.weights, c.weights), m: join(a.m, c.m), v: join(a.v, c.v) };
  }

  async restore(w: Map<string, Float32Array>, m: Map<string, Float32Array>, v: Map<string, Float32Array>): Promise<void> {
    const part = (x: Map<string, Float32Array>, critic: boolean) => new Map([...x].filter(([k]) => k.startsWith(CRITIC) === critic).map(([k, a]) => [critic ? k.slice(CRITIC.length) : k, a]));
    await this.actor.restore(part(w, false), part(m, false), part(v, false));
    await this.critic.restore(part(w, true), part(m, true), part(v, true));
  }

  accumulators(): Promise<Float32Array[]> { throw new Error('PpoTrainee updates itself'); }
  setAccumulators(): Promise<void> { throw new Error('PpoTrainee updates itself'); }
  apply(): Promise<number> { throw new Error('PpoTrainee updates itself'); }

  async release(): Promise<void> {
    for (const s of [this.actor, this.critic, this.criticForward, this.reference]) await s.release();
    await this.engine.release();
  }
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);

/**
 * train_ppo.py's GAE: the reward at each completion's last token, values masked to the
 * completion (0 after it), advantages by the backward recursion delta_t + gamma * lam *
 * A_{t+1}, returns = advantages + values; then the advantages whitened over every counted
 * token of the batch ((A - mean) / sqrt(var + 1e-8), 0 where not counted).
 */
export function gae(rows: RolloutRow[], rewards: number[], values: number[][], gamma: number, lam: number): { advantages: number[][]; returns: number[][] } {
  const raw = rows.map((row, b) => {
    const L = row.completion.length, adv = new Array<number>(L).fill(0);
    let last = 0;
    for (let t = L - 1; t >= 0; t--) {
      const next = t + 1 < L ? values[b][t + 1] : 0;
      const delta = (t === L - 1 ? rewards[b] : 0) + gamma * next - values[b][t];
      last = delta + gamma * lam * last;
      adv[t] = last;
    }
    return adv;
  });
  const returns = raw.map((adv, b) => adv.map((a, t) => a + values[b][t]));
  let n = 0, sum = 0;
  rows.forEach((row, b) => row.mask.forEach((m, t) => { if (m) { n++; sum += raw[b][t]; } }));
  const mu = sum / Math.max(n, 1);
  let v = 0;
  rows.forEach((row, b) => row.mask.forEach((m, t) => { if (m) v += (raw[b][t] - mu) ** 2; }));
  const inv = 1 / Math.sqrt(v / Math.max(n, 1) + 1e-8);
  return { advantages: raw.map((adv, b) => adv.map((a, t) => (rows[b].mask[t] ? (a - mu) * inv : 0))), returns };
}
