// Data parallel: the collective operations the training loop calls, and how a process
// learns its place in the world (torchrun's variables) and joins it.
import { UserError } from '../util/errors.js';

export interface Collective {
  readonly rank: number; readonly world: number; readonly backend: 'cpu' | 'nccl';
  /** In place: every buffer becomes the element-wise mean over ranks; the result must be bit-for-bit identical on every rank (fixed summation order). */
  allReduceMean(buffers: Float32Array[]): Promise<void>;
  /** In place: every rank receives rank 0's values (initial weights). */
  broadcast(buffers: Float32Array[]): Promise<void>;
  barrier(): Promise<void>;
  close(): Promise<void>;
}

export interface WorldEnv { rank: number; world: number; localRank: number; masterAddr: string; masterPort: number }

export interface ConnectOptions { backend: 'cpu' | 'nccl'; timeoutMs?: number }

/** A collective that failed (peer gone, timeout, mismatched calls): the CLI prints its one line. */
export class CollectiveError extends UserError {}

const DEFAULT_TIMEOUT_S = 600;

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback?: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new UserError(`data parallel: ${name} is not set (WORLD_SIZE is ${env.WORLD_SIZE}; start the ranks with \`minimind launch\`)`);
  }
  const v = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || v < min || v > max) throw new UserError(`data parallel: ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return v;
}

/** torchrun's variables RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; null when WORLD_SIZE is unset or 1. Bad values are a UserError naming the variable. */
export function worldFromEnv(env: NodeJS.ProcessEnv = process.env): WorldEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const world = intVar(env, 'WORLD_SIZE', 1, 65536);
  if (world === 1) return null;
  const rank = intVar(env, 'RANK', 0, world - 1);
  const localRank = intVar(env, 'LOCAL_RANK', 0, world - 1, rank);
  const masterPort = intVar(env, 'MASTER_PORT', 1, 65535, 29500); // torch.distributed's default
  const masterAddr = env.MASTER_ADDR || '127.0.0.1';
  return { rank, world, localRank, masterAddr, masterPort };
}

/** Per-collective timeout: MINIMIND_DIST_TIMEOUT (seconds), default 600 s. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MINIMIND_DIST_TIMEOUT;
  if (raw === undefined || raw === '') return DEFAULT_TIMEOUT_S * 1000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) throw new UserError(`MINIMIND_DIST_TIMEOUT must be a positive number of seconds, got ${JSON.stringify(raw)}`);
  return s * 1000;
}

/** Join the world: rank 0 listens on MASTER_ADDR:MASTER_PORT, the others connect to it. */
export async function connect(w: WorldEnv, o: ConnectOptions): Promise<Collective> {
  const timeoutMs = o.timeoutMs ?? timeoutFromEnv();
  if (o.backend === 'nccl') {
    const { connectNccl } = await import('./nccl-backend.js');
    return connectNccl(w, timeoutMs);
  }
  if (o.backend !== 'cpu') throw new UserError(`data parallel: unknown backend ${JSON.stringify(o.backend)} (cpu or nccl)`);
  const { connectCpu } = await import('./cpu-backend.js');
  return connectCpu(w, timeoutMs);
}
