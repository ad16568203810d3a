// DPO: the policy trains against a frozen copy of its starting weights. Each step the
// reference session (forward only) gives the summed log-probs of every [chosen; rejected]
// row, which the policy's graph takes as an input of the sigmoid DPO loss.
import { Batch } from '../data/loader.js';
import { MiniMindConfig } from '../model/config.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { ort, SessionOptions } from '../runtime/session.js';
import { StepOutput, Trainee } from './loop.js';

export class DpoTrainee implements Trainee<Batch> {
  readonly trainable: Map<string, Float32Array>;
  private constructor(readonly policy: TrainSession, private reference: TrainSession, params: Params) {
    this.trainable = new Map(policy.trainable.map((n) => [n, params.get(n)!]));
  }

  get shapes(): Map<string, number[]> { return this.policy.shapes; }

  static async create(c: MiniMindConfig, params: Params, beta: number, seqLen: number, so: SessionOptions): Promise<DpoTrainee> {
    const reference = await TrainSession.create(c, { seqLen, objective: { kind: 'seqlogp' }, trainable: () => false }, so);
    reference.bind(new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]))); // frozen copy
    const policy = await TrainSession.create(c, { seqLen, objective: { kind: 'dpo', beta } }, so);
    policy.bind(params);
    return new DpoTrainee(policy, reference, params);
  }

  async step(b: Batch): Promise<StepOutput> {
    const ref = (await this.reference.step(b)).values.seq_logps;
    const r = await this.policy.step(b, { ref_logps: new ort.Tensor('float32', ref, [b.B]) });
    const m = (k: string) => r.values[k][0];
    return { loss: r.loss, grads: r.grads, gradSumSq: r.gradSumSq,
      metrics: { reward_margin: m('reward_margin'), reward_accuracy: m('reward_accuracy'), chosen_reward: m('chosen_reward'), rejected_reward: m('rejected_reward') } };
  }

  async release(): Promise<void> { await this.policy.release(); await this.reference.release(); }
}
