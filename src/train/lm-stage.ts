// The language-model stages as one procedure: load the tokenizer and the starting weights,
// prepare the data, train with the shared loop, and write a model directory. A stage
// supplies only its data and what trains.
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import { Args, modelConfig, rel, sessionOptions } from '../cli/common.js';
import { Batch, Loader, pairBatches } from '../data/loader.js';
import { PairSamples, SampleSource } from '../data/samples.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { countParams, initParams, Params } from '../model/params.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { Schedule } from '../runtime/optimizer.js';
import { SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { terminalChart } from './chart.js';
import { resolveResume } from './checkpoint.js';
import { LMTrainee } from './lm-trainee.js';
import { readMetrics, Trainee, trainLoop } from './loop.js';

export interface LMStage {
  stage: string;
  args: Args;
  /** the stage's samples (or DPO pairs) for this tokenizer and sequence length */
  samples: (tok: MiniTokenizer, seqLen: number, runDir: string) => Promise<SampleSource | PairSamples>;
  /** what trains (default: the language-model loss over `build`'s trainable weights) */
  trainee?: (c: MiniMindConfig, params: Params, build: BuildOptions, so: SessionOptions) => Promise<Trainee<Batch>>;
  /** start from a model directory instead of fresh weights */
  fromWeight?: string;
  build?: (c: MiniMindConfig) => BuildOptions;
  /** weights added to the model's (LoRA adapters) */
  extraParams?: (c: MiniMindConfig) => Params;
  /** write the result (default: a full model directory) */
  save?: (runDir: string, c: MiniMindConfig, params: Params, tokDir: string) => void;
  log?: (m: string) => void;
}

export interface LMStageResult { code: number; runDir: string; config: MiniMindConfig; params: Params; tokenizer: MiniTokenizer; lastLoss: number }

function fresh(config: MiniMindConfig, seed: number): { config: MiniMindConfig; params: Params } {
  return { config, params: initParams(config, seed) };
}

export async function runLMStage(s: LMStage): Promise<LMStageResult> {
  const a = s.args, log = s.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const runDir = path.join(a.out_dir as string, a.save_weight as string);
  const resume = resolveResume(runDir, a.from_resume);
  if (s.fromWeight && !fs.existsSync(path.join(s.fromWeight, 'model.safetensors'))) {
    throw new UserError(`--from_weight ${s.fromWeight}: no model.safetensors there (train the previous stage first)`);
  }
  // a model directory carries its tokenizer; fresh models use --tokenizer
  const tokDir = s.fromWeight && fs.existsSync(path.join(s.fromWeight, 'tokenizer.json')) ? s.fromWeight : a.tokenizer as string;
  const tok = MiniTokenizer.load(tokDir);
  const { config, params } = s.fromWeight ? loadModelDir(s.fromWeight) : fresh(modelConfig(a, tok.vocabSize), a.seed as number);
  for (const [k, v] of s.extraParams?.(config) ?? []) params.set(k, v);
  const T = a.max_seq_len as number;
  if (T > config.max_position_embeddings) throw new UserError(`--max_seq_len ${T} exceeds the model's max_position_embeddings ${config.max_position_embeddings}`);
  const samples = await s.samples(tok, T, runDir);
  if (samples.length === 0) throw new UserError(`no training samples (data too small for --max_seq_len ${T}?)`);
  const batches = samples instanceof PairSamples ? pairBatches(samples, a.batch_size as number, a.seed as number)
    : new Loader(samples, a.batch_size as number, a.seed as number);
  const build = { seqLen: T, ...(s.build?.(config) ?? {}) };
  const trainee = await (s.trainee ?? LMTrainee.create)(config, params, build, sessionOptions(a));
  const nTrain = [...trainee.trainable.values()].reduce((p, x) => p + x.length, 0);
  log(`${chalk.bold(s.stage)}: ${(countParams(config) / 1e6).toFixed(2)}M parameters (${(nTrain / 1e6).toFixed(2)}M trained), ${samples.length} samples of ${T} tokens, `
    + `padding ${(100 * samples.paddingShare()).toFixed(1)}%, batch ${a.batch_size} x ${a.accumulation_steps} accumulation${resume ? `, resuming ${rel(resume)}` : ''}`);
  const res = await trainLoop(trainee, { batchesPerEpoch: batches.batchesPerEpoch, batch: (e, b) => batches.batch(e, b), tokens: (b) => b.B * b.T }, {
    stage: s.stage, runDir, epochs: a.epochs as number, maxSteps: a.max_steps as number | undefined, accumulationSteps: a.accumulation_steps as number,
    learningRate: a.learning_rate as number, schedule: a.schedule as Schedule, warmupSteps: a.warmup_steps as number, gradClip: a.grad_clip as number,
    weightDecay: a.weight_decay as number, logInterval: a.log_interval as number, saveInterval: a.save_interval as number,
    keepCheckpoints: a.keep_checkpoints as number, seed: a.seed as number, resumeFrom: resume, config: config as unknown as Record<string, unknown>,
    args: a, progress: a.progress as boolean,
  });
  await trainee.release();
  if (res.interrupted) {
    log(chalk.yellow(`interrupted at step ${res.step}/${res.totalSteps}: checkpoint saved; continue with --from_resume 1`));
    return { code: 130, runDir, config, params, tokenizer: tok, lastLoss: res.lastLoss };
  }
  (s.save ?? saveModelDir)(runDir, config, params, tokDir);
  const losses = readMetrics(runDir).map((m) => m.loss);
  if (losses.length > 2) log(terminalChart(losses));
  log(`${chalk.green('done')}: ${res.step} steps in ${res.seconds.toFixed(0)} s, final loss ${res.lastLoss.toFixed(4)}; model in ${rel(runDir)} (loss curve: ${rel(path.join(runDir, 'loss.svg'))})`);
  return { code: 0, runDir, config, params, tokenizer: tok, lastLoss: res.lastLoss };
}
