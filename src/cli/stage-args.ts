// The training commands' flags turned, once, into the typed options of src/train; MiniMind's
// --from_weight names resolved to paths; notices for MiniMind flags that do nothing here.
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { EMPTY_THINK_RATIO } from '../data/minimind3.js';
import { Format } from '../data/process.js';
import { ChatSampling } from '../data/variants.js';
import { Schedule } from '../runtime/optimizer.js';
import { DataOptions, TrainOptions } from '../train/options.js';
import { UserError } from '../util/errors.js';
import { Args, modelConfig } from './common.js';

export function trainOptionsFrom(a: Args): TrainOptions {
  return {
    outDir: a.out_dir as string, saveWeight: a.save_weight as string, tokenizer: a.tokenizer as string,
    epochs: a.epochs as number, maxSteps: a.max_steps as number | undefined, batchSize: a.batch_size as number,
    accumulationSteps: a.accumulation_steps as number, maxSeqLen: a.max_seq_len as number, learningRate: a.learning_rate as number,
    schedule: a.schedule as Schedule, warmupSteps: a.warmup_steps as number, weightDecay: a.weight_decay as number, gradClip: a.grad_clip as number,
    logInterval: a.log_interval as number, saveInterval: a.save_interval as number, keepCheckpoints: a.keep_checkpoints as number,
    fromResume: (a.from_resume as boolean | string | undefined) ?? false, // no yargs default: it would swallow a bare --from_resume
    seed: a.seed as number, progress: a.progress as boolean, dtype: a.dtype as TrainOptions['dtype'],
  };
}

/** A share flag (--system_prompt_ratio, --empty_think_ratio) must lie in [0, 1]. */
export function shares(a: Args, ...keys: string[]): void {
  for (const k of keys) {
    const v = a[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) throw new UserError(`--${k} must be a number from 0 to 1, got ${JSON.stringify(v)}`);
  }
}

/** --empty_think_ratio, of the chat stages (MiniMind-3's post_processing_chat in SFTDataset and DPODataset) */
export function emptyThinkOption<T>(y: Argv<T>) {
  return y.option('empty_think_ratio', {
    type: 'number', default: EMPTY_THINK_RATIO, group: 'Training:',
    describe: 'share of sequences that keep their empty <think></think> blocks, drawn per epoch (MiniMind-3: 0.2; 1 keeps them all, 0 drops them all)',
  });
}

/** MiniMind-3's per-epoch draws on chat records (lm_dataset.py), from the flags. */
export function chatSamplingFrom(a: Args): ChatSampling {
  shares(a, 'system_prompt_ratio', 'empty_think_ratio');
  return { seed: a.seed as number, systemPromptRatio: (a.system_prompt_ratio as number | undefined) ?? 0, emptyThinkRatio: a.empty_think_ratio as number };
}

export function dataOptionsFrom(a: Args): DataOptions {
  return {
    dataPath: a.data_path as string, format: a.format as Format | undefined, strict: a.strict as boolean | undefined, progress: a.progress as boolean,
  };
}

/**
 * `--from_weight`: none = fresh weights (undefined); a model directory as is; a MiniMind
 * weight name like `pretrain` = `<out_dir>/pretrain` when that is a model directory, else
 * MiniMind's file `<out_dir>/pretrain_<hidden_size>[_moe].pth` (MiniMind's init_model).
 */
export function resolveFromWeight(a: Args): string | undefined {
  const w = a.from_weight as string | undefined;
  return w === undefined || w === 'none' ? undefined : resolveWeight(a, w, modelConfig(a), '--from_weight');
}

/** A weight name or path (see resolveFromWeight) of a model of config `c` (its .pth name), for `flag`. */
export function resolveWeight(a: Args, w: string, c: { hidden_size: number; use_moe: boolean }, flag: string): string {
  const outDir = a.out_dir as string;
  const named = path.join(outDir, w);
  if (fs.existsSync(named) && fs.statSync(named).isDirectory()) return named;
  if (fs.existsSync(w) || w.includes('/') || w.includes(path.sep) || w.endsWith('.pth')) return w;
  const pth = path.join(outDir, `${w}_${c.hidden_size}${c.use_moe ? '_moe' : ''}.pth`);
  if (!fs.existsSync(pth)) throw new UserError(`${flag} ${w}: neither ${named} (a model directory) nor ${pth} (MiniMind weights) exists; train the previous stage first, or pass a path`);
  return pth;
}

/** One line for each MiniMind flag that was given but changes nothing here. */
export function compatNotices(a: Args): string[] {
  const out: string[] = [];
  const metrics = path.join(a.out_dir as string, a.save_weight as string, 'metrics.jsonl');
  if (a.dtype !== undefined && a.dtype !== 'float32' && a.device !== 'cuda' && a.device !== 'webgpu') out.push(`--dtype ${a.dtype} applies to --device cuda or webgpu; the CPU trains in float32`);
  if (a.num_workers !== undefined) out.push('--num_workers has no effect here: samples are read from the token shards by the training process');
  if (a.use_compile) out.push('--use_compile has no effect here: ONNX Runtime optimizes the training graph itself');
  if (a.use_wandb) out.push(`--use_wandb: Weights & Biases logging does not exist yet; metrics go to ${metrics}`);
  if (a.wandb_project !== undefined) out.push(`--wandb_project ${a.wandb_project}: Weights & Biases logging does not exist yet; metrics go to ${metrics}`);
  return out;
}

export function printNotices(a: Args): void {
  for (const n of compatNotices(a)) process.stderr.write(chalk.yellow(`note: ${n}\n`));
}
