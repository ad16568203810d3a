// The language-model stages as one procedure: load the tokenizer and the starting weights,
// prepare the data, train with the shared loop, and write a model directory. A stage
// supplies only its data and what trains.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import chalk from 'chalk';
import { Batch, Loader, pairBatches } from '../data/loader.js';
import { prepareShards } from '../data/prepare.js';
import { Stage } from '../data/process.js';
import { PairSamples, SampleSource } from '../data/samples.js';
import { dataFingerprint, ShardReader } from '../data/shards.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { countParams, initParams, numel, Params } from '../model/params.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { rel } from '../util/paths.js';
import { terminalChart } from './chart.js';
import { resolveResume } from './checkpoint.js';
import { LMTrainee } from './lm-trainee.js';
import { LoopResult, readMetrics, Trainee, trainLoop, updateMode } from './loop.js';
import { joinPeers } from './peers.js';
import { DataOptions, TrainOptions } from './options.js';
import { runEventWriter } from './tensorboard.js';

export interface LMStage {
  stage: string;
  train: TrainOptions;
  session: SessionOptions;
  data: DataOptions;
  /** what the data is processed as */
  dataStage: Stage;
  /** the stage's samples (or DPO pairs) from the run's token shards, `maxLength` tokens each (--max_seq_len, MiniMind's max_length) */
  samples: (shards: ShardReader, tok: MiniTokenizer, maxLength: number) => SampleSource | PairSamples;
  /** a fresh model's config for the tokenizer's vocabulary size (needed without `fromWeight`) */
  model?: (vocabSize: number) => MiniMindConfig;
  /** what trains (default: the language-model loss over `build`'s trainable weights) */
  trainee?: (c: MiniMindConfig, params: Params, build: BuildOptions, so: SessionOptions) => Promise<Trainee<Batch>>;
  /** start from a model (a model directory) instead of fresh weights */
  fromWeight?: string;
  build?: (c: MiniMindConfig) => BuildOptions;
  /** weights added to the model's (LoRA adapters) */
  extraParams?: (c: MiniMindConfig) => Params;
  /** write the result (default: a full model directory) */
  save?: (runDir: string, c: MiniMindConfig, params: Params, tokDir: string) => void;
  log?: (m: string) => void;
}

export interface LMStageResult { code: number; runDir: string; config: MiniMindConfig; params: Params; tokenizer: MiniTokenizer; lastLoss: number }

function startingModel(s: LMStage, tok: MiniTokenizer): { config: MiniMindConfig; params: Params } {
  // a bare weights file (MiniMind's out/*.pth) has no config.json: the model flags say what it is
  if (s.fromWeight) return loadModelDir(s.fromWeight, s.model?.(tok.vocabSize));
  if (!s.model) throw new Error(`${s.stage}: neither a starting model nor a fresh model config`);
  const config = s.model(tok.vocabSize);
  return { config, params: initParams(config, s.train.seed) };
}

export async function runLMStage(s: LMStage): Promise<LMStageResult> {
  const o = s.train;
  let log = s.log ?? ((m: string) => process.stderr.write(m + '\n'));
  const runDir = path.join(o.outDir, o.saveWeight);
  const resume = resolveResume(runDir, o.fromResume);
  if (s.fromWeight && !fs.existsSync(s.fromWeight)) throw new UserError(`--from_weight ${s.fromWeight} does not exist (train the previous stage first)`);
  // a model directory carries its tokenizer; fresh models use --tokenizer
  const tokDir = s.fromWeight && fs.existsSync(path.join(s.fromWeight, 'tokenizer.json')) ? s.fromWeight : o.tokenizer;
  const tok = MiniTokenizer.load(tokDir);
  const { config, params } = startingModel(s, tok);
  for (const [k, v] of s.extraParams?.(config) ?? []) params.set(k, v);
  const peers = await joinPeers(s.session);
  if (peers && peers.rank > 0) log = () => {}; // rank 0 speaks for the run
  // rank 0 tokenizes the data; the others then find it in the shared cache
  if (peers && peers.rank > 0) await peers.barrier();
  const shards = await prepareShards(s.data.dataPath, tok, path.join(runDir, 'data'), s.dataStage, {
    strict: s.data.strict, format: s.data.format, progress: s.data.progress, log,
  });
  if (peers && peers.rank === 0) await peers.barrier();
  const samples = s.samples(shards, tok, o.maxSeqLen);
  if (samples.length === 0) throw new UserError(`no training samples (data too small for --max_seq_len ${o.maxSeqLen}?)`);
  const T = samples.seqLen; // positions the model sees: max_seq_len (DPO: max_seq_len - 1, as MiniMind)
  if (T > config.max_position_embeddings) throw new UserError(`--max_seq_len ${o.maxSeqLen} exceeds the model's max_position_embeddings ${config.max_position_embeddings}`);
  const batches = samples instanceof PairSamples ? pairBatches(samples, o.batchSize, o.seed) : new Loader(samples, o.batchSize, o.seed);
  // mixed precision where the provider has half-precision MatMuls (the CPU's are slower than float32)
  const gpu = s.session.provider === 'cuda' || s.session.provider === 'webgpu';
  const mixed: BuildOptions = gpu && o.dtype && o.dtype !== 'float32' ? { matmulType: o.dtype, lossScaling: o.dtype === 'float16' } : {};
  const build: BuildOptions = { seqLen: T, ...(s.build?.(config) ?? {}), ...mixed, update: updateMode(o.accumulationSteps, peers?.world) };
  const trainee = await (s.trainee ?? LMTrainee.create)(config, params, build, s.session);
  const nTrain = [...trainee.shapes.values()].reduce((p, x) => p + numel(x), 0);
  log(`${chalk.bold(s.stage)}: ${(countParams(config) / 1e6).toFixed(2)}M parameters (${(nTrain / 1e6).toFixed(2)}M trained), ${samples.length} samples of ${o.maxSeqLen} tokens, `
    + `padding ${(100 * samples.paddingShare()).toFixed(1)}%, batch ${o.batchSize} x ${o.accumulationSteps} accumulation${peers ? ` x ${peers.world} processes` : ''}`
    + `${resume ? `, resuming ${rel(resume)}` : ''}`);
  const res = await trainLoop(trainee, { batchesPerEpoch: batches.batchesPerEpoch, batch: (e, b) => batches.batch(e, b), tokens: (b) => b.B * b.T }, {
    ...stageLoopOptions(s.stage, runDir, o, resume, config, s.session, log, !(peers && peers.rank > 0)),
    identity: { batch_size: o.batchSize, accumulation_steps: o.accumulationSteps, max_seq_len: o.maxSeqLen, data: dataFingerprint(shards.dir), ...(peers ? { world_size: peers.world } : {}) },
    record: { ...o, dataPath: s.data.dataPath, fromWeight: s.fromWeight ?? null }, peers: peers ?? undefined,
  });
  // the trained weights, wherever the provider kept them (on the CPU these are `params` already)
  for (const [k, w] of (await trainee.snapshot()).weights) if (params.get(k) !== w) params.get(k)!.set(w);
  await trainee.release();
  await peers?.close();
  const result = { runDir, config, params, tokenizer: tok, lastLoss: res.lastLoss };
  if (peers && peers.rank > 0) return { code: res.interrupted ? 130 : 0, ...result };
  return { code: finishStage(res, runDir, log, () => (s.save ?? saveModelDir)(runDir, config, params, tokDir)), ...result };
}

/**
 * The loop options every stage sets the same way from its TrainOptions (identity, record and
 * peers are the stage's); `lead`: this process writes the run's TensorBoard events (rank 0).
 */
export function stageLoopOptions(stage: string, runDir: string, o: TrainOptions, resume: string | null, config: MiniMindConfig, so: SessionOptions, log: (m: string) => void, lead = true) {
  const tb = o.tensorboard === false || !lead ? null : runEventWriter(runDir, resume);
  return {
    stage, runDir, epochs: o.epochs, maxSteps: o.maxSteps, accumulationSteps: o.accumulationSteps,
    learningRate: o.learningRate, schedule: o.schedule, warmupSteps: o.warmupSteps, gradClip: o.gradClip,
    weightDecay: o.weightDecay, logInterval: o.logInterval, saveInterval: o.saveInterval,
    keepCheckpoints: o.keepCheckpoints, seed: o.seed, resumeFrom: resume, config: config as unknown as Record<string, unknown>,
    numerics: { provider: so.provider ?? 'cpu', threads: so.threads || `0 (default, ${os.availableParallelism()} cores)` }, warn: (m: string) => log(chalk.yellow(`note: ${m}`)),
    progress: o.progress, onLog: tb ? (e: Record<string, number>) => tb.scalars(e.step, e) : undefined,
  };
}

/** After the loop: an interrupted run says how to resume (exit code 130); a finished one is saved, charted and summed up (0). */
export function finishStage(res: LoopResult, runDir: string, log: (m: string) => void, save: () => void): number {
  if (res.interrupted) {
    log(chalk.yellow(`interrupted at step ${res.step}/${res.totalSteps}: checkpoint saved; continue with --from_resume 1`));
    return 130;
  }
  save();
  const losses = readMetrics(runDir).map((m) => m.loss);
  if (losses.length > 2) log(terminalChart(losses));
  const tb = fs.existsSync(path.join(runDir, 'tb'));
  log(`${chalk.green('done')}: ${res.step} steps in ${res.seconds.toFixed(0)} s, final loss ${res.lastLoss.toFixed(4)}; model in ${rel(runDir)} (loss curve: ${rel(path.join(runDir, 'loss.svg'))}${tb ? `; TensorBoard: tensorboard --logdir ${rel(path.join(runDir, 'tb'))}` : ''})`);
  return 0;
}
