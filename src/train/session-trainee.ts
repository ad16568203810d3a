// What the language-model and DPO trainees share: a training session whose graph ends in
// the optimizer step or in gradient accumulators, and the state behind it.
import { AdamWScalars } from '../graph/adamw.js';
import { TrainSession } from '../model/train-session.js';
import { StepOutput, Trainee } from './loop.js';

export abstract class SessionTrainee<B> implements Trainee<B> {
  readonly shapes: Map<string, number[]>;
  constructor(protected readonly session: TrainSession) {
    this.shapes = new Map(session.trainable.map((n) => [n, session.shapes.get(n)!]));
  }

  get update(): Trainee<B>['update'] {
    const u = this.session.update;
    if (u === 'gradients') throw new Error('a trainee needs a graph that updates or accumulates');
    return u;
  }

  abstract step(batch: B, scalars?: AdamWScalars, lossScale?: number): Promise<StepOutput>;
  abstract readonly metricNames: readonly string[];
  /** the graph adds a MoE aux loss */
  protected get moe(): boolean { return this.session.session.ort.outputNames.includes('aux_loss'); }
  get lossScaled(): boolean { return this.session.lossScaled; }
  accumulators(): Promise<Float32Array[]> { return this.session.accumulators(); }
  setAccumulators(sums: Float32Array[]): Promise<void> { return this.session.setAccumulators(sums); }
  apply(scalars: AdamWScalars): Promise<number> { return this.session.apply(scalars); }
  snapshot() { return this.session.snapshot(); }
  restore(w: Map<string, Float32Array>, m: Map<string, Float32Array>, v: Map<string, Float32Array>): Promise<void> { return this.session.restore(w, m, v); }
  release(): Promise<void> { return this.session.release(); }
}
