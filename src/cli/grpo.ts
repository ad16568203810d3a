// grpo: group relative policy optimization (and CISPO) from prompts and a reward
// (MiniMind-3's train_grpo.py).
import type { Argv } from 'yargs';
import { GrpoTrainee } from '../train/grpo-trainee.js';
import { rewardReporter } from '../train/rl-common.js';
import { runRLStage } from '../train/rl-stage.js';
import { UserError } from '../util/errors.js';
import { Args, handler, positive } from './common.js';
import { debugPrinter, rewardFrom, rlCommandOptions, rlStage, rolloutFrom, rolloutWeightsFrom } from './rl-args.js';
import { commandInfo } from './command-info.js';

export const grpoCommand = {
  ...commandInfo('grpo'),
  // MiniMind-3 train_grpo.py's defaults, --save_weight grpo
  builder: (y: Argv) => rlCommandOptions(y, 'grpo')
    .option('num_generations', { type: 'number', default: 6, describe: 'completions sampled per prompt (a group)', group: 'GRPO:' })
    .option('loss_type', { type: 'string', default: 'cispo', choices: ['grpo', 'cispo'], describe: 'grpo: clipped ratio (PPO-style); cispo: ratio clamped at --epsilon_high, detached, times the log-probability', group: 'GRPO:' })
    .option('beta', { type: 'number', default: 0.1, describe: 'weight of the KL penalty to the frozen reference', group: 'GRPO:' })
    .option('epsilon', { type: 'number', default: 0.2, describe: 'grpo: ratio clip range 1 +- epsilon', group: 'GRPO:' })
    .option('epsilon_high', { type: 'number', default: 5.0, describe: 'cispo: the ratio\'s upper clamp', group: 'GRPO:' })
    .example('$0 grpo --from_weight out/full_sft --data_path dataset/rlaif.jsonl --reward_fn reward.mjs', "MiniMind's train_grpo.py with your own reward"),
  handler: handler(async (a: Args) => {
    positive(a, 'num_generations', 'epsilon', 'epsilon_high');
    if (!Number.isInteger(a.num_generations) || (a.num_generations as number) < 2) throw new UserError('--num_generations must be an integer of at least 2: advantages compare the completions of a prompt');
    if ((a.beta as number) < 0) throw new UserError('--beta must be >= 0');
    const { rewards, source } = await rewardFrom(a);
    const weights = rolloutWeightsFrom(a), debug = debugPrinter(a);
    return (await runRLStage({
      stage: 'grpo', ...rlStage(a),
      trainee: (c, params, tok, build, so) => GrpoTrainee.create(c, params, tok, {
        lossType: a.loss_type as 'grpo' | 'cispo', beta: a.beta as number, epsilon: a.epsilon as number, epsilonHigh: a.epsilon_high as number,
        maxPromptLen: a.max_seq_len as number, rollout: rolloutFrom(a, tok, a.num_generations as number), rolloutWeights: weights, rewards, seed: a.seed as number, debug,
      }, build, so, rewardReporter((m) => process.stderr.write(m + '\n'), source)),
    })).code;
  }),
};
