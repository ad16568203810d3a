// Training throughput of a full optimizer step (forward, backward, clipping, AdamW) on
// random tokens, as ../shared/bench/torch_baseline.py measures PyTorch.
import { MiniMindConfig } from '../model/config.js';
import { initParams } from '../model/params.js';
import { TrainSession } from '../model/train-session.js';
import { AdamW, clipScale } from '../runtime/optimizer.js';
import { SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { machine, median, peakRssMb, timeIt } from './stats.js';

export async function benchTrain(c: MiniMindConfig, B: number, T: number, so: SessionOptions, warmup = 2, timed = 5, attnChunks?: number): Promise<Record<string, unknown>> {
  const params = initParams(c);
  const t0 = performance.now();
  const sess = await TrainSession.create(c, { seqLen: T, attnChunks }, so);
  const buildS = (performance.now() - t0) / 1000;
  sess.bind(params);
  const rng = new Rng(0);
  const rand = () => BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(c.vocab_size)));
  const ids = rand(), labels = rand();
  const opt = new AdamW();
  const losses: number[] = [];
  const times = await timeIt(async () => {
    const r = await sess.step({ ids, labels, B, T });
    opt.update(params, r.grads, 1e-4, clipScale(Math.sqrt(r.gradSumSq), 1)); // as the training loop does
    losses.push(r.loss);
  }, warmup, timed);
  await sess.release();
  const s = median(times);
  return { bench: 'train', batch_size: B, max_seq_len: T, params: [...params.values()].reduce((p, a) => p + a.length, 0),
    tokens_per_s: (B * T) / s, s_per_step: s, step_times_s: times, peak_rss_mb: peakRssMb(), session_build_s: buildS,
    loss_first: losses[0], loss_last: losses[losses.length - 1], provider: sess.session.provider, ...machine() };
}
