// Options shared by the commands (named like MiniMind's scripts), and the error boundary:
// a user error prints one red line and exits 1; anything else is a bug and shows its stack.
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { prepareShards } from '../data/prepare.js';
import { Format, Stage } from '../data/process.js';
import { ShardReader } from '../data/shards.js';
import { CONFIG_FIELDS, FAMILIES, FIELD_NAMES, MiniMindConfig, PRESETS, resolveConfig } from '../model/config.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { checkDevice } from '../runtime/providers.js';
import { PROVIDERS, Provider, SessionOptions } from '../runtime/session.js';
import { isUserFacing, UserError } from '../util/errors.js';

export type Args = Record<string, unknown>;

/** --preset and one option per model config field (CONFIG_FIELDS), each overriding the preset. */
export function modelOptions<T>(y: Argv<T>): Argv<T> {
  let out = y.option('preset', { type: 'string', default: 'minimind-v1-small', choices: Object.keys(PRESETS), describe: 'model size preset', group: 'Model:' });
  for (const f of FIELD_NAMES) {
    const spec: { kind: string; describe: string; alias?: string; internal?: boolean } = CONFIG_FIELDS[f];
    if (spec.internal) continue;
    const type = spec.kind === 'bool' ? 'boolean' : spec.kind === 'family' ? 'string' : 'number';
    out = out.option(f, { type, alias: spec.alias, describe: spec.describe, group: 'Model:', ...(spec.kind === 'family' ? { choices: FAMILIES } : {}) });
  }
  return out;
}

export function runtimeOptions<T>(y: Argv<T>) {
  return y
    .option('device', { type: 'string', default: 'cpu', choices: PROVIDERS, describe: 'execution provider (auto: accelerator if one starts, else CPU)', group: 'Runtime:' })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0 = all cores)', group: 'Runtime:' });
}

export function samplingOptions<T>(y: Argv<T>) {
  return y
    .option('max_new_tokens', { type: 'number', default: 256, describe: 'tokens to generate at most', group: 'Sampling:' })
    .option('temperature', { type: 'number', default: 0.85, describe: '0 = greedy', group: 'Sampling:' })
    .option('top_p', { type: 'number', default: 0.85, describe: 'nucleus sampling', group: 'Sampling:' })
    .option('top_k', { type: 'number', default: 0, describe: '0 = off', group: 'Sampling:' })
    .option('repetition_penalty', { type: 'number', default: 1.0, describe: 'as in transformers (1 = off)', group: 'Sampling:' })
    .option('seed', { type: 'number', default: 42, describe: 'random seed', group: 'Sampling:' });
}

export function trainOptions<T>(y: Argv<T>, d: { epochs: number; batch_size: number; learning_rate: number; accumulation_steps: number; max_seq_len: number; save_weight: string; data_path: string }) {
  return y
    .option('data_path', { type: 'string', default: d.data_path, describe: 'training data: JSONL/CSV/TXT file(s), or a directory made by data-process', group: 'Training:' })
    .option('tokenizer', { type: 'string', default: 'model', describe: 'directory with tokenizer.json and tokenizer_config.json', group: 'Training:' })
    .option('out_dir', { type: 'string', default: 'out', describe: 'where runs are written', group: 'Training:' })
    .option('save_weight', { type: 'string', default: d.save_weight, describe: 'run name: the run directory is <out_dir>/<save_weight>', group: 'Training:' })
    .option('epochs', { type: 'number', default: d.epochs, group: 'Training:' })
    .option('max_steps', { type: 'number', describe: 'stop after this many optimizer steps (overrides --epochs)', group: 'Training:' })
    .option('batch_size', { type: 'number', default: d.batch_size, group: 'Training:' })
    .option('learning_rate', { type: 'number', default: d.learning_rate, group: 'Training:' })
    .option('schedule', { type: 'string', default: 'minimind', choices: ['minimind', 'cosine', 'constant'], describe: "LR schedule (minimind: lr*(0.1+0.45*(1+cos(pi*t/T))))", group: 'Training:' })
    .option('warmup_steps', { type: 'number', default: 0, group: 'Training:' })
    .option('weight_decay', { type: 'number', default: 0.01, describe: 'AdamW decoupled weight decay (PyTorch default)', group: 'Training:' })
    .option('accumulation_steps', { type: 'number', default: d.accumulation_steps, describe: 'micro-batches per optimizer step', group: 'Training:' })
    .option('grad_clip', { type: 'number', default: 1.0, describe: 'max global gradient norm (0 = off)', group: 'Training:' })
    .option('max_seq_len', { type: 'number', default: d.max_seq_len, describe: 'tokens per sample', group: 'Training:' })
    .option('log_interval', { type: 'number', default: 100, describe: 'steps between metrics lines', group: 'Training:' })
    .option('save_interval', { type: 'number', default: 100, describe: 'steps between checkpoints', group: 'Training:' })
    .option('keep_checkpoints', { type: 'number', default: 3, describe: 'checkpoints kept per run', group: 'Training:' })
    .option('from_resume', { type: 'string', default: '0', describe: "1: resume the run's latest checkpoint; or a checkpoint directory", group: 'Training:' })
    .option('seed', { type: 'number', default: 42, describe: 'initialization and data order', group: 'Training:' })
    .option('progress', { type: 'boolean', default: true, describe: 'show a progress bar (--no-progress for logs only)', group: 'Training:' });
}

export function modelConfig(a: Args, vocabFromTokenizer?: number): MiniMindConfig {
  const over: Partial<MiniMindConfig> = {};
  for (const k of FIELD_NAMES) if (!(CONFIG_FIELDS[k] as { internal?: boolean }).internal && a[k] !== undefined) (over as Record<string, unknown>)[k] = a[k];
  if (over.vocab_size === undefined && vocabFromTokenizer !== undefined) over.vocab_size = vocabFromTokenizer;
  const c = resolveConfig(a.preset as string, over);
  if (vocabFromTokenizer !== undefined && vocabFromTokenizer > c.vocab_size) {
    throw new UserError(`--vocab_size ${c.vocab_size} is smaller than the tokenizer's vocabulary (${vocabFromTokenizer})`);
  }
  return c;
}

export function sessionOptions(a: Args): SessionOptions {
  return { provider: a.device as Provider, threads: a.threads as number };
}

export function positive(a: Args, ...keys: string[]): void {
  for (const k of keys) {
    const v = a[k];
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) throw new UserError(`--${k} must be a positive number, got ${JSON.stringify(v)}`);
  }
}

export function requireDir(dir: string, what: string, hint: string): void {
  if (!fs.existsSync(dir)) throw new UserError(`${what} ${dir} does not exist (${hint})`);
}

/** Wrap a command handler with the error boundary (and the checks that come before any work). */
export function handler<A>(fn: (a: A) => Promise<number | void>): (a: A) => Promise<void> {
  return async (a: A) => {
    try {
      checkDevice((a as Args).device);
      const code = await fn(a);
      if (typeof code === 'number' && code !== 0) process.exitCode = code;
    } catch (e) {
      if (isUserFacing(e)) {
        process.stderr.write(`${chalk.red('error:')} ${e.message}\n`);
        process.exit(1);
      }
      throw e;
    }
  };
}

/** The run's token shards for --data_path, with the data flags of the command line. */
export function shardsFromArgs(a: Args, tok: MiniTokenizer, runDir: string, stage: Stage): Promise<ShardReader> {
  return prepareShards(a.data_path as string, tok, path.join(runDir, 'data'), stage, {
    strict: a.strict as boolean, format: a.format as Format | undefined, progress: a.progress as boolean,
    log: (m) => process.stderr.write(m + '\n'),
  });
}

export const rel = (p: string) => path.relative(process.cwd(), p) || '.';
