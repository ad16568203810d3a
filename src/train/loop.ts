// The one training loop every stage runs: epochs or max steps, gradient accumulation,
// LR schedule, clipping, AdamW, progress, metrics JSONL, periodic checkpoints, exact
// resume, and Ctrl-C that saves a checkpoint before exiting. Stages differ only in the
// batches they load and the Trainee (loss, trainable weights) they pass in. Steps group
// micro-batches as MiniMind's trainers do (step-plan.ts).
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { adamwScalars, AdamWScalars } from '../graph/adamw.js';
import { numel } from '../model/params.js';
import { learningRate, Schedule } from '../runtime/optimizer.js';
import { runChart } from './chart.js';
import { checkIdentity, CheckpointError, loadCheckpoint, RunIdentity, saveCheckpoint, TrainState } from './checkpoint.js';
import { LossScaler } from './loss-scaler.js';
import { Progress } from './progress.js';
import { StepPlan } from './step-plan.js';

/** Signals that stop a run after its current step, with a checkpoint. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface StepOutput {
  loss: number;
  /** global gradient norm before clipping, when the step also updated the weights */
  gradNorm?: number;
  metrics?: Record<string, number>;
  /** tokens the step processed, where the batch cannot say before it runs (the RL stages' sampled tokens) */
  tokens?: number;
  /** a self-updating trainee: the optimizer updates it made */
  updates?: number;
}

/**
 * The AdamW scalars of a self-updating trainee's k-th update (from 0) within a step, its
 * learning rate the schedule's at that update times lrScale (a second model's own rate).
 */
export type UpdateClock = (k: number, lrScale?: number) => AdamWScalars & { lr: number };

/**
 * What a stage trains. Its graph ends either in the optimizer step (`adamw`: one run per
 * step, nothing leaves ONNX Runtime) or in gradient accumulators that `apply` turns into
 * the step (`accumulate`: gradient accumulation, data parallel).
 */
export interface Trainee<B> {
  /** shapes of the trained weights */
  readonly shapes: Map<string, number[]>;
  readonly update: 'adamw' | 'accumulate';
  /** the graph scales its loss (float16): step() takes the scale */
  readonly lossScaled?: boolean;
  /** names of the metrics step() returns, the same on every rank (data parallel sums them in this order, also from a rank that sat out a short group) */
  readonly metricNames?: readonly string[];
  /**
   * Self-updating (PPO: several minibatch updates of actor and critic per batch of rollouts):
   * step() gets an UpdateClock and returns the updates it made; the schedule runs over
   * totalSteps x updatesPerStep updates. Such a trainee takes one micro-batch per step.
   */
  readonly selfUpdating?: { updatesPerStep: number };
  /** forward and backward of one micro-batch; `adamw` also updates (scalars given) */
  step(batch: B, scalars?: AdamWScalars, lossScale?: number, clock?: UpdateClock): Promise<StepOutput>;
  /** `accumulate`: the summed gradients on the host, and writing them back after an all-reduce */
  accumulators(): Promise<Float32Array[]>;
  setAccumulators(sums: Float32Array[]): Promise<void>;
  /** `accumulate`: the AdamW step from the sums (times scalars.grad_scale); returns the gradient norm */
  apply(scalars: AdamWScalars): Promise<number>;
  /** trained weights and optimizer moments, on the host */
  snapshot(): Promise<{ weights: Map<string, Float32Array>; m: Map<string, Float32Array>; v: Map<string, Float32Array> }>;
  restore(weights: Map<string, Float32Array>, m: Map<string, Float32Array>, v: Map<string, Float32Array>): Promise<void>;
  release(): Promise<void>;
}

/** The update mode a run needs: gradients leave the graph only to be accumulated or all-reduced. */
export const updateMode = (accumulationSteps: number, world = 1): Trainee<unknown>['update'] =>
  accumulationSteps > 1 || world > 1 ? 'accumulate' : 'adamw';

/** Data-parallel peers (src/parallel): every rank runs this loop on its share of the batches. */
export interface Peers {
  readonly rank: number;
  readonly world: number;
  allReduceMean(buffers: Float32Array[]): Promise<void>;
  broadcast(buffers: Float32Array[]): Promise<void>;
}

export interface BatchSource<B> { readonly batchesPerEpoch: number; batch(epoch: number, b: number): B; tokens(batch: B): number }

export interface LoopOptions {
  stage: string;
  runDir: string;
  epochs: number;
  maxSteps?: number;
  accumulationSteps: number;
  learningRate: number;
  schedule: Schedule;
  warmupSteps: number;
  gradClip: number;
  weightDecay: number;
  logInterval: number;
  saveInterval: number;
  keepCheckpoints: number;
  seed: number;
  resumeFrom: string | null;
  config: Record<string, unknown>;
  /** what a resume must match (batch shape, data); saved in every checkpoint */
  identity: RunIdentity;
  /** the run's options, saved in checkpoints for the record */
  record?: Record<string, unknown>;
  progress?: boolean;
  /** receives every logged metrics entry */
  onLog?: (entry: Record<string, number>) => void;
  /** data parallel: gradients are averaged over the peers; only rank 0 logs and saves */
  peers?: Peers;
  /** AdamW's betas and epsilon (default PyTorch's 0.9, 0.999, 1e-8) */
  adam?: { beta1: number; beta2: number; eps: number };
  /**
   * What the bits of a step depend on besides the data (provider, thread count): saved in
   * checkpoints; a resume with other values is warned that it will not end bit-identical
   */
  numerics?: Record<string, string | number>;
  /** notices (default: stderr) */
  warn?: (message: string) => void;
}

export interface LoopResult { interrupted: boolean; step: number; totalSteps: number; lastLoss: number; seconds: number }

export async function trainLoop<B>(trainee: Trainee<B>, data: BatchSource<B>, o: LoopOptions): Promise<LoopResult> {
  const acc = Math.max(1, o.accumulationSteps);
  const world = o.peers?.world ?? 1, rank = o.peers?.rank ?? 0, lead = rank === 0;
  const warn = o.warn ?? ((m: string) => process.stderr.write(`note: ${m}\n`));
  const self = trainee.selfUpdating;
  if (self ? acc !== 1 || world !== 1 || trainee.lossScaled : trainee.update !== updateMode(acc, world)) {
    throw new Error(`trainLoop: a trainee ${self ? 'that updates itself' : `built for "${trainee.update}"`} cannot run ${acc} accumulation steps on ${world} ranks${trainee.lossScaled ? ' with loss scaling' : ''}`);
  }
  if (data.batchesPerEpoch <= 0) throw new CheckpointError('nothing to train: no batches');
  // a step takes acc micro-batches on each rank: acc * world of the epoch's batches
  const plan = new StepPlan(data.batchesPerEpoch, acc * world, o.epochs, o.maxSteps);
  const totalSteps = plan.totalSteps, totalMicro = plan.totalMicro;
  if (totalSteps <= 0) throw new CheckpointError(`nothing to train: ${data.batchesPerEpoch} batches per epoch, ${totalSteps} steps`);
  const adam = o.adam ?? { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  let step = 0, optimizerStep = 0, skipped = 0;
  const scaler = trainee.lossScaled ? new LossScaler() : null;

  if (o.resumeFrom) {
    const ck = loadCheckpoint(o.resumeFrom);
    if (ck.state.stage !== o.stage) throw new CheckpointError(`checkpoint ${o.resumeFrom} is from stage "${ck.state.stage}", not "${o.stage}"`);
    if (JSON.stringify(ck.state.config) !== JSON.stringify(o.config)) {
      throw new CheckpointError(`checkpoint ${o.resumeFrom} was trained with a different model config; pass the same model flags to resume`);
    }
    checkIdentity(o.resumeFrom, ck.state.identity, o.identity);
    if (ck.state.micro !== plan.microBefore(ck.state.step)) {
      throw new CheckpointError(`checkpoint ${o.resumeFrom} was written by an older version whose accumulation groups crossed epochs `
        + `(step ${ck.state.step} at micro-batch ${ck.state.micro}, now ${plan.microBefore(ck.state.step)}): it cannot be resumed exactly; start a new run with another --save_weight`);
    }
    for (const [k, shape] of trainee.shapes) {
      const w = ck.weights.get(k), n = numel(shape);
      if (!w || w.length !== n) throw new CheckpointError(`checkpoint ${o.resumeFrom} does not match this model: weight "${k}" ${w ? `has ${w.length} values, expected ${n}` : 'is missing'}`);
    }
    const was = ck.state.numerics, now = o.numerics;
    if (lead && was && now && JSON.stringify(was) !== JSON.stringify(now)) {
      const diff = Object.keys(now).filter((k) => was[k] !== now[k]).map((k) => `${k} ${was[k]} -> ${now[k]}`).join(', ');
      // (ONNX Runtime's CPU kernels gave the same bits at 1, 2 and 3 threads when measured, but nothing promises it)
      warn(`resuming with ${diff} since the checkpoint: the result may differ in the last bits from an uninterrupted run`);
    }
    await trainee.restore(ck.weights, ck.m, ck.v);
    optimizerStep = ck.state.optimizer_step;
    if (scaler && ck.state.loss_scale) { scaler.scale = ck.state.loss_scale; scaler.goodSteps = ck.state.loss_scale_good_steps ?? 0; }
    skipped = ck.state.skipped_steps ?? 0;
    step = ck.state.step;
  }
  // every rank starts from rank 0's weights (fresh weights come from one seed, but a peer
  // could have loaded a different file)
  if (o.peers) {
    const snap = await trainee.snapshot();
    const all = [...snap.weights.values(), ...snap.m.values(), ...snap.v.values()];
    await o.peers.broadcast(all);
    await trainee.restore(snap.weights, snap.m, snap.v);
  }

  const metricsFile = path.join(o.runDir, 'metrics.jsonl');
  if (lead) {
    fs.mkdirSync(o.runDir, { recursive: true });
    // a resumed run's log continues from the checkpoint: lines a killed run wrote after it are dropped
    const kept = o.resumeFrom ? readMetrics(o.runDir).filter((e) => e.step <= step) : [];
    writeFileAtomic(metricsFile, kept.map((e) => JSON.stringify(e) + '\n').join(''));
  }
  const state = (): TrainState => {
    const at = plan.at(step);
    return {
      stage: o.stage, step, total_steps: totalSteps, micro: plan.microBefore(step), epoch: at.epoch, batch_in_epoch: at.first, seed: o.seed,
      optimizer_step: optimizerStep, ...(scaler ? { loss_scale: scaler.scale, loss_scale_good_steps: scaler.goodSteps, skipped_steps: skipped } : {}),
      config: o.config, identity: o.identity, ...(o.numerics ? { numerics: o.numerics } : {}), options: o.record, time: new Date().toISOString(),
    };
  };
  const save = async () => {
    if (!lead) return;
    const snap = await trainee.snapshot();
    saveCheckpoint(o.runDir, state(), new Map([...snap.weights].map(([k, a]) => [k, { shape: trainee.shapes.get(k)!, data: a }])), snap, o.keepCheckpoints);
  };

  // `requested`: this process got Ctrl-C; `stop`: the run stops after this step. With peers,
  // all ranks must stop at the same step, so `stop` comes from the all-reduce (a request that
  // arrives during one is carried by the next). A step always finishes its accumulation
  // group: checkpoints fall between optimizer steps, where no gradient is pending.
  // SIGTERM (a job scheduler, `kill`, npx's shell gone: cli/startup.ts) stops the run as Ctrl-C does.
  let requested = false, stop = false, firstSignal = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    const what = sig === 'SIGINT' ? 'Ctrl-C' : sig;
    // a terminal's Ctrl-C can arrive twice (directly and forwarded by the launcher): a
    // second press counts only after a second
    if (requested && performance.now() - firstSignal > 1000) { process.stderr.write(`\nsecond ${what}: exiting without waiting for the checkpoint\n`); process.exit(130); }
    if (!requested) {
      requested = true; firstSignal = performance.now();
      if (!o.peers) stop = true;
      if (lead) process.stderr.write(`\n${what}: saving a checkpoint after this step${sig === 'SIGINT' ? ' (press again to quit now)' : ''}\n`);
    }
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  const bar = new Progress(o.stage, totalSteps, step, process.stderr, lead && o.progress !== false);
  const t0 = performance.now();
  let winTokens = 0, winT = performance.now(), winLoss = 0, winN = 0, lastLoss = NaN;
  let winMetrics: Record<string, number> = {};
  try {
    while (step < totalSteps && !stop) {
      const { epoch, first, count } = plan.at(step);
      // MiniMind sets its LR per micro-batch, from the 1-indexed micro-batch count over all
      // epochs (each rank counting its own); the optimizer step uses the one set for the
      // group's last micro-batch
      const microEnd = epoch * data.batchesPerEpoch + first + count;
      // a self-updating trainee's rate follows its updates over the nominal total
      const lrAt = (update: number) => learningRate(o.schedule, o.learningRate, update, Math.ceil(totalSteps * (self?.updatesPerStep ?? 1)), o.warmupSteps);
      const lr = self ? lrAt(optimizerStep) : o.schedule === 'minimind' && o.warmupSteps === 0 ? learningRate('minimind', o.learningRate, microEnd / world, totalMicro / world)
        : lrAt(step);
      const lossScale = scaler?.scale ?? 1;
      // each micro-batch's gradient counts 1/acc, also in a short group at the end of an epoch (as MiniMind's loss / accumulation_steps)
      const scalars: AdamWScalars = adamwScalars({ lr, step: optimizerStep + 1, ...adam, weightDecay: o.weightDecay, maxNorm: o.gradClip, gradScale: 1 / (acc * lossScale) });
      let lossSum = 0, tokens = 0, gradNorm = NaN;
      const stepMetrics: Record<string, number> = {};
      // rank r takes micro-batches r, r + world, ... of the group
      for (let j = rank; j < count; j += world) {
        const batch = data.batch(epoch, first + j);
        const clock: UpdateClock | undefined = self ? (k, lrScale = 1) => {
          const at = lrAt(optimizerStep + k) * lrScale;
          return { lr: at, ...adamwScalars({ lr: at, step: optimizerStep + k + 1, ...adam, weightDecay: o.weightDecay, maxNorm: o.gradClip }) };
        } : undefined;
        const out = await trainee.step(batch, trainee.update === 'adamw' && !self ? scalars : undefined, lossScale, clock);
        if (self) optimizerStep += out.updates ?? 0;
        if (out.gradNorm !== undefined) gradNorm = out.gradNorm;
        lossSum += out.loss;
        tokens += out.tokens ?? data.tokens(batch);
        for (const [key, val] of Object.entries(out.metrics ?? {})) stepMetrics[key] = (stepMetrics[key] ?? 0) + val;
      }
      if (trainee.update === 'accumulate' && !self) {
        if (o.peers) {
          // one all-reduce carries the gradients and what the log needs: the sums of the
          // losses, metrics and tokens over ranks, and whether any rank was asked to stop
          const keys = trainee.metricNames ?? Object.keys(stepMetrics).sort();
          const info: Float32Array = Float32Array.from([lossSum, tokens, requested ? 1 : 0, ...keys.map((k) => stepMetrics[k] ?? 0)]);
          const sums = await trainee.accumulators();
          await o.peers.allReduceMean([...sums, info]);
          await trainee.setAccumulators(sums); // (a no-op where they are the live arrays)
          lossSum = info[0] * world; tokens = Math.round(info[1] * world); stop = info[2] > 0;
          keys.forEach((k, i) => { stepMetrics[k] = info[3 + i] * world; });
        }
        gradNorm = await trainee.apply(scalars);
      }
      for (const key of Object.keys(stepMetrics)) stepMetrics[key] /= count; // means over the group's micro-batches
      if (scaler) {
        // an overflowed step was skipped inside the graph: Adam's step count stays
        if (scaler.update(gradNorm)) optimizerStep++; else skipped++;
        stepMetrics.loss_scale = lossScale;
      } else if (!self) optimizerStep++;
      for (const [key, val] of Object.entries(stepMetrics)) winMetrics[key] = (winMetrics[key] ?? 0) + val;
      step++;
      lastLoss = lossSum / count;
      winLoss += lastLoss; winN++; winTokens += tokens;
      const log = step % o.logInterval === 0 || step === totalSteps;
      const now = performance.now();
      const tps = winTokens / Math.max((now - winT) / 1000, 1e-9);
      bar.update(step, { loss: lastLoss, lr, tps, ...stepMetrics }, log);
      if (log) {
        const entry: Record<string, number> = { step, epoch, loss: winLoss / winN, lr, grad_norm: gradNorm,
          tokens_per_s: tps, elapsed_s: (now - t0) / 1000 };
        for (const [key, val] of Object.entries(winMetrics)) entry[key] = val / winN;
        if (scaler) entry.skipped_steps = skipped; // overflowed steps so far
        if (lead) fs.appendFileSync(metricsFile, JSON.stringify(entry) + '\n');
        o.onLog?.(entry);
        winLoss = 0; winN = 0; winTokens = 0; winT = now; winMetrics = {};
      }
      if (o.saveInterval > 0 && step % o.saveInterval === 0 && step < totalSteps) await save();
    }
    await save();
  } finally {
    bar.stop();
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
  }
  if (lead) writeLossChart(o.runDir, o.stage);
  return { interrupted: stop && step < totalSteps, step, totalSteps, lastLoss, seconds: (performance.now() - t0) / 1000 };
}

export function readMetrics(runDir: string): Record<string, number>[] {
  const f = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

function writeLossChart(runDir: string, stage: string): void {
  const m = readMetrics(runDir);
  if (m.length < 2) return;
  writeFileAtomic(path.join(runDir, 'loss.svg'), runChart(m, stage));
}
