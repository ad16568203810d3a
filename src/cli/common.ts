// Options shared by the commands (named like MiniMind's scripts), and the error boundary:
// a user error prints one red line and exits 1; anything else is a bug and shows its stack.
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { CONFIG_FIELDS, FAMILIES, FIELD_NAMES, MiniMindConfig, PRESETS, resolveConfig } from '../model/config.js';
import { SamplingOptions } from '../model/generate.js';
import { checkDevice } from '../runtime/providers.js';
import { PROVIDERS, Provider, SessionOptions } from '../runtime/session.js';
import { isUserFacing, UserError } from '../util/errors.js';

export { rel } from '../util/paths.js';

export type Args = Record<string, unknown>;

export { apply01Defaults, bool01, helpLayout, parse01 } from './flags01.js';
import { bool01, parse01 } from './flags01.js';

/** `--from_resume`: 1/0 as in MiniMind, or a checkpoint directory. */
export function parseResume(v: unknown): boolean | string {
  const b = parse01(v);
  return typeof b === 'boolean' ? b : String(v);
}

/** --load_from and what a weights file without config.json needs: --preset, model flags, --tokenizer. */
export function loadOptions<T>(y: Argv<T>, dflt: string): Argv<T> {
  return modelOptions(y.option('load_from', { type: 'string', default: dflt, describe: 'model directory, or a MiniMind weights file (out/*.pth, pytorch_model.bin) with --preset and model flags' }))
    .option('tokenizer', { type: 'string', default: 'model', describe: "tokenizer directory for a weights file (a model directory's own is used when it has one)", group: 'Model:' });
}

/**
 * What loadOptions' flags name, checked to exist first: `what` and `hint` make the error
 * (`model directory out/x does not exist (train one with ...)`).
 */
export function modelSource(a: Args, what: string, hint: string): { loadFrom: string; presetConfig: MiniMindConfig; tokenizer: string } {
  const loadFrom = a.load_from as string;
  requireDir(loadFrom, what, hint);
  return { loadFrom, presetConfig: modelConfig(a), tokenizer: a.tokenizer as string };
}

/** --preset and one option per model config field (CONFIG_FIELDS), each overriding the preset. */
export function modelOptions<T>(y: Argv<T>): Argv<T> {
  let out = y.option('preset', { type: 'string', default: 'minimind-v1-small', choices: Object.keys(PRESETS), describe: 'model size preset', group: 'Model:' });
  for (const f of FIELD_NAMES) {
    const spec: { kind: string; describe: string; alias?: string; internal?: boolean } = CONFIG_FIELDS[f];
    if (spec.internal) continue;
    if (spec.kind === 'bool') { const [name, o] = bool01(f, spec.describe, undefined, 'Model:'); out = out.option(name, { ...o, alias: spec.alias }); continue; }
    const type = spec.kind === 'family' ? 'string' : 'number';
    out = out.option(f, { type, alias: spec.alias, describe: spec.describe, group: 'Model:', ...(spec.kind === 'family' ? { choices: FAMILIES } : {}) });
  }
  return out;
}

export function runtimeOptions<T>(y: Argv<T>) {
  return y
    .option('device', { type: 'string', default: 'cpu', describe: `execution provider: ${PROVIDERS.join(', ')} (auto: an accelerator if one starts, else the CPU); cuda:N picks GPU N, as in MiniMind`, group: 'Runtime:' })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0 = all cores)', group: 'Runtime:' });
}

/** the GPUs visible when this process started (parseDevice narrows the variable) */
const VISIBLE_GPUS = process.env.CUDA_VISIBLE_DEVICES;

/**
 * `--device`: a provider name, or MiniMind's `cuda:N`, which selects the N-th visible GPU by
 * narrowing CUDA_VISIBLE_DEVICES before CUDA starts (so the provider's device 0 is that GPU).
 * (Checked in `handler`, not by a yargs coerce: yargs turns a coerce's error into a stack trace.)
 */
export function parseDevice(v: unknown): Provider {
  const s = String(v), m = /^cuda:(\d+)$/.exec(s);
  if (m) {
    const visible = VISIBLE_GPUS?.split(',').map((d) => d.trim()).filter(Boolean);
    const n = Number(m[1]);
    if (visible && n >= visible.length) throw new UserError(`--device ${s}: CUDA_VISIBLE_DEVICES=${VISIBLE_GPUS} makes only ${visible.length} GPU(s) visible`);
    process.env.CUDA_VISIBLE_DEVICES = visible ? visible[n] : String(n);
    return 'cuda';
  }
  if (!(PROVIDERS as string[]).includes(s)) throw new UserError(`--device ${s}: choose one of ${PROVIDERS.join(', ')} or cuda:N`);
  return s as Provider;
}

/** Sampling flags; defaults as MiniMind-3's eval_llm.py and its model's generate(). */
export function samplingOptions<T>(y: Argv<T>, d: { max_new_tokens?: number } = {}) {
  return y
    // eval_llm.py --max_new_tokens 8192 (generation also stops at the end token and the context window)
    .option('max_new_tokens', { type: 'number', default: d.max_new_tokens ?? 8192, describe: 'tokens to generate at most', group: 'Sampling:' })
    // eval_llm.py --temperature 0.85
    .option('temperature', { type: 'number', default: 0.85, describe: '0 = greedy', group: 'Sampling:' })
    // eval_llm.py --top_p 0.95 (generate()'s own default is 0.85, but eval_llm passes 0.95)
    .option('top_p', { type: 'number', default: 0.95, describe: 'nucleus sampling', group: 'Sampling:' })
    // model_minimind.py generate(top_k=50); eval_llm.py does not override it
    .option('top_k', { type: 'number', default: 50, describe: '0 = off', group: 'Sampling:' })
    .option('repetition_penalty', { type: 'number', default: 1.0, describe: 'as in transformers (1 = off)', group: 'Sampling:' })
    .option('seed', { type: 'number', default: 42, describe: 'random seed', group: 'Sampling:' });
}

export function sampling(a: Args): SamplingOptions {
  return { maxNewTokens: a.max_new_tokens as number, temperature: a.temperature as number, topP: a.top_p as number,
    topK: a.top_k as number, repetitionPenalty: a.repetition_penalty as number, seed: a.seed as number };
}

/** A stage's defaults (each stage writes where its values come from). */
export interface StageDefaults {
  epochs: number; batch_size: number; learning_rate: number; accumulation_steps: number; max_seq_len: number;
  log_interval: number; save_interval: number; save_weight: string; data_path: string; from_weight: string;
}

export function trainOptions<T>(y: Argv<T>, d: StageDefaults) {
  return y
    .option('data_path', { type: 'string', default: d.data_path, describe: 'training data: JSONL/CSV/TXT file(s), or a directory made by data-process', group: 'Training:' })
    .option('tokenizer', { type: 'string', default: 'model', describe: 'directory with tokenizer.json and tokenizer_config.json (a starting model directory brings its own)', group: 'Training:' })
    .option('out_dir', { alias: 'save_dir', type: 'string', default: 'out', describe: 'where runs are written (MiniMind: --save_dir)', group: 'Training:' })
    .option('save_weight', { type: 'string', default: d.save_weight, describe: 'run name: the run directory is <out_dir>/<save_weight>', group: 'Training:' })
    .option('from_weight', { type: 'string', default: d.from_weight, describe: 'starting model: none (fresh weights), a model directory, or a MiniMind weight name resolved in <out_dir>', group: 'Training:' })
    .option('epochs', { type: 'number', default: d.epochs, describe: 'passes over the training data', group: 'Training:' })
    .option('max_steps', { type: 'number', describe: 'stop after this many optimizer steps (overrides --epochs)', group: 'Training:' })
    .option('batch_size', { type: 'number', default: d.batch_size, describe: 'samples per micro-batch', group: 'Training:' })
    .option('learning_rate', { type: 'number', default: d.learning_rate, describe: 'peak learning rate (AdamW)', group: 'Training:' })
    .option('schedule', { type: 'string', default: 'minimind', choices: ['minimind', 'cosine', 'constant'], describe: "LR schedule (minimind: lr*(0.1+0.45*(1+cos(pi*t/T))))", group: 'Training:' })
    .option('warmup_steps', { type: 'number', default: 0, describe: 'optimizer steps of linear warm-up (MiniMind v1: --warmup_iters)', group: 'Training:' })
    .option('weight_decay', { type: 'number', default: 0.01, describe: 'AdamW decoupled weight decay (PyTorch default)', group: 'Training:' })
    .option('accumulation_steps', { type: 'number', default: d.accumulation_steps, describe: 'micro-batches per optimizer step', group: 'Training:' })
    .option('grad_clip', { type: 'number', default: 1.0, describe: 'max global gradient norm (0 = off)', group: 'Training:' })
    .option('max_seq_len', { type: 'number', default: d.max_seq_len, describe: 'tokens per sample', group: 'Training:' })
    .option('log_interval', { type: 'number', default: d.log_interval, describe: 'steps between metrics lines', group: 'Training:' })
    .option('save_interval', { type: 'number', default: d.save_interval, describe: 'steps between checkpoints', group: 'Training:' })
    .option('keep_checkpoints', { type: 'number', default: 3, describe: 'checkpoints kept per run', group: 'Training:' })
    .option('from_resume', { coerce: parseResume, defaultDescription: '0', describe: "1: resume the run's latest checkpoint (0/1), or a checkpoint directory", group: 'Training:' })
    .option('seed', { type: 'number', default: 42, describe: 'initialization and data order', group: 'Training:' })
    .option(...bool01('progress', 'show a progress bar (0 or --no-progress: logs only)', true, 'Training:'))
    .option(...bool01('use_tensorboard', 'write TensorBoard event files into <run>/tb (tensorboard --logdir <out_dir>)', true, 'Training:'))
    // MiniMind's flags that have no counterpart here: accepted, and a notice says so (see stage-args.ts)
    .option('dtype', { type: 'string', default: 'float32', choices: ['float32', 'bfloat16', 'float16'], describe: 'mixed precision on --device cuda/webgpu: MatMuls in this type, weights float32 (float16 with dynamic loss scaling); the CPU trains in float32', group: 'MiniMind compatibility:' })
    .option('num_workers', { type: 'number', describe: 'MiniMind\'s data loader workers (no effect here)', group: 'MiniMind compatibility:' })
    .option(...bool01('use_compile', 'torch.compile in MiniMind (no effect here)', undefined, 'MiniMind compatibility:'))
    .option(...bool01('use_wandb', 'Weights & Biases: not logged from here; a notice says how to upload <run>/tb with `wandb sync`', false, 'MiniMind compatibility:'))
    .option('wandb_project', { type: 'string', describe: 'Weights & Biases project, for `wandb sync --project`', group: 'MiniMind compatibility:' });
}

/**
 * `--use_wandb` / `--wandb_project`: Weights & Biases has no Node.js logger, so a run is not
 * logged to it live; one line says how to upload the run's TensorBoard files instead.
 */
export function wandbNotice(a: Args): string {
  const run = path.join(a.out_dir as string, a.save_weight as string);
  const flag = a.use_wandb ? '--use_wandb' : `--wandb_project ${a.wandb_project}`;
  if (a.use_tensorboard === false) return `${flag}: Weights & Biases is not logged from here; metrics go to ${path.join(run, 'metrics.jsonl')} (with --use_tensorboard 1, \`wandb sync\` can upload the run)`;
  const project = a.wandb_project !== undefined ? `--project ${a.wandb_project} ` : '';
  return `${flag}: Weights & Biases is not logged from here; the curves are TensorBoard files: upload them with \`wandb sync ${project}${path.join(run, 'tb')}\``;
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

/**
 * A MiniMind weight name (`--from_weight pretrain`, eval's `--weight full_sft`) or a path: a
 * model directory `<dir>/<name>` as is, else MiniMind's file `<dir>/<name>_<hidden_size>[_moe].pth`
 * (MiniMind's init_model), with the model flags saying its size.
 */
export function resolveWeight(a: Args, flag: string, name: string, dir: string, c: { hidden_size: number; use_moe: boolean } = modelConfig(a)): string {
  const named = path.join(dir, name);
  if (fs.existsSync(named) && fs.statSync(named).isDirectory()) return named;
  if (fs.existsSync(name) || name.includes('/') || name.includes(path.sep) || name.endsWith('.pth')) return name;
  const pth = path.join(dir, `${name}_${c.hidden_size}${c.use_moe ? '_moe' : ''}.pth`);
  if (!fs.existsSync(pth)) throw new UserError(`${flag} ${name}: neither ${named} (a model directory) nor ${pth} (MiniMind weights) exists; train the previous stage first, or pass a path`);
  return pth;
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
      if ((a as Args).device !== undefined) (a as Args).device = parseDevice((a as Args).device);
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

