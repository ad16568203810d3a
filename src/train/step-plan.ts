// Which micro-batches each optimizer step takes, as MiniMind's trainers group them: steps
// are counted afresh each epoch, a step takes `perStep` micro-batches (accumulation steps x
// data-parallel ranks), and the last step of an epoch takes what is left (MiniMind's
// train_epoch applies that partial group after its loop). A group never takes batches of
// the next epoch. With --max_steps past the epochs, training goes on into further epochs.

export interface StepBatches {
  epoch: number;
  /** first batch of the epoch this step takes */
  first: number;
  /** micro-batches it takes (perStep, fewer at the end of an epoch) */
  count: number;
}

export class StepPlan {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  constructor(readonly batchesPerEpoch: number, readonly perStep: number, epochs: number, maxSteps?: number) {
    this.stepsPerEpoch = Math.ceil(batchesPerEpoch / perStep);
    this.totalSteps = maxSteps ?? epochs * this.stepsPerEpoch;
  }

  at(step: number): StepBatches {
    const epoch = Math.floor(step / this.stepsPerEpoch), first = (step % this.stepsPerEpoch) * this.perStep;
    return { epoch, first, count: Math.min(this.perStep, this.batchesPerEpoch - first) };
  }

  /** micro-batches consumed before `step` (over all ranks and epochs) */
  microBefore(step: number): number {
    const { epoch, first } = this.at(step);
    return epoch * this.batchesPerEpoch + first;
  }

  /** micro-batches of the whole run */
  get totalMicro(): number { return this.microBefore(this.totalSteps); }
}
