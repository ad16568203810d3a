// The Trainee of the language-model stages (pretrain, SFT, LoRA): a training session over
// the model's weights, of which `trainable` are updated.
import { Batch } from '../data/loader.js';
import { AdamWScalars } from '../graph/adamw.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { SessionOptions } from '../runtime/session.js';
import { StepOutput } from './loop.js';
import { SessionTrainee } from './session-trainee.js';

export class LMTrainee extends SessionTrainee<Batch> {
  /** build.update: 'adamw' (default) or 'accumulate' (see updateMode) */
  static async create(c: MiniMindConfig, params: Params, build: BuildOptions, so: SessionOptions): Promise<LMTrainee> {
    const s = await TrainSession.create(c, { update: 'adamw', ...build }, so);
    s.bind(params);
    return new LMTrainee(s);
  }

  get metricNames(): string[] { return this.moe ? ['aux_loss', 'lm_loss'] : []; }

  async step(b: Batch, scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput> {
    const r = await this.session.step(b, {}, scalars, lossScale);
    const metrics: Record<string, number> = {};
    if (this.moe) { metrics.aux_loss = r.auxLoss; metrics.lm_loss = r.lmLoss; }
    return { loss: r.loss, gradNorm: r.gradNorm, metrics };
  }
}
