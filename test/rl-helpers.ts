// What the GRPO and PPO tests share: MiniMind's recorded batches (test/fixtures/rl, made by
// scripts/fixtures/make_rl_fixtures.py from train_grpo.py and train_ppo.py) turned into our
// rollouts and rewards, and a reward source that replays the stub reward model's scores.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PromptBatches, promptIds, promptText, readPrompts } from '../src/data/prompts.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { Params } from '../src/model/params.js';
import { SessionOptions } from '../src/runtime/session.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { GrpoTrainee } from '../src/train/grpo-trainee.js';
import { LoopOptions, readMetrics, StepOutput, trainLoop } from '../src/train/loop.js';
import { CRITIC, PpoTrainee, PpoTrace } from '../src/train/ppo-trainee.js';
import { computeRewards, ScoreSource } from '../src/train/rewards.js';
import { RolloutRow } from '../src/train/rollout.js';
import { ROOT, tmpDir } from './helpers.js';

export const RL = path.join(ROOT, 'test', 'fixtures', 'rl');
export const TRAJ = path.join(ROOT, 'test', 'fixtures', 'trajectory');
export const fixtureTokenizer = () => MiniTokenizer.load(path.join(TRAJ, 'tokenizer'));

export interface Scored { messages: { role: string; content: string }[]; answer: string; score: number }
export interface RecordedBatch {
  samples: { index: number; prompt: string }[];
  prompt_ids: number[][];
  /** per rollout row: the completion up to and including its first eos */
  completions: number[][];
  old_logps: number[][];
  rewards: number[];
  scored: Scored[];
}

export const expectedOf = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(RL, name, 'expected.json'), 'utf8'));

/** A score source that returns what MiniMind's stub reward model answered, checking it is asked the same (messages, answer). */
export function replayScores(scored: Scored[]): ScoreSource {
  return {
    name: 'replay',
    score: async (samples) => samples.map((s, i) => {
      assert.deepEqual(s.messages.map((m) => ({ role: m.role, content: m.content })), scored[i].messages, `sample ${i}: the reward model's messages`);
      assert.equal(s.answer, scored[i].answer, `sample ${i}: the answer the reward model scores`);
      return { score: scored[i].score };
    }),
  };
}

/**
 * One recorded batch as ours: its prompts rendered and tokenized by our code (checked
 * against MiniMind's), its rollouts, and its rewards computed by our rules with the stub's
 * scores (checked against calculate_rewards).
 */
export async function replayBatch(tok: MiniTokenizer, s: RecordedBatch): Promise<{ rows: RolloutRow[]; rewards: number[] }> {
  const { records } = await readPrompts([path.join(RL, 'data', 'rlaif.jsonl')], true);
  const prompts = new PromptBatches(records, 1, { seed: 0, systemPromptRatio: 0.2, thinkingRatio: 1 });
  const G = s.completions.length / s.samples.length;
  const samples = s.samples.map((x) => prompts.withChoice(x.index, { system: -1, thinking: true })); // every record has a system message; thinking_ratio 1
  const ids = await Promise.all(samples.map(async (p, j) => {
    assert.equal(promptText(tok, p), s.samples[j].prompt, `record ${s.samples[j].index}: prompt text`);
    const got = await promptIds(tok, p, 256);
    assert.deepEqual(got, s.prompt_ids[j], `record ${s.samples[j].index}: prompt ids`);
    return got;
  }));
  const rows: RolloutRow[] = s.completions.map((c, i) => ({ prompt: ids[Math.floor(i / G)], completion: c, logps: s.old_logps[i], mask: c.map(() => 1), stopped: c.at(-1) === tok.eosId }));
  const texts = await Promise.all(rows.map((r) => tok.decode(r.completion, true)));
  const r = await computeRewards({ rules: true, source: replayScores(s.scored) },
    rows.map((_, i) => ({ messages: samples[Math.floor(i / G)].messages, response: texts[i], reference: samples[Math.floor(i / G)].record.reference })));
  r.rewards.forEach((v, i) => assert.ok(Math.abs(v - s.rewards[i]) < 1e-6, `sample ${i}: reward ${v} vs calculate_rewards ${s.rewards[i]}`));
  return { rows, rewards: r.rewards };
}

export interface GrpoStep extends RecordedBatch { micro_loss: number; grad_norm?: number; lr?: number }
export interface GrpoExpected {
  hyper: { batch_size: number; accumulation_steps: number; learning_rate: number; grad_clip: number; weight_decay: number; num_generations: number;
    beta: number; loss_type: 'grpo' | 'cispo'; epsilon: number; epsilon_high: number; start: 'dense' | 'moe'; updates: number };
  steps: GrpoStep[];
}
export interface PpoStep extends RecordedBatch { orders: number[][]; losses: number[]; updates: { actor_norm: number; critic_norm: number; actor_lr: number; critic_lr: number }[] }
export interface PpoExpected {
  hyper: { batch_size: number; mini_batch_size: number; accumulation_steps: number; learning_rate: number; critic_learning_rate: number; grad_clip: number; weight_decay: number;
    clip_epsilon: number; vf_coef: number; kl_coef: number; gamma: number; lam: number; cliprange_value: number; ppo_update_iters: number; early_stop_kl: number;
    updates_per_batch: number; total_updates: number };
  steps: PpoStep[];
}

/** What a replay gives to compare: per micro-batch outputs, the metrics lines, the trained and starting weights, MiniMind's final ones. */
export interface Replay { seen: StepOutput[]; metrics: Record<string, number>[]; trained: Map<string, Float32Array>; start: Params; theirs: Map<string, { data: unknown }> }

const loopOptions = (name: string, h: { batch_size: number; learning_rate: number; grad_clip: number; weight_decay: number }, acc: number): LoopOptions => ({
  stage: name, runDir: tmpDir(), epochs: 1, accumulationSteps: acc, learningRate: h.learning_rate, schedule: 'cosine', warmupSteps: 0,
  gradClip: h.grad_clip, weightDecay: h.weight_decay, logInterval: 1, saveInterval: 0, keepCheckpoints: 1, seed: 0, resumeFrom: null,
  config: {}, identity: { batch_size: h.batch_size, accumulation_steps: acc, max_seq_len: 256, data: name }, progress: false,
});
const promptBatch = (epoch: number, batch: number) => ({ epoch, batch, prompts: [] });

/** train_grpo.py's recorded batches through our GrpoTrainee and the shared loop. */
export async function replayGrpo(name: string, so: SessionOptions): Promise<Replay & { e: GrpoExpected }> {
  const e = expectedOf<GrpoExpected>(name), h = e.hyper, tok = fixtureTokenizer();
  const replay = await Promise.all(e.steps.map((s) => replayBatch(tok, s)));
  const { config, params } = loadModelDir(path.join(TRAJ, h.start));
  const start: Params = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
  const trainee = await GrpoTrainee.create(config, params, tok, {
    lossType: h.loss_type, beta: h.beta, epsilon: h.epsilon, epsilonHigh: h.epsilon_high, maxPromptLen: 256, seed: 0, rolloutWeights: 'rebuild',
    rollout: { numGenerations: h.num_generations, maxNewTokens: 40, temperature: 0.8, topK: 50, topP: 0.85, stopIds: [tok.eosId] }, rewards: { rules: true, source: null },
  }, { update: 'accumulate' }, so, () => {});
  // the loop's batches are MiniMind's; each trains on its recorded rollouts
  const seen: StepOutput[] = [];
  const replaying = Object.create(trainee) as GrpoTrainee;
  replaying.step = async (b) => { const out = await trainee.train(replay[b.batch].rows, replay[b.batch].rewards); seen.push(out); return out; };
  const o = loopOptions(name, h, h.accumulation_steps);
  await trainLoop(replaying, { batchesPerEpoch: e.steps.length, batch: promptBatch, tokens: () => 0 }, o);
  const trained = (await trainee.snapshot()).weights;
  await trainee.release();
  return { e, seen, metrics: readMetrics(o.runDir), trained, start, theirs: readSafetensors(path.join(RL, name, 'final.safetensors')).tensors };
}

/** train_ppo.py's recorded batches (in its minibatch orders) through our PpoTrainee and the shared loop. */
export async function replayPpo(name: string, so: SessionOptions): Promise<Replay & { e: PpoExpected; traces: PpoTrace[]; updatesPerStep: number }> {
  const e = expectedOf<PpoExpected>(name), h = e.hyper, tok = fixtureTokenizer();
  const replay = await Promise.all(e.steps.map((s) => replayBatch(tok, s)));
  const { config, params } = loadModelDir(path.join(TRAJ, 'dense'));
  const valueHead: Params = new Map([...readSafetensors(path.join(RL, name, 'critic_initial.safetensors')).tensors].map(([k, t]) => [k, t.data as Float32Array]));
  const start: Params = new Map([...params, ...[...params, ...valueHead].map(([k, v]) => [CRITIC + k, v] as const)].map(([k, v]) => [k, Float32Array.from(v)]));
  const trainee = await PpoTrainee.create(config, params, valueHead, tok, {
    clipEpsilon: h.clip_epsilon, vfCoef: h.vf_coef, klCoef: h.kl_coef, gamma: h.gamma, lam: h.lam, clipRangeValue: h.cliprange_value,
    ppoUpdateIters: h.ppo_update_iters, earlyStopKl: h.early_stop_kl, miniBatchSize: h.mini_batch_size, accumulationSteps: h.accumulation_steps,
    criticLrScale: h.critic_learning_rate / h.learning_rate, maxPromptLen: 256, seed: 0, batchSize: h.batch_size, rolloutWeights: 'rebuild',
    rollout: { numGenerations: 1, maxNewTokens: 40, temperature: 0.8, topK: 50, topP: 0.85, stopIds: [tok.eosId] }, rewards: { rules: true, source: null },
  }, {}, so, () => {});
  const traces: PpoTrace[] = [];
  const replaying = Object.create(trainee) as PpoTrainee;
  replaying.step = async (b, _s, _l, clock) => {
    const out = await trainee.train(replay[b.batch], clock!, () => e.steps[b.batch].orders);
    traces.push(trainee.trace);
    return out;
  };
  const o = loopOptions(name, h, 1);
  await trainLoop(replaying, { batchesPerEpoch: e.steps.length, batch: promptBatch, tokens: () => 0 }, o);
  const trained = (await trainee.snapshot()).weights;
  await trainee.release();
  return { e, seen: [], traces, updatesPerStep: trainee.selfUpdating.updatesPerStep, metrics: readMetrics(o.runDir), trained, start,
    theirs: readSafetensors(path.join(RL, name, 'final.safetensors')).tensors };
}

/** ||ours - MiniMind|| / ||MiniMind - start|| over the trained weights, and the largest difference of one weight over its learning rate. */
export function weightErrors(r: Replay, lr: (name: string) => number): { update: number; weight: number } {
  let d = 0, u = 0, weight = 0;
  for (const [k, w] of r.trained) {
    const want = r.theirs.get(k)!.data as Float32Array, w0 = r.start.get(k)!;
    let mx = 0;
    for (let i = 0; i < w.length; i++) { d += (w[i] - want[i]) ** 2; u += (want[i] - w0[i]) ** 2; mx = Math.max(mx, Math.abs(w[i] - want[i])); }
    weight = Math.max(weight, mx / lr(k));
  }
  return { update: Math.sqrt(d / u), weight };
}
