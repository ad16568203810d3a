// ppo: proximal policy optimization with a critic from prompts and a reward (MiniMind-3's
// train_ppo.py).
import path from 'node:path';
import type { Argv } from 'yargs';
import { initValueHead } from '../model/objectives.js';
import { PpoTrainee } from '../train/ppo-trainee.js';
import { rewardReporter } from '../train/rl-common.js';
import { runRLStage } from '../train/rl-stage.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, handler, positive } from './common.js';
import { debugPrinter, rewardFrom, rlCommandOptions, rlStage, rolloutFrom, rolloutWeightsFrom } from './rl-args.js';
import { commandInfo } from './command-info.js';

const G = 'PPO:';

export const ppoCommand = {
  ...commandInfo('ppo'),
  // MiniMind-3 train_ppo.py's defaults, --save_weight ppo_actor
  builder: (y: Argv) => rlCommandOptions(y, 'ppo_actor')
    .option('critic_learning_rate', { type: 'number', default: 5e-7, describe: "the critic's learning rate (the actor's is --learning_rate; both follow --schedule)", group: G })
    .option('clip_epsilon', { type: 'number', default: 0.2, describe: 'ratio clip range 1 +- clip_epsilon', group: G })
    .option('vf_coef', { type: 'number', default: 0.5, describe: 'weight of the value loss', group: G })
    .option('kl_coef', { type: 'number', default: 0.02, describe: 'weight of the KL penalty to the frozen reference', group: G })
    .option('gamma', { type: 'number', default: 1.0, describe: 'GAE discount', group: G })
    .option('lam', { type: 'number', default: 0.95, describe: 'GAE lambda', group: G })
    .option('cliprange_value', { type: 'number', default: 0.2, describe: 'value clip range around the rollout\'s values', group: G })
    .option('ppo_update_iters', { type: 'number', default: 2, describe: 'passes over each batch of rollouts', group: G })
    .option('early_stop_kl', { type: 'number', default: 0.25, describe: "stop a batch's passes once a minibatch's approximate KL to the rollout policy exceeds this", group: G })
    .option('mini_batch_size', { type: 'number', default: 2, describe: 'rollouts per minibatch update (--accumulation_steps minibatches per optimizer step)', group: G })
    .option(...bool01('debug_log_ratio', "MiniMind's log-ratio diagnostic (here: approx_kl and clipfrac are in every metrics line)", undefined, 'MiniMind compatibility:'))
    .example('$0 ppo --from_weight out/full_sft --data_path dataset/rlaif.jsonl --reward_url http://localhost:8000/score', "MiniMind's train_ppo.py with a reward model served elsewhere"),
  handler: handler(async (a: Args) => {
    positive(a, 'critic_learning_rate', 'clip_epsilon', 'ppo_update_iters', 'mini_batch_size', 'early_stop_kl', 'gamma', 'lam');
    for (const k of ['vf_coef', 'kl_coef', 'cliprange_value']) if (!((a[k] as number) >= 0)) throw new UserError(`--${k} must be >= 0`);
    if (!Number.isInteger(a.ppo_update_iters) || !Number.isInteger(a.mini_batch_size)) throw new UserError('--ppo_update_iters and --mini_batch_size must be integers');
    const { rewards, source } = await rewardFrom(a);
    const weights = rolloutWeightsFrom(a), debug = debugPrinter(a), stage = rlStage(a);
    return (await runRLStage({
      stage: 'ppo', ...stage,
      // a batch of rollouts takes several updates: the loop steps once per batch, the minibatches accumulate inside
      train: { ...stage.train, accumulationSteps: 1 },
      trainee: (c, params, tok, build, so) => PpoTrainee.create(c, params, initValueHead(c, a.seed as number), tok, {
        clipEpsilon: a.clip_epsilon as number, vfCoef: a.vf_coef as number, klCoef: a.kl_coef as number, gamma: a.gamma as number, lam: a.lam as number,
        clipRangeValue: a.cliprange_value as number, ppoUpdateIters: a.ppo_update_iters as number, earlyStopKl: a.early_stop_kl as number,
        miniBatchSize: a.mini_batch_size as number, accumulationSteps: a.accumulation_steps as number,
        criticLrScale: (a.critic_learning_rate as number) / (a.learning_rate as number), maxPromptLen: a.max_seq_len as number,
        rollout: rolloutFrom(a, tok, 1), rolloutWeights: weights, rewards, seed: a.seed as number, batchSize: a.batch_size as number, debug,
      }, build, so, rewardReporter((m) => process.stderr.write(m + '\n'), source)),
      // the critic beside the actor's model directory: the model's weights and value_head.weight/bias
      saveExtra: (runDir, t) => (t as PpoTrainee).saveCritic(path.join(runDir, 'critic.safetensors')),
    })).code;
  }),
};
