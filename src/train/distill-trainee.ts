// Knowledge distillation (MiniMind's train_distillation.py): the student trains on
// alpha * CE + (1 - alpha) * T^2 KL(teacher || student) at temperature T. The teacher is any
// loadable model, frozen: a forward-only session (no gradients, no optimizer state) whose
// softened log-probabilities the student's graph takes as an input, as DPO's reference
// model gives its log-probs.
import { Batch } from '../data/loader.js';
import { AdamWScalars } from '../graph/adamw.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Params } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { ort, SessionOptions } from '../runtime/session.js';
import { UserError } from '../util/errors.js';
import { StepOutput } from './loop.js';
import { SessionTrainee } from './session-trainee.js';

export interface DistillOptions {
  /** weight of the cross-entropy (MiniMind: 0.5); the distillation loss gets 1 - alpha */
  alpha: number;
  /** softening temperature of both distributions (MiniMind: 1.5) */
  temperature: number;
}

export class DistillTrainee extends SessionTrainee<Batch> {
  private constructor(student: TrainSession, private teacher: TrainSession, private vocab: number) { super(student); }

  /** build: seqLen, update (see updateMode) and mixed precision of the student */
  static async create(c: MiniMindConfig, params: Params, teacher: { config: MiniMindConfig; params: Params }, o: DistillOptions,
    build: Pick<BuildOptions, 'seqLen' | 'update' | 'matmulType' | 'lossScaling'>, so: SessionOptions): Promise<DistillTrainee> {
    if (teacher.config.vocab_size < c.vocab_size) {
      throw new UserError(`the teacher's vocabulary (${teacher.config.vocab_size}) is smaller than the student's (${c.vocab_size}): distillation compares them token by token`);
    }
    const t = await TrainSession.create(teacher.config, { seqLen: build.seqLen, matmulType: build.matmulType, trainable: () => false,
      objective: { kind: 'teacher', temperature: o.temperature, vocab: c.vocab_size } }, so);
    t.bind(teacher.params);
    const student = await TrainSession.create(c, { ...build, update: build.update ?? 'adamw', objective: { kind: 'distill', alpha: o.alpha, temperature: o.temperature } }, so);
    student.bind(params);
    return new DistillTrainee(student, t, c.vocab_size);
  }

  get metricNames(): string[] { return ['ce_loss', 'distill_loss', ...(this.moe ? ['aux_loss'] : [])]; }

  async step(b: Batch, scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput> {
    const teacherLogp = (await this.teacher.step(b)).values.teacher_logp;
    const r = await this.session.step(b, { teacher_logp: new ort.Tensor('float32', teacherLogp, [b.B, b.T, this.vocab]) }, scalars, lossScale);
    const metrics: Record<string, number> = { ce_loss: r.values.ce_loss[0], distill_loss: r.values.distill_loss[0] };
    if (this.moe) metrics.aux_loss = r.auxLoss;
    return { loss: r.loss, gradNorm: r.gradNorm, metrics };
  }

  override async release(): Promise<void> { await super.release(); await this.teacher.release(); }
}
