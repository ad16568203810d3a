// The Trainee of the language-model stages (pretrain, SFT, LoRA): a training session over
// the model's weights, of which `trainable` are updated.
import { Batch } from '../data/loader.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { SessionOptions } from '../runtime/session.js';
import { StepOutput, Trainee } from './loop.js';

export class LMTrainee implements Trainee<Batch> {
  readonly trainable = new Map<string, Float32Array>();
  private constructor(readonly session: TrainSession, readonly all: Params) {
    for (const n of session.trainable) this.trainable.set(n, all.get(n)!);
  }

  get shapes(): Map<string, number[]> { return this.session.shapes; }

  static async create(c: MiniMindConfig, params: Params, build: BuildOptions, so: SessionOptions): Promise<LMTrainee> {
    const s = await TrainSession.create(c, build, so);
    s.bind(params);
    return new LMTrainee(s, params);
  }

  async step(b: Batch): Promise<StepOutput> {
    const r = await this.session.step(b);
    const metrics: Record<string, number> = {};
    if (r.auxLoss) { metrics.aux_loss = r.auxLoss; metrics.lm_loss = r.lmLoss; }
    return { loss: r.loss, grads: r.grads, gradSumSq: r.gradSumSq, metrics };
  }

  release(): Promise<void> { return this.session.release(); }
}
