// Resuming continues a run where its checkpoint left it, for the stages and settings whose
// state goes beyond the weights: MoE, full SFT with its per-epoch system prompts and think
// blocks, --pack, float16 loss scaling (scale, good steps, skipped steps), and Ctrl-C in the
// middle of an accumulation group (the group finishes first: a checkpoint never holds
// half-accumulated gradients). Each case trains a run through, resumes its checkpoint of
// step k in another run directory, and asserts that the resumed run ran only steps k+1..N
// (micro-batches counted, first logged step), logged exactly the uninterrupted run's lines
// for them, and ended bit-identical (weights and Adam moments). A resume that silently
// started again at step 0 fails every case. The model and data are the trajectory
// fixtures' (test/fixtures/trajectory): 9 records, batch 2, 5 batches per epoch.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PairSamples, TokenSamples } from '../src/data/samples.js';
import { resolveConfig } from '../src/model/config.js';
import { BuildOptions } from '../src/model/minimind.js';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.js';
import { DpoTrainee } from '../src/train/dpo-trainee.js';
import { LMStage, runLMStage } from '../src/train/lm-stage.js';
import { LMTrainee } from '../src/train/lm-trainee.js';
import { readMetrics, StepOutput } from '../src/train/loop.js';
import { TrainOptions } from '../src/train/options.js';
import { ROOT, tmpDir } from './helpers.js';
import { bitsEqual, recording } from './train-helpers.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'trajectory');
const tiny = (vocab: number, moe = false) => resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: vocab, use_moe: moe });

interface Setup {
  stage: 'pretrain' | 'full_sft' | 'dpo';
  train?: Partial<TrainOptions>;
  moe?: boolean;
  pack?: boolean;
  /** what the trainee's graph adds (float16 loss scaling) */
  build?: Partial<BuildOptions>;
  systemPromptRatio?: number;
}
interface Run { runDir: string; code: number; seen: StepOutput[]; notes: string[] }

/** One run of a stage; `before` sees every micro-batch call first and may change its loss scale. */
async function run(s: Setup, out: string, name: string, extra: Partial<TrainOptions> = {}, before?: (call: number, scale: number) => number | void, threads = 1): Promise<Run> {
  const seen: StepOutput[] = [], notes: string[] = [];
  const data = s.stage === 'pretrain' ? 'pretrain' : s.stage === 'dpo' ? 'dpo' : 'sft';
  const chat = { seed: 5, systemPromptRatio: s.systemPromptRatio ?? 0, emptyThinkRatio: 0.2 };
  const stage: LMStage = {
    stage: s.stage,
    train: { outDir: out, saveWeight: name, tokenizer: path.join(FIX, 'tokenizer'), epochs: 4, batchSize: 2, accumulationSteps: 2, maxSeqLen: 24,
      learningRate: 2e-3, schedule: 'minimind', warmupSteps: 0, weightDecay: 0.01, gradClip: 1, logInterval: 1, saveInterval: 0, keepCheckpoints: 100,
      fromResume: false, seed: 5, progress: false, ...s.train, ...extra },
    session: { threads }, data: { dataPath: path.join(FIX, 'data', `${data}.jsonl`), progress: false }, dataStage: data === 'pretrain' ? 'pretrain' : data,
    samples: (shards, tok, L) => (s.stage === 'dpo' ? new PairSamples(shards, L, tok.padId, chat)
      : new TokenSamples(shards, L, s.pack ? 'pack' : 'pad', tok.padId, s.stage === 'pretrain' ? { pretrain: true } : { chat })),
    model: (vocab) => tiny(vocab, s.moe),
    trainee: async (c, params, build, so) => recording(s.stage === 'dpo' ? await DpoTrainee.create(c, params, 0.15, { ...build, ...s.build }, so)
      : await LMTrainee.create(c, params, { ...build, ...s.build }, so), seen, before),
    log: (m) => { if (m.includes('note:')) notes.push(m); },
  };
  if (s.stage === 'dpo') { // DPO starts from a model: the fixture's
    stage.fromWeight = path.join(FIX, 'dense');
    delete stage.model;
  }
  const r = await runLMStage(stage);
  return { runDir: r.runDir, code: r.code, seen, notes };
}

const checkpointAt = (runDir: string, step: number) => listCheckpoints(runDir).find((d) => loadCheckpoint(d).state.step === step)!;
const logged = (runDir: string) => readMetrics(runDir).map(({ tokens_per_s: _t, elapsed_s: _e, ...rest }) => rest);

/** `resumed` ran exactly steps k+1..N of `full`, with its numbers and its result. */
function assertContinues(full: Run, resumed: Run, k: number): void {
  const ck = loadCheckpoint(checkpointAt(full.runDir, k));
  const a = logged(full.runDir), b = logged(resumed.runDir);
  assert.ok(a.length > k + 1, 'the run goes on after the checkpoint');
  assert.equal(b[0].step, k + 1, `the resumed run starts at step ${k + 1}`);
  assert.deepEqual(b.map((e) => e.step), a.slice(k).map((e) => e.step), 'and logs each later step once');
  assert.deepEqual(b, a.slice(k), 'the resumed steps log the uninterrupted run\'s numbers');
  // micro-batches: none of the checkpoint's (ck.state.micro of them) ran again
  assert.equal(resumed.seen.length, full.seen.length - ck.state.micro, `micro-batches run after resuming at step ${k}`);
  assert.deepEqual(resumed.seen.map((o) => o.loss), full.seen.slice(ck.state.micro).map((o) => o.loss));
  const last = (r: Run) => loadCheckpoint(listCheckpoints(r.runDir).pop()!);
  const [x, y] = [last(full), last(resumed)];
  assert.equal(y.state.step, x.state.step);
  for (const [name, map] of [['weight', 'weights'], ['m', 'm'], ['v', 'v']] as const) {
    for (const [key, want] of x[map]) assert.ok(bitsEqual(y[map].get(key)!, want), `${name} ${key} differs after resuming`);
  }
  assert.deepEqual(resumed.notes, [], 'same numerics: no notice');
}

async function resumeCase(s: Setup, k: number): Promise<{ full: Run; resumed: Run }> {
  const out = tmpDir();
  const full = await run(s, out, 'full', { saveInterval: 1 });
  assert.equal(full.code, 0);
  const resumed = await run(s, out, 'resumed', { fromResume: checkpointAt(full.runDir, k) });
  assert.equal(resumed.code, 0);
  assertContinues(full, resumed, k);
  return { full, resumed };
}

test('MoE pretraining resumes mid-epoch (accumulation 2 over 5 batches per epoch)', async () => {
  const { full } = await resumeCase({ stage: 'pretrain', moe: true }, 7);
  assert.ok(full.seen.every((o) => o.metrics!.aux_loss > 0), 'the aux loss is part of the run');
});

test('full SFT resumes with the per-epoch system prompts and think blocks it would have drawn', async () => {
  const { full } = await resumeCase({ stage: 'full_sft', systemPromptRatio: 0.5, train: { maxSeqLen: 64 } }, 8);
  assert.equal(readMetrics(full.runDir).length, 12);
});

test('--pack resumes, and a resume with another thread count is noted', async () => {
  const s: Setup = { stage: 'pretrain', pack: true, train: { batchSize: 1, maxSeqLen: 16, epochs: 2 } };
  const { full } = await resumeCase(s, 5);
  const other = await run(s, path.dirname(full.runDir), 'threads', { fromResume: checkpointAt(full.runDir, 5) }, undefined, 2);
  assert.equal(other.code, 0);
  assert.equal(other.notes.length, 1);
  assert.match(other.notes[0], /resuming with threads 1 -> 2 since the checkpoint: the result may differ in the last bits/);
});

test('float16 loss scaling resumes its scale, good steps and skipped steps', async () => {
  // the third micro-batch's loss is scaled past float32's range: that step overflows, is skipped and halves the scale
  const s: Setup = { stage: 'pretrain', build: { matmulType: 'float16', lossScaling: true } };
  const out = tmpDir();
  const full = await run(s, out, 'full', { saveInterval: 1 }, (call, scale) => (call === 2 ? 1e38 : scale));
  const m = readMetrics(full.runDir);
  assert.deepEqual(m.map((e) => e.loss_scale).slice(0, 3), [65536, 65536, 32768], 'step 2 overflowed');
  assert.equal(m.at(-1)!.skipped_steps, 1);
  const ck = loadCheckpoint(checkpointAt(full.runDir, 4));
  assert.deepEqual([ck.state.loss_scale, ck.state.loss_scale_good_steps, ck.state.skipped_steps, ck.state.optimizer_step], [32768, 2, 1, 3]);
  const resumed = await run(s, out, 'resumed', { fromResume: ck.dir });
  assertContinues(full, resumed, 4);
});

test('DPO resumes mid-epoch with its per-sequence think-block draws (accumulation 2)', async () => {
  await resumeCase({ stage: 'dpo', train: { maxSeqLen: 48, epochs: 3 } }, 4);
});

test('Ctrl-C in the middle of an accumulation group finishes the group, checkpoints, and resumes from there', async () => {
  const s: Setup = { stage: 'pretrain', train: { accumulationSteps: 3 } };
  const out = tmpDir();
  const full = await run(s, out, 'full');
  // Ctrl-C during the 2nd micro-batch of step 2 (micro-batches 4-5 of epoch 1's 5; groups [3, 2])
  const split = await run(s, out, 'split', {}, (call) => { if (call === 4) process.emit('SIGINT'); });
  assert.equal(split.code, 130);
  assert.equal(split.seen.length, 5, 'the group in progress finished; no micro-batch of step 3 ran');
  const ck = loadCheckpoint(listCheckpoints(split.runDir).pop()!);
  assert.deepEqual([ck.state.step, ck.state.micro, ck.state.epoch, ck.state.batch_in_epoch], [2, 5, 1, 0], 'the checkpoint is at the end of epoch 1');
  const resumed = await run(s, out, 'split', { fromResume: true });
  assert.equal(resumed.code, 0);
  // the split run's log is the full run's, and so are its weights
  assert.deepEqual(logged(split.runDir), logged(full.runDir));
  assert.equal(resumed.seen.length, full.seen.length - 5);
  const a = fs.readFileSync(path.join(full.runDir, 'model.safetensors')), b = fs.readFileSync(path.join(split.runDir, 'model.safetensors'));
  assert.ok(a.equals(b), 'weights differ after resuming');
});

test('a checkpoint whose step and data position disagree (an older version\'s accumulation groups crossed epochs) is refused', async () => {
  const s: Setup = { stage: 'pretrain', train: { epochs: 1 } };
  const out = tmpDir();
  const full = await run(s, out, 'full', { saveInterval: 1 });
  const ck = checkpointAt(full.runDir, 1), copy = path.join(out, 'old-ck');
  fs.cpSync(ck, copy, { recursive: true });
  const state = JSON.parse(fs.readFileSync(path.join(copy, 'state.json'), 'utf8'));
  fs.writeFileSync(path.join(copy, 'state.json'), JSON.stringify({ ...state, micro: state.micro + 1 }));
  await assert.rejects(run(s, out, 'old', { fromResume: copy }), /written by an older version whose accumulation groups crossed epochs .* cannot be resumed exactly/);
});
