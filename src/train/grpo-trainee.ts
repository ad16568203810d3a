// GRPO and CISPO (MiniMind-3's train_grpo.py). Each micro-batch of prompts: the rollout
// engine samples num_generations completions per prompt with the policy's current weights
// (their log-probabilities are the "old" ones), the rewards are computed and normalised
// within each prompt's group, a frozen copy of the starting model gives the reference
// log-probabilities, and one graph run takes the policy loss's forward, backward and update.
import { PromptBatch, promptIds } from '../data/prompts.js';
import { AdamWScalars } from '../graph/adamw.js';
import { GrpoLossOptions } from '../graph/policy-losses.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { ort, SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { StepOutput } from './loop.js';
import { groupAdvantages } from './rewards.js';
import { RolloutEngine, RolloutRow } from './rollout.js';
import { RolloutBatch } from './rollout-batch.js';
import { RewardReporter, RlOptions, rolloutRewards, rolloutRng } from './rl-common.js';
import { SessionTrainee } from './session-trainee.js';

export interface GrpoOptions extends GrpoLossOptions, RlOptions {}

export class GrpoTrainee extends SessionTrainee<PromptBatch> {
  private constructor(policy: TrainSession, private reference: TrainSession, private engine: RolloutEngine, private tokenizer: MiniTokenizer | null,
    private o: GrpoOptions, private report: RewardReporter, private fillId: number) { super(policy); }

  /**
   * build: update (see updateMode) and mixed precision; the sequence length follows each
   * rollout. Without a tokenizer (bench) the trainee takes token ids only: rollout() and train().
   */
  static async create(c: MiniMindConfig, params: Params, tok: MiniTokenizer | null, o: GrpoOptions, build: Pick<BuildOptions, 'update' | 'matmulType' | 'lossScaling'>,
    so: SessionOptions, report: RewardReporter): Promise<GrpoTrainee> {
    const reference = await TrainSession.create(c, { matmulType: build.matmulType, objective: { kind: 'tokenlogp' }, trainable: () => false }, so);
    reference.bind(new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]))); // frozen copy
    const policy = await TrainSession.create(c, { ...build, update: build.update ?? 'adamw',
      objective: { kind: 'grpo', lossType: o.lossType, beta: o.beta, epsilon: o.epsilon, epsilonHigh: o.epsilonHigh } }, so);
    policy.bind(params);
    const engine = new RolloutEngine(c, async () => new Map([...params, ...(await policy.weights())]), o.rolloutWeights, so);
    return new GrpoTrainee(policy, reference, engine, tok, o, report, tok?.eosId ?? c.eos_token_id);
  }

  private get tok(): MiniTokenizer {
    if (!this.tokenizer) throw new Error('GrpoTrainee: made without a tokenizer, it takes token ids (rollout, train)');
    return this.tokenizer;
  }

  /** The micro-batch's completions of these prompts (token ids), sampled with its own random stream. */
  rollout(prompts: number[][], b: Pick<PromptBatch, 'epoch' | 'batch'>): Promise<RolloutRow[]> {
    return this.engine.rollout(prompts, this.o.rollout, rolloutRng(this.o.seed, b));
  }

  /** what the last rollout cost */
  get rolloutStats() { return this.engine.last; }

  get metricNames(): string[] {
    return ['reward', 'kl_ref', 'advantages_std', 'advantages_mean', 'policy_loss', 'avg_response_len', 'reward_errors', ...(this.moe ? ['aux_loss'] : [])];
  }

  async step(b: PromptBatch, scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput> {
    const prompts = await Promise.all(b.prompts.map((p) => promptIds(this.tok, p, this.o.maxPromptLen)));
    const rows = await this.rollout(prompts, b);
    const { texts, rewards } = await rolloutRewards(this.tok, this.o.rewards, b.prompts, rows);
    this.report(rewards, b);
    if (this.o.debug) this.o.debug(b, await Promise.all(prompts.map((p) => this.tok.decode(p))), texts, rewards.rewards);
    const out = await this.train(rows, rewards.rewards, scalars, lossScale);
    out.metrics!.reward_errors = rewards.errors.length;
    // tokens_per_s counts the sampled tokens (the rollout's own speed: bench --mode grpo)
    return { ...out, tokens: this.engine.last.tokens };
  }

  /** One update on rollouts with their rewards (the fixtures replay MiniMind's rollouts through this). */
  async train(rows: RolloutRow[], rewards: number[], scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput> {
    const G = this.o.rollout.numGenerations, rb = new RolloutBatch(rows, this.fillId), { B, T } = rb.batch;
    const adv = groupAdvantages(rewards, G);
    const ref = (await this.reference.step(rb.batch)).values.token_logps;
    const t = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
    const r = await this.session.step(rb.batch, {
      old_logps: t(rb.spread((i, k) => rows[i].logps[k]), [B, T]), ref_logps: t(ref, [B, T]), advantages: t(Float32Array.from(adv), [B]),
    }, scalars, lossScale);
    const finite = rewards.filter(Number.isFinite), mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
    const advMean = mean(adv), advStd = Math.sqrt(adv.reduce((s, x) => s + (x - advMean) ** 2, 0) / Math.max(adv.length - 1, 1));
    const metrics: Record<string, number> = {
      reward: mean(finite), kl_ref: r.values.kl_ref[0], advantages_std: advStd, advantages_mean: advMean, policy_loss: r.values.policy_loss[0],
      avg_response_len: mean(rows.map((_, i) => rb.trained(i))),
    };
    if (this.moe) metrics.aux_loss = r.auxLoss;
    return { loss: r.loss, gradNorm: r.gradNorm, metrics };
  }

  override async release(): Promise<void> { await super.release(); await this.reference.release(); await this.engine.release(); }
}
