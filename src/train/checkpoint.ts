// Checkpoints: a directory with the trained weights, the optimizer's moments and a JSON
// state, built under a temporary name and renamed, so a crash or kill -9 mid-save leaves
// the previous checkpoint intact. The last K are kept.
import fs from 'node:fs';
import path from 'node:path';
import { writeDirAtomic } from '../io/atomic.js';
import { readSafetensors, SafetensorsError, writeSafetensors } from '../io/safetensors.js';

export class CheckpointError extends Error {}

export interface TrainState {
  stage: string;
  /** optimizer steps completed */
  step: number;
  total_steps: number;
  /** micro-batches consumed over all epochs and ranks (the data position) */
  micro: number;
  /** where the next step starts: its epoch and first batch */
  epoch: number;
  batch_in_epoch: number;
  seed: number;
  optimizer_step: number;
  /** float16 loss scaling: the scale and the good steps since it last changed */
  loss_scale?: number;
  loss_scale_good_steps?: number;
  /** float16 loss scaling: overflowed steps so far */
  skipped_steps?: number;
  config: Record<string, unknown>;
  /** what a resumed run must share with this one (absent in checkpoints of older versions) */
  identity?: RunIdentity;
  /** what the bits depend on besides the data (provider, threads): a resume with others is warned */
  numerics?: Record<string, string | number>;
  /** the run's options, for the record */
  options?: Record<string, unknown>;
  time: string;
}

/** What fixes the data order and the batches: a resumed run must match each field. */
export interface RunIdentity {
  batch_size: number;
  accumulation_steps: number;
  max_seq_len: number;
  /** fingerprint of the token shards (see dataFingerprint) */
  data: string;
  /** data-parallel processes (absent: 1): each optimizer step takes a batch from each */
  world_size?: number;
}

/** Refuse to resume when the run's identity changed since the checkpoint, naming the field. */
export function checkIdentity(dir: string, saved: RunIdentity | undefined, now: RunIdentity): void {
  if (!saved) return;
  for (const k of ['batch_size', 'accumulation_steps', 'max_seq_len'] as const) {
    if (saved[k] !== undefined && saved[k] !== now[k]) {
      throw new CheckpointError(`cannot resume ${dir}: it was trained with --${k} ${saved[k]}, this run has --${k} ${now[k]} (pass the same value, or start a new run with another --save_weight)`);
    }
  }
  if ((saved.world_size ?? 1) !== (now.world_size ?? 1)) {
    throw new CheckpointError(`cannot resume ${dir}: it was trained by ${saved.world_size ?? 1} process(es), this run has ${now.world_size ?? 1} `
      + '(launch --nproc_per_node with the same number, or start a new run with another --save_weight)');
  }
  if (saved.data !== undefined && saved.data !== now.data) {
    throw new CheckpointError(`cannot resume ${dir}: the training data changed since the checkpoint (token shards ${saved.data}, now ${now.data}); `
      + 'resume with the same --data_path contents, or start a new run with another --save_weight');
  }
}

export interface Checkpoint { dir: string; state: TrainState; weights: Map<string, Float32Array>; m: Map<string, Float32Array>; v: Map<string, Float32Array> }

const NAME = /^step-(\d+)$/;

export function saveCheckpoint(runDir: string, state: TrainState, weights: Map<string, { shape: number[]; data: Float32Array }>,
  opt: { m: Map<string, Float32Array>; v: Map<string, Float32Array> }, keep = 3): string {
  const root = path.join(runDir, 'checkpoints');
  const dir = path.join(root, `step-${String(state.step).padStart(8, '0')}`);
  writeDirAtomic(dir, (tmp) => {
    writeSafetensors(path.join(tmp, 'model.safetensors'), weights);
    const moments = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, a] of opt.m) moments.set(`m.${k}`, { shape: [a.length], data: a });
    for (const [k, a] of opt.v) moments.set(`v.${k}`, { shape: [a.length], data: a });
    writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments);
    fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  });
  const all = listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(old, { recursive: true, force: true });
  return dir;
}

/** Completed checkpoints of a run, oldest first (temporary directories are ignored). */
export function listCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).filter((n) => NAME.test(n)).sort().map((n) => path.join(root, n));
}

export function loadCheckpoint(dir: string): Checkpoint {
  if (!fs.existsSync(dir)) throw new CheckpointError(`checkpoint ${dir} does not exist`);
  const stateFile = path.join(dir, 'state.json');
  let state: TrainState;
  try { state = JSON.parse(fs.readFileSync(stateFile, 'utf8')); } catch (e) {
    throw new CheckpointError(`checkpoint ${dir} is corrupt: cannot read state.json (${(e as Error).message.split('\n')[0]})`);
  }
  for (const k of ['step', 'micro', 'seed', 'optimizer_step'] as const) {
    if (!Number.isInteger(state[k])) throw new CheckpointError(`checkpoint ${dir} is corrupt: state.json field ${k} is missing or not an integer`);
  }
  const f32 = (file: string) => {
    try {
      const out = new Map<string, Float32Array>();
      for (const [k, t] of readSafetensors(path.join(dir, file)).tensors) out.set(k, t.data as Float32Array);
      return out;
    } catch (e) {
      if (e instanceof SafetensorsError) throw new CheckpointError(`checkpoint ${dir} is corrupt: ${e.message}`);
      throw e;
    }
  };
  const weights = f32('model.safetensors');
  const moments = f32('optimizer.safetensors');
  const m = new Map<string, Float32Array>(), v = new Map<string, Float32Array>();
  for (const [k, a] of moments) (k.startsWith('m.') ? m : v).set(k.slice(2), a);
  return { dir, state, weights, m, v };
}

/** `--from_resume`: true = the run's latest checkpoint, a path = that checkpoint. */
export function resolveResume(runDir: string, fromResume: boolean | string): string | null {
  if (fromResume === false) return null;
  if (fromResume === true) {
    const all = listCheckpoints(runDir);
    if (!all.length) throw new CheckpointError(`--from_resume: no checkpoint to resume in ${path.join(runDir, 'checkpoints')}`);
    return all[all.length - 1];
  }
  return fromResume;
}
