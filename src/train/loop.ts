// The one training loop every stage runs: epochs or max steps, gradient accumulation,
// LR schedule, clipping, AdamW, progress, metrics JSONL, periodic checkpoints, exact
// resume, and Ctrl-C that saves a checkpoint before exiting. Stages differ only in the
// batches they load and the Trainee (loss, trainable weights) they pass in.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { AdamW, clipScale, learningRate, Schedule, sumOfSquares } from '../runtime/optimizer.js';
import { lossSvg } from './chart.js';
import { checkIdentity, CheckpointError, loadCheckpoint, RunIdentity, saveCheckpoint, TrainState } from './checkpoint.js';
import { Progress } from './progress.js';

export interface StepOutput { loss: number; grads: Map<string, Float32Array>; /** squared gradient norm, if the graph computed it */ gradSumSq?: number; metrics?: Record<string, number> }

/** What a stage trains: weights the optimizer updates in place, and one forward+backward. */
export interface Trainee<B> {
  readonly trainable: Map<string, Float32Array>;
  readonly shapes: Map<string, number[]>;
  step(batch: B): Promise<StepOutput>;
  release(): Promise<void>;
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
}

export interface LoopResult { interrupted: boolean; step: number; totalSteps: number; lastLoss: number; seconds: number }

export async function trainLoop<B>(trainee: Trainee<B>, data: BatchSource<B>, o: LoopOptions): Promise<LoopResult> {
  const acc = Math.max(1, o.accumulationSteps);
  const totalMicro = o.epochs * data.batchesPerEpoch;
  const totalSteps = o.maxSteps ?? Math.ceil(totalMicro / acc);
  if (totalSteps <= 0 || data.batchesPerEpoch <= 0) throw new CheckpointError(`nothing to train: ${data.batchesPerEpoch} batches per epoch, ${totalSteps} steps`);
  const opt = new AdamW({ weightDecay: o.weightDecay });
  let step = 0, micro = 0;

  if (o.resumeFrom) {
    const ck = loadCheckpoint(o.resumeFrom);
    if (ck.state.stage !== o.stage) throw new CheckpointError(`checkpoint ${o.resumeFrom} is from stage "${ck.state.stage}", not "${o.stage}"`);
    if (JSON.stringify(ck.state.config) !== JSON.stringify(o.config)) {
      throw new CheckpointError(`checkpoint ${o.resumeFrom} was trained with a different model config; pass the same model flags to resume`);
    }
    checkIdentity(o.resumeFrom, ck.state.identity, o.identity);
    for (const [k, a] of trainee.trainable) {
      const w = ck.weights.get(k);
      if (!w || w.length !== a.length) throw new CheckpointError(`checkpoint ${o.resumeFrom} does not match this model: weight "${k}" ${w ? `has ${w.length} values, expected ${a.length}` : 'is missing'}`);
      a.set(w); // in place: the session's tensors keep pointing at these arrays
      const m = ck.m.get(k), v = ck.v.get(k);
      if (m && v) { opt.m.set(k, m); opt.v.set(k, v); }
    }
    opt.step = ck.state.optimizer_step;
    step = ck.state.step;
    micro = ck.state.micro;
  }

  fs.mkdirSync(o.runDir, { recursive: true });
  const metricsFile = path.join(o.runDir, 'metrics.jsonl');
  if (!o.resumeFrom) fs.writeFileSync(metricsFile, '');
  const state = (): TrainState => ({
    stage: o.stage, step, total_steps: totalSteps, micro, epoch: Math.floor(micro / data.batchesPerEpoch),
    batch_in_epoch: micro % data.batchesPerEpoch, seed: o.seed, optimizer_step: opt.step, config: o.config, identity: o.identity, options: o.record, time: new Date().toISOString(),
  });
  const save = () => saveCheckpoint(o.runDir, state(), new Map([...trainee.trainable].map(([k, a]) => [k, { shape: trainee.shapes.get(k)!, data: a }])), opt, o.keepCheckpoints);

  let stop = false, firstSignal = 0;
  const onSigint = () => {
    // a terminal's Ctrl-C can arrive twice (directly and forwarded by the launcher): a
    // second press counts only after a second
    if (stop && performance.now() - firstSignal > 1000) { process.stderr.write('\nsecond Ctrl-C: exiting without waiting for the checkpoint\n'); process.exit(130); }
    if (!stop) { stop = true; firstSignal = performance.now(); process.stderr.write('\nCtrl-C: saving a checkpoint after this step (press again to quit now)\n'); }
  };
  process.on('SIGINT', onSigint);
  const bar = new Progress(o.stage, totalSteps, step, process.stderr, o.progress !== false);
  const t0 = performance.now();
  let accGrads: Map<string, Float32Array> | null = null;
  let winTokens = 0, winT = performance.now(), winLoss = 0, winN = 0, lastLoss = NaN;
  let winMetrics: Record<string, number> = {};
  try {
    while (step < totalSteps && !stop) {
      let lossSum = 0, tokens = 0;
      const stepMetrics: Record<string, number> = {};
      let grads: Map<string, Float32Array> | null = null, sumsq: number | undefined;
      for (let k = 0; k < acc; k++) {
        const m = micro % totalMicro; // --max_steps beyond the epochs wraps around
        const batch = data.batch(Math.floor(m / data.batchesPerEpoch), m % data.batchesPerEpoch);
        const out = await trainee.step(batch);
        micro++;
        lossSum += out.loss;
        tokens += data.tokens(batch);
        for (const [key, val] of Object.entries(out.metrics ?? {})) {
          winMetrics[key] = (winMetrics[key] ?? 0) + val / acc;
          stepMetrics[key] = (stepMetrics[key] ?? 0) + val / acc;
        }
        if (acc === 1) { grads = out.grads; sumsq = out.gradSumSq; }
        else {
          accGrads ??= new Map([...out.grads].map(([n, g]) => [n, new Float32Array(g.length)]));
          for (const [n, g] of out.grads) { const a = accGrads.get(n)!; for (let i = 0; i < g.length; i++) a[i] += g[i]; }
        }
      }
      if (acc > 1) {
        grads = accGrads!;
        for (const a of grads.values()) for (let i = 0; i < a.length; i++) a[i] /= acc;
      }
      const gradNorm = Math.sqrt(sumsq ?? sumOfSquares(grads!.values()));
      // MiniMind sets its LR per micro-batch, from the 1-indexed micro-batch count over all
      // epochs; the optimizer step uses the one set for the group's last micro-batch
      const lr = o.schedule === 'minimind' && o.warmupSteps === 0 ? learningRate('minimind', o.learningRate, micro, totalMicro)
        : learningRate(o.schedule, o.learningRate, step, totalSteps, o.warmupSteps);
      opt.update(trainee.trainable, grads!, lr, clipScale(gradNorm, o.gradClip));
      if (acc > 1) for (const a of accGrads!.values()) a.fill(0);
      step++;
      lastLoss = lossSum / acc;
      winLoss += lastLoss; winN++; winTokens += tokens;
      const log = step % o.logInterval === 0 || step === totalSteps;
      const now = performance.now();
      const tps = winTokens / Math.max((now - winT) / 1000, 1e-9);
      bar.update(step, { loss: lastLoss, lr, tps, ...stepMetrics }, log);
      if (log) {
        const entry: Record<string, number> = { step, epoch: Math.floor((micro - 1) / data.batchesPerEpoch), loss: winLoss / winN, lr, grad_norm: gradNorm,
          tokens_per_s: tps, elapsed_s: (now - t0) / 1000 };
        for (const [key, val] of Object.entries(winMetrics)) entry[key] = val / winN;
        fs.appendFileSync(metricsFile, JSON.stringify(entry) + '\n');
        o.onLog?.(entry);
        winLoss = 0; winN = 0; winTokens = 0; winT = now; winMetrics = {};
      }
      if (o.saveInterval > 0 && step % o.saveInterval === 0 && step < totalSteps) save();
    }
    save();
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
  }
  writeLossChart(o.runDir, o.stage);
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
  writeFileAtomic(path.join(runDir, 'loss.svg'), lossSvg([{ name: 'train loss', points: m.map((e) => [e.step, e.loss]) }], `${stage} loss`));
}
