// DPO: the policy trains against a frozen copy of its starting weights. Each step the
// reference session (forward only) gives the summed log-probs of every [chosen; rejected]
// row, which the policy's graph takes as an input of the sigmoid DPO loss.
import { Batch } from '../data/loader.js';
import { AdamWScalars } from '../graph/adamw.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { ort, SessionOptions } from '../runtime/session.js';
import { StepOutput } from './loop.js';
import { SessionTrainee } from './session-trainee.js';

export class DpoTrainee extends SessionTrainee<Batch> {
  private constructor(policy: TrainSession, private reference: TrainSession) { super(policy); }

  /** build: seqLen, update (see updateMode) and mixed precision */
  static async create(c: MiniMindConfig, params: Params, beta: number, build: Pick<BuildOptions, 'seqLen' | 'update' | 'matmulType' | 'lossScaling'>, so: SessionOptions): Promise<DpoTrainee> {
    const reference = await TrainSession.create(c, { seqLen: build.seqLen, matmulType: build.matmulType, objective: { kind: 'seqlogp' }, trainable: () => false }, so);
    reference.bind(new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]))); // frozen copy
    const policy = await TrainSession.create(c, { ...build, update: build.update ?? 'adamw', objective: { kind: 'dpo', beta } }, so);
    policy.bind(params);
    return new DpoTrainee(policy, reference);
  }

  get metricNames(): string[] { return ['reward_margin', 'reward_accuracy', 'chosen_reward', 'rejected_reward', ...(this.moe ? ['aux_loss', 'dpo_loss'] : [])]; }

  async step(b: Batch, scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput> {
    const ref = (await this.reference.step(b)).values.seq_logps;
    const r = await this.session.step(b, { ref_logps: new ort.Tensor('float32', ref, [b.B]) }, scalars, lossScale);
    const m = (k: string) => r.values[k][0];
    // MoE: the loss is the DPO loss plus the policy's aux loss, as MiniMind's train_dpo.py
    const moe: Record<string, number> = this.moe ? { aux_loss: r.auxLoss, dpo_loss: r.loss - r.auxLoss } : {};
    return { loss: r.loss, gradNorm: r.gradNorm,
      metrics: { reward_margin: m('reward_margin'), reward_accuracy: m('reward_accuracy'), chosen_reward: m('chosen_reward'), rejected_reward: m('rejected_reward'), ...moe } };
  }

  override async release(): Promise<void> { await super.release(); await this.reference.release(); }
}
