// GRPO's speed: steps of rollouts (batch_size prompts x num_generations completions of
// max_gen_len tokens each, no stop token, so every step samples the same count) and the
// update on them (the reference's log-probs, then forward, backward and AdamW of the policy),
// on random weights and prompts. Rollout tokens/s is the sampling alone (with the cost of
// getting the current weights to the decoder: nothing for live, a session start for rebuild);
// optimizer steps/s is whole steps.
import { adamwScalars } from '../graph/adamw.js';
import { MiniMindConfig } from '../model/config.js';
import { initParams } from '../model/params.js';
import { SessionOptions } from '../runtime/session.js';
import { GrpoTrainee } from '../train/grpo-trainee.js';
import { RolloutWeights } from '../train/rollout.js';
import { Rng } from '../util/rng.js';
import { machine, median, peakRssMb } from './stats.js';

export interface GrpoBenchOptions { batchSize: number; numGenerations: number; promptLen: number; genLen: number; weights: RolloutWeights; lossType: 'grpo' | 'cispo'; warmup: number; timed: number }

export async function benchGrpo(c: MiniMindConfig, so: SessionOptions, o: GrpoBenchOptions): Promise<Record<string, unknown>> {
  const params = initParams(c), rng = new Rng(0);
  const t0 = performance.now();
  const trainee = await GrpoTrainee.create(c, params, null, {
    lossType: o.lossType, beta: 0.1, epsilon: 0.2, epsilonHigh: 5, maxPromptLen: o.promptLen, seed: 0, rolloutWeights: o.weights, rewards: { rules: false, source: null },
    rollout: { numGenerations: o.numGenerations, maxNewTokens: o.genLen, temperature: 0.8, topK: 50, topP: 0.85, stopIds: [] },
  }, { update: 'adamw' }, so, () => {});
  const buildS = (performance.now() - t0) / 1000;
  const rollout: number[] = [], refresh: number[] = [], update: number[] = [], tokens: number[] = [];
  for (let i = 0; i < o.warmup + o.timed; i++) {
    const prompts = Array.from({ length: o.batchSize }, () => Array.from({ length: o.promptLen }, () => rng.int(c.vocab_size)));
    const rows = await trainee.rollout(prompts, { epoch: 0, batch: i });
    const st = trainee.rolloutStats;
    const t1 = performance.now();
    await trainee.train(rows, rows.map(() => rng.normal()), adamwScalars({ lr: 1e-6, step: i + 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1 }));
    if (i < o.warmup) continue;
    rollout.push(st.seconds); refresh.push(st.refreshSeconds); tokens.push(st.tokens); update.push((performance.now() - t1) / 1000);
  }
  await trainee.release();
  const r = median(rollout), u = median(update), n = o.batchSize * o.numGenerations * o.genLen;
  return { bench: 'train', mode: 'grpo', loss_type: o.lossType, rollout_weights: o.weights, prompts: o.batchSize, num_generations: o.numGenerations, prompt_len: o.promptLen,
    max_gen_len: o.genLen, rollout_tokens: tokens[0], rollout_tokens_per_s: n / r, rollout_s: r, weights_refresh_s: median(refresh), update_s: u,
    steps_per_s: 1 / (r + u), s_per_step: r + u, peak_rss_mb: peakRssMb(), session_build_s: buildS, ...machine() };
}
