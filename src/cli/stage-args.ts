// The training commands' flags turned, once, into the typed options of src/train; MiniMind's
// --from_weight names resolved to paths; notices for MiniMind flags that do nothing here.
import chalk from 'chalk';
import { Format } from '../data/process.js';
import { Schedule } from '../runtime/optimizer.js';
import { DataOptions, TrainOptions } from '../train/options.js';
import { Args, resolveWeight, wandbNotice } from './common.js';

export function trainOptionsFrom(a: Args): TrainOptions {
  return {
    outDir: a.out_dir as string, saveWeight: a.save_weight as string, tokenizer: a.tokenizer as string,
    epochs: a.epochs as number, maxSteps: a.max_steps as number | undefined, batchSize: a.batch_size as number,
    accumulationSteps: a.accumulation_steps as number, maxSeqLen: a.max_seq_len as number, learningRate: a.learning_rate as number,
    schedule: a.schedule as Schedule, warmupSteps: a.warmup_steps as number, weightDecay: a.weight_decay as number, gradClip: a.grad_clip as number,
    logInterval: a.log_interval as number, saveInterval: a.save_interval as number, keepCheckpoints: a.keep_checkpoints as number,
    fromResume: (a.from_resume as boolean | string | undefined) ?? false, // no yargs default: it would swallow a bare --from_resume
    seed: a.seed as number, progress: a.progress as boolean, dtype: a.dtype as TrainOptions['dtype'], tensorboard: a.use_tensorboard as boolean | undefined,
  };
}

export function dataOptionsFrom(a: Args): DataOptions {
  return {
    dataPath: a.data_path as string, format: a.format as Format | undefined, strict: a.strict as boolean | undefined, progress: a.progress as boolean,
  };
}

/** `--from_weight`: none = fresh weights (undefined); otherwise a name or path (see resolveWeight). */
export function resolveFromWeight(a: Args): string | undefined {
  const w = a.from_weight as string | undefined;
  if (w === undefined || w === 'none') return undefined;
  return resolveWeight(a, '--from_weight', w, a.out_dir as string);
}

/** One line for each MiniMind flag that was given but changes nothing here. */
export function compatNotices(a: Args): string[] {
  const out: string[] = [];
  if (a.dtype !== undefined && a.dtype !== 'float32' && a.device !== 'cuda' && a.device !== 'webgpu') out.push(`--dtype ${a.dtype} applies to --device cuda or webgpu; the CPU trains in float32`);
  if (a.num_workers !== undefined) out.push('--num_workers has no effect here: samples are read from the token shards by the training process');
  if (a.use_compile) out.push('--use_compile has no effect here: ONNX Runtime optimizes the training graph itself');
  if (a.use_wandb || a.wandb_project !== undefined) out.push(wandbNotice(a));
  return out;
}

export function printNotices(a: Args): void {
  for (const n of compatNotices(a)) process.stderr.write(chalk.yellow(`note: ${n}\n`));
}
