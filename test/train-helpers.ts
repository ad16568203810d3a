// Helpers of the training tests: a trainee that records what each micro-batch returned,
// and comparisons of weights.
import { Trainee, StepOutput } from '../src/train/loop.js';

/** `t`, noting every micro-batch's output in `seen` (and calling `before` with the call's index first). */
export function recording<B>(t: Trainee<B>, seen: StepOutput[], before?: (call: number, lossScale: number) => number | void): Trainee<B> {
  const r: Trainee<B> = Object.create(t);
  r.step = async (batch, scalars, lossScale = 1) => {
    const scale = before?.(seen.length, lossScale) ?? lossScale;
    const out = await t.step(batch, scalars, scale);
    seen.push(out);
    return out;
  };
  return r;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export const bitsEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
