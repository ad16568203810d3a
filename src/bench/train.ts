// Training throughput of full optimizer steps (forward, backward, clipping, AdamW: one graph) on
// random tokens, as ../shared/bench/torch_baseline.py measures PyTorch. Modes: pretrain
// (every position a label), sft (labels on half the positions), lora (rank-16 adapters on
// the square layers, base frozen), dpo (rows are 2 x batch_size/2 pairs, with reference),
// distill (a frozen teacher of the same shape, random weights, gives its log-probs first).
import { HalfType } from '../graph/graph.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { initLora, isLora, loraHook, loraSpecs, loraTargets } from '../model/lora.js';
import { initParams, numel } from '../model/params.js';
import { adamwScalars } from '../graph/adamw.js';
import { SessionOptions } from '../runtime/session.js';
import { DistillTrainee } from '../train/distill-trainee.js';
import { DpoTrainee } from '../train/dpo-trainee.js';
import { LMTrainee } from '../train/lm-trainee.js';
import { Trainee } from '../train/loop.js';
import { Batch } from '../data/loader.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { machine, median, peakRssMb, timeIt } from './stats.js';

export type TrainMode = 'pretrain' | 'sft' | 'lora' | 'dpo' | 'distill';

export async function benchTrain(c: MiniMindConfig, B: number, T: number, so: SessionOptions, warmup = 2, timed = 5, attnChunks?: number, mode: TrainMode = 'pretrain',
  dtype: 'float32' | HalfType = 'float32'): Promise<Record<string, unknown>> {
  const mixed: BuildOptions = dtype === 'float32' ? {} : { matmulType: dtype, lossScaling: dtype === 'float16' };
  if (mode === 'dpo' && B % 2) throw new UserError('--mode dpo needs an even --batch_size (rows are chosen and rejected halves)');
  const params = initParams(c);
  const t0 = performance.now();
  let trainee: Trainee<Batch>;
  if (mode === 'dpo') trainee = await DpoTrainee.create(c, params, 0.15, { seqLen: T, ...mixed }, so);
  else if (mode === 'distill') trainee = await DistillTrainee.create(c, params, { config: c, params: initParams(c, 7) }, { alpha: 0.5, temperature: 1.5 }, { seqLen: T, ...mixed }, so);
  else if (mode === 'lora') {
    const lc = { r: 16, alpha: 16, dropout: 0, targets: loraTargets(c, 'square') };
    for (const [k, v] of initLora(c, lc)) params.set(k, v);
    trainee = await LMTrainee.create(c, params, { seqLen: T, attnChunks, trainable: isLora, linearHook: loraHook(lc), extraParams: loraSpecs(c, lc), ...mixed }, so);
  } else trainee = await LMTrainee.create(c, params, { seqLen: T, attnChunks, ...mixed }, so);
  const buildS = (performance.now() - t0) / 1000;
  const rng = new Rng(0);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(c.vocab_size)));
  const labels = BigInt64Array.from({ length: B * T }, (_, i) => (mode === 'sft' && i % T < T / 2 ? -100n : BigInt(rng.int(c.vocab_size))));
  const batch: Batch = { ids, labels, B, T, labelTokens: B * T };
  const losses: number[] = [];
  let step = 0;
  const scale = mixed.lossScaling ? 2 ** 16 : 1;
  const times = await timeIt(async () => {
    // one graph run: forward, backward, clipping and AdamW, as the training loop does
    const r = await trainee.step(batch, adamwScalars({ lr: 1e-4, step: ++step, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1, gradScale: 1 / scale }), scale);
    losses.push(r.loss);
  }, warmup, timed);
  await trainee.release();
  const s = median(times);
  return { bench: 'train', mode, dtype, batch_size: B, max_seq_len: T, params: [...params.values()].reduce((p, a) => p + a.length, 0),
    trained_params: [...trainee.shapes.values()].reduce((p, s) => p + numel(s), 0),
    tokens_per_s: (B * T) / s, s_per_step: s, steps_per_s: 1 / s, step_times_s: times, peak_rss_mb: peakRssMb(), session_build_s: buildS,
    loss_first: losses[0], loss_last: losses[losses.length - 1], ...machine() };
}
