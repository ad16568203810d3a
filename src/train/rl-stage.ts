// The reinforcement-learning stages (GRPO, PPO) as one procedure: load the tokenizer and
// the starting model, read the prompts, train with the shared loop (each micro-batch a
// batch of prompts the trainee rolls out), and write the trained model. A stage supplies
// only its trainee (and, PPO, what else it saves).
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import { PromptBatch, PromptBatches, readPrompts } from '../data/prompts.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { MiniMindConfig } from '../model/config.js';
import { BuildOptions } from '../model/minimind.js';
import { countParams, numel, Params } from '../model/params.js';
import { SessionOptions } from '../runtime/session.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { rel } from '../util/paths.js';
import { resolveResume } from './checkpoint.js';
import { finishStage, stageLoopOptions } from './lm-stage.js';
import { Trainee, trainLoop, updateMode } from './loop.js';
import { TrainOptions } from './options.js';
import { worldFromEnv } from '../parallel/collective.js';

export interface RLStage {
  stage: string;
  /** maxSeqLen: prompt tokens kept (the last ones) */
  train: TrainOptions;
  session: SessionOptions;
  /** RLAIF prompt files ({"conversations": [...]}) */
  dataPath: string[];
  strict?: boolean;
  /** MiniMind's per-read draws: a random system prompt (pre_processing_chat) and the open thinking block */
  systemPromptRatio: number;
  thinkingRatio: number;
  /** the starting model (a model directory, or a weights file with `model`'s config) */
  fromWeight: string;
  model?: MiniMindConfig;
  trainee: (c: MiniMindConfig, params: Params, tok: MiniTokenizer, build: Pick<BuildOptions, 'update' | 'matmulType' | 'lossScaling'>, so: SessionOptions) => Promise<Trainee<PromptBatch>>;
  /** write the result besides the model directory (PPO: its critic) */
  saveExtra?: (runDir: string, trainee: Trainee<PromptBatch>) => Promise<void>;
  log?: (m: string) => void;
}

export async function runRLStage(s: RLStage): Promise<{ code: number; runDir: string; config: MiniMindConfig; params: Params; tokenizer: MiniTokenizer }> {
  const o = s.train, log = s.log ?? ((m: string) => process.stderr.write(m + '\n'));
  if (worldFromEnv(process.env)) throw new UserError(`${s.stage} runs in one process: data-parallel launches are not supported for the RL stages yet`);
  const runDir = path.join(o.outDir, o.saveWeight);
  const resume = resolveResume(runDir, o.fromResume);
  if (!fs.existsSync(s.fromWeight)) throw new UserError(`--from_weight ${s.fromWeight} does not exist (train the previous stage first)`);
  const tokDir = fs.existsSync(path.join(s.fromWeight, 'tokenizer.json')) ? s.fromWeight : o.tokenizer;
  const tok = MiniTokenizer.load(tokDir);
  if (!tok.hasChatTemplate) throw new UserError(`${tokDir}: the tokenizer has no chat template, which the prompts need`);
  const { config, params } = loadModelDir(s.fromWeight, s.model);
  const { records, skipped, fingerprint } = await readPrompts(s.dataPath, s.strict);
  if (!records.length) throw new UserError(`no prompts in ${s.dataPath.join(', ')}${skipped ? ` (${skipped} malformed records skipped; --strict names the first)` : ''}`);
  const batches = new PromptBatches(records, o.batchSize, { seed: o.seed, systemPromptRatio: s.systemPromptRatio, thinkingRatio: s.thinkingRatio });
  const gpu = s.session.provider === 'cuda' || s.session.provider === 'webgpu';
  const mixed = gpu && o.dtype && o.dtype !== 'float32' ? { matmulType: o.dtype, lossScaling: o.dtype === 'float16' } : {};
  const trainee = await s.trainee(config, params, tok, { ...mixed, update: updateMode(o.accumulationSteps) }, s.session);
  const nTrain = [...trainee.shapes.values()].reduce((p, x) => p + numel(x), 0);
  log(`${chalk.bold(s.stage)}: ${(countParams(config) / 1e6).toFixed(2)}M parameters (${(nTrain / 1e6).toFixed(2)}M trained), ${records.length} prompts`
    + `${skipped ? ` (${skipped} malformed skipped)` : ''}, batch ${o.batchSize} x ${o.accumulationSteps} accumulation${resume ? `, resuming ${rel(resume)}` : ''}`);
  const res = await trainLoop(trainee, { batchesPerEpoch: batches.batchesPerEpoch, batch: (e, b) => batches.batch(e, b), tokens: () => 0 }, {
    ...stageLoopOptions(s.stage, runDir, o, resume, config, s.session, log),
    identity: { batch_size: o.batchSize, accumulation_steps: o.accumulationSteps, max_seq_len: o.maxSeqLen, data: fingerprint },
    record: { ...o, dataPath: s.dataPath, fromWeight: s.fromWeight },
  });
  // the policy's trained weights, wherever the provider kept them (on the CPU these are `params` already)
  for (const [k, w] of (await trainee.snapshot()).weights) if (params.has(k) && params.get(k) !== w) params.get(k)!.set(w);
  const code = finishStage(res, runDir, log, () => saveModelDir(runDir, config, params, tokDir));
  if (code === 0) await s.saveExtra?.(runDir, trainee);
  await trainee.release();
  return { code, runDir, config, params, tokenizer: tok };
}
