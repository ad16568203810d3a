// The flags GRPO and PPO share (MiniMind-3's train_grpo.py and train_ppo.py): prompts and
// their draws, rollout sampling, where the rollouts' weights come from, and the reward.
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { ADD_SYSTEM_RATIO } from '../data/minimind3.js';
import { RolloutDebug } from '../train/rl-common.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { RLStage } from '../train/rl-stage.js';
import { modelSource, moduleSource, RewardOptions, urlSource } from '../train/rewards.js';
import { defaultRolloutWeights, RolloutOptions, RolloutWeights } from '../train/rollout.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, modelConfig, modelOptions, positive, requireDir, runtimeOptions, sessionOptions, trainOptions } from './common.js';
import { printNotices, resolveFromWeight, shares, trainOptionsFrom } from './stage-args.js';

const G = 'RL:';

/**
 * The flags of an RL command, with the defaults train_grpo.py and train_ppo.py share: --epochs 1
 * --batch_size 2 --learning_rate 3e-7 --accumulation_steps 1 --max_seq_len 768 --max_gen_len 1024
 * --log_interval 1 --save_interval 10 --from_weight full_sft --data_path ../dataset/rlaif.jsonl.
 */
export function rlCommandOptions<T>(y: Argv<T>, saveWeight: string) {
  return runtimeOptions(modelOptions(rlOptions(trainOptions(y, {
    epochs: 1, batch_size: 2, learning_rate: 3e-7, accumulation_steps: 1, max_seq_len: 768, log_interval: 1, save_interval: 10,
    save_weight: saveWeight, from_weight: 'full_sft', data_path: 'dataset/rlaif.jsonl',
  }))));
}

function rlOptions<T>(y: Argv<T>) {
  return y
    .default('schedule', 'cosine') // both trainers step torch's CosineAnnealingLR (eta_min = lr/10) per optimizer step
    .option('max_gen_len', { type: 'number', default: 1024, describe: 'tokens generated per completion at most (--max_seq_len: prompt tokens kept, the last ones)', group: G })
    .option('thinking_ratio', { type: 'number', default: 0.9, describe: 'share of prompts whose thinking block is opened (<think> left for the model to fill), drawn per read', group: G })
    .option('system_prompt_ratio', { type: 'number', default: ADD_SYSTEM_RATIO, describe: 'add a random system prompt to this share of conversations without one, drawn per read (MiniMind)', group: G })
    .option('temperature', { type: 'number', default: 0.8, describe: 'rollout sampling temperature (MiniMind: 0.8)', group: G })
    .option('top_k', { type: 'number', default: 50, describe: "rollout top-k (MiniMind's generate: 50; 0 = off)", group: G })
    .option('top_p', { type: 'number', default: 0.85, describe: "rollout nucleus sampling (MiniMind's generate: 0.85)", group: G })
    .option('rollout_weights', { type: 'string', default: 'auto', choices: ['auto', 'live', 'rebuild'], group: G,
      describe: 'how rollouts get the current weights: live (the decoder reads the arrays training updates in place; CPU only), rebuild (a decoder with the weights as constants, rebuilt every step: ~0.4 s at v1-small, then ~10% faster decoding); auto: live on the CPU up to --max_gen_len 160, else rebuild' })
    .option('reward_fn', { type: 'string', describe: 'a JavaScript module (.mjs) whose default export (messages, answer, {response, reference}) => number | Promise<number> scores each completion', group: 'Reward:' })
    .option('reward_url', { type: 'string', describe: 'an HTTP endpoint that scores completions: POST {"samples": [{messages, answer, response, reference}]} -> {"scores": [...]}', group: 'Reward:' })
    .option('reward_model', { type: 'string', describe: 'a model directory that scores each answer by its own likelihood (mean log-probability per token after the conversation, clipped to [-3, 3])', group: 'Reward:' })
    .option(...bool01('reward_rules', "MiniMind's rule rewards (length, think format, 3-gram repetition), added to the score", true, 'Reward:'))
    .option('reward_timeout', { type: 'number', default: 60, describe: 'seconds a sample\'s score may take (--reward_fn, --reward_url)', group: 'Reward:' })
    .option('reward_model_path', { type: 'string', describe: "MiniMind's reward model (internlm2-1_8b-reward): not run here; serve one and pass --reward_url", group: 'MiniMind compatibility:' })
    .option('rollout_engine', { type: 'string', choices: ['torch', 'sglang'], describe: "MiniMind's rollout engine (here always the built-in batch decoder)", group: 'MiniMind compatibility:' })
    .option(...bool01('debug_mode', 'print the prompts, completions and rewards every --debug_interval steps', false, G))
    .option('debug_interval', { type: 'number', default: 20, describe: 'steps between --debug_mode samples', group: G })
    .option('format', { type: 'string', default: 'minimind', choices: ['minimind'], describe: 'prompt records: {"conversations": [...]} (the last assistant turn is the reference answer)', group: 'Training:' })
    .option(...bool01('strict', 'stop at the first malformed data line', false, 'Training:'));
}

/** The reward from the flags; notes that it is rules only without a score source. */
export async function rewardFrom(a: Args): Promise<{ rewards: RewardOptions; source: string }> {
  if (a.reward_model_path !== undefined) throw new UserError('--reward_model_path: MiniMind\'s reward model is not run here; serve a reward model and pass --reward_url, or score with --reward_fn');
  if ([a.reward_fn, a.reward_url, a.reward_model].filter((x) => x !== undefined).length > 1) throw new UserError('give one of --reward_fn, --reward_url and --reward_model');
  positive(a, 'reward_timeout');
  const timeoutMs = (a.reward_timeout as number) * 1000;
  if (a.reward_model !== undefined) requireDir(a.reward_model as string, '--reward_model', 'a model directory');
  const source = a.reward_fn !== undefined ? await moduleSource(a.reward_fn as string, timeoutMs) : a.reward_url !== undefined ? urlSource(a.reward_url as string, { timeoutMs })
    : a.reward_model !== undefined ? await modelSource(a.reward_model as string, sessionOptions(a)) : null;
  const rules = a.reward_rules as boolean;
  if (!source && !rules) throw new UserError('--reward_rules 0 without --reward_fn, --reward_url or --reward_model leaves nothing to reward');
  if (!source) process.stderr.write(chalk.yellow("note: rewards are MiniMind's rules only (MiniMind adds a reward model's score: --reward_url, --reward_fn or --reward_model)\n"));
  return { rewards: { rules, source }, source: source?.name ?? 'rules' };
}

export function rolloutFrom(a: Args, tok: MiniTokenizer, numGenerations: number): RolloutOptions {
  return { numGenerations, maxNewTokens: a.max_gen_len as number, temperature: a.temperature as number, topK: a.top_k as number, topP: a.top_p as number, stopIds: [tok.eosId], vocabLimit: tok.vocabSize };
}

export function rolloutWeightsFrom(a: Args): RolloutWeights {
  const w = a.rollout_weights as string, provider = (a.device as string) === 'auto' ? 'auto' : (a.device as string);
  if (w === 'live' && provider !== 'cpu') throw new UserError('--rollout_weights live needs --device cpu (elsewhere the trained weights live on the device)');
  return w === 'auto' ? defaultRolloutWeights(provider, a.max_gen_len as number) : w as RolloutWeights;
}

/** What GRPO and PPO pass to runRLStage, from their flags. */
export function rlStage(a: Args): Omit<RLStage, 'stage' | 'trainee'> {
  positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'max_gen_len', 'log_interval', 'debug_interval');
  shares(a, 'thinking_ratio', 'system_prompt_ratio');
  if ((a.temperature as number) < 0 || (a.top_p as number) <= 0 || (a.top_p as number) > 1 || (a.top_k as number) < 0) throw new UserError('--temperature must be >= 0, --top_p in (0, 1], --top_k >= 0');
  const fromWeight = resolveFromWeight(a);
  if (!fromWeight) throw new UserError('--from_weight none: the RL stages start from a trained model (it is also the frozen reference)');
  printNotices(a);
  if (a.rollout_engine !== undefined) process.stderr.write(chalk.yellow('note: --rollout_engine: rollouts always run on the built-in batch decoder here\n'));
  return {
    train: trainOptionsFrom(a), session: sessionOptions(a), dataPath: String(a.data_path).split(','), strict: a.strict as boolean,
    systemPromptRatio: a.system_prompt_ratio as number, thinkingRatio: a.thinking_ratio as number, fromWeight, model: modelConfig(a),
  };
}

/** --debug_mode: the prompts, completions and rewards of every --debug_interval-th batch. */
export function debugPrinter(a: Args): RolloutDebug | undefined {
  if (!a.debug_mode) return undefined;
  const every = a.debug_interval as number, out = (m: string) => process.stderr.write(m + '\n');
  return (b, prompts, completions, rewards) => {
    if ((b.batch + 1) % every !== 0) return;
    const G = completions.length / prompts.length;
    prompts.forEach((p, i) => {
      out(chalk.gray(`── epoch ${b.epoch + 1} batch ${b.batch + 1}, prompt ${i + 1} ──`) + `\n${p}`);
      for (let j = 0; j < G; j++) out(`${chalk.cyan(`[gen ${j + 1}] reward ${rewards[i * G + j].toFixed(4)}`)}\n${completions[i * G + j]}`);
    });
  };
}
