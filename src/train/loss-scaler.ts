// float16 training's dynamic loss scale, with torch.cuda.amp.GradScaler's rules (which
// MiniMind uses for --dtype float16): start at 2^16; a step whose gradients overflowed is
// skipped and halves the scale; 2000 good steps in a row double it.
export class LossScaler {
  constructor(public scale = 2 ** 16, public goodSteps = 0, readonly growthInterval = 2000) {}

  /** Record a step's gradient norm (infinite or NaN: overflow). Returns whether the step was applied. */
  update(gradNorm: number): boolean {
    if (!Number.isFinite(gradNorm)) { this.scale /= 2; this.goodSteps = 0; return false; }
    if (++this.goodSteps === this.growthInterval) { this.scale *= 2; this.goodSteps = 0; }
    return true;
  }
}
