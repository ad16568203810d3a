// What the RL trainees share: each micro-batch's sampling stream, and how failed rewards
// are reported.
import { PromptBatch, PromptSample } from '../data/prompts.js';
import { drawKey } from '../data/variants.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { computeRewards, RewardOptions, Rewards } from './rewards.js';
import { RolloutOptions, RolloutRow, RolloutWeights } from './rollout.js';

/** What every RL trainee takes beside its loss's own settings. */
export interface RlOptions {
  /** prompt tokens kept (the last ones; MiniMind's --max_seq_len) */
  maxPromptLen: number;
  rollout: RolloutOptions;
  rolloutWeights: RolloutWeights;
  rewards: RewardOptions;
  seed: number;
  debug?: RolloutDebug;
}

/** The random stream of a micro-batch's rollouts: keyed on (seed, epoch, batch), so a resumed run samples what an uninterrupted one does. */
export const rolloutRng = (seed: number, b: Pick<PromptBatch, 'epoch' | 'batch'>) => new Rng(drawKey(seed ^ 0x5a5a5a5a, b.epoch, b.batch));

/** Reports a micro-batch's failed rewards; throws when every sample failed. */
export type RewardReporter = (r: Rewards, b: PromptBatch) => void;

/**
 * Each failed sample is reported (the first `shown` in full with the prompt and error, then a
 * count per micro-batch); a micro-batch in which every sample failed stops the run, since
 * nothing would train.
 */
export function rewardReporter(log: (m: string) => void, source: string, shown = 20): RewardReporter {
  let reported = 0;
  return (r, b) => {
    if (!r.errors.length) return;
    if (r.errors.length === r.rewards.length) {
      throw new UserError(`every reward of epoch ${b.epoch + 1} batch ${b.batch + 1} failed (${source}); the first: ${r.errors[0].error}`);
    }
    for (const e of r.errors) {
      if (reported++ < shown) log(`reward error (${source}) in epoch ${b.epoch + 1} batch ${b.batch + 1}, sample ${e.sample + 1}: ${e.error}`);
    }
    if (reported > shown) log(`reward errors in epoch ${b.epoch + 1} batch ${b.batch + 1}: ${r.errors.length} of ${r.rewards.length} samples (details of the first ${shown} above; these samples get no advantage)`);
  };
}

/** Shows a micro-batch's prompts with their completions and rewards (prompt i's completions at i * G ..) */
export type RolloutDebug = (b: PromptBatch, prompts: string[], completions: string[], rewards: number[]) => void;

/** The completions' texts and rewards: prompt i's conversation goes with rows i * G .. i * G + G - 1. */
export async function rolloutRewards(tok: MiniTokenizer, o: RewardOptions, prompts: PromptSample[], rows: RolloutRow[]): Promise<{ texts: string[]; rewards: Rewards }> {
  const G = rows.length / prompts.length;
  const texts = await Promise.all(rows.map((r) => tok.decode(r.completion, true)));
  const of = (i: number) => prompts[Math.floor(i / G)];
  return { texts, rewards: await computeRewards(o, rows.map((_, i) => ({ messages: of(i).messages, response: texts[i], reference: of(i).record.reference }))) };
}
