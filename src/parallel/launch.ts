// torchrun for this CLI: start N copies of a script with RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR and MASTER_PORT set, pass their output through, forward Ctrl-C, and stop them
// all when one fails. Rank 0 writes to this process's stdout/stderr as is; the other ranks'
// stdout and stderr both go to stderr, each line prefixed `[rank N] `, so stdout carries only
// rank 0's output.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { UserError } from '../util/errors.js';

export interface LaunchOptions {
  nproc: number;
  /** Default: a free port on 127.0.0.1. */
  masterPort?: number;
  /** The Node script every rank runs, and its arguments. */
  script: string;
  args: string[];
  /** Added to this process's environment for every rank. */
  env?: NodeJS.ProcessEnv;
  /** How long ranks get after SIGTERM before SIGKILL when one failed. */
  graceMs?: number;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Copy a stream to `out` line by line with a prefix (a partial last line is kept until it ends). */
function prefixLines(from: NodeJS.ReadableStream, out: NodeJS.WritableStream, prefix: string): void {
  let rest = '';
  from.setEncoding('utf8');
  from.on('data', (s: string) => {
    const lines = (rest + s).split('\n');
    rest = lines.pop()!;
    if (lines.length) out.write(lines.map((l) => prefix + l + '\n').join(''));
  });
  from.on('end', () => { if (rest) out.write(prefix + rest + '\n'); rest = ''; });
}

/** Resolves with the exit code to use (0, or 128 + signal after a forwarded Ctrl-C); a failed
 * rank is a UserError naming it and its exit code, once every rank has stopped. */
export async function launch(o: LaunchOptions): Promise<number> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new UserError(`--nproc_per_node must be a positive integer, got ${o.nproc}`);
  const port = o.masterPort ?? await freePort();
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`--master_port must be a port number (1-65535), got ${port}`);
  const children: ChildProcess[] = [];
  const running = new Set<number>();
  let failure: string | null = null;
  let signalled: NodeJS.Signals | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  let allDone!: () => void;
  const done = new Promise<void>((r) => { allDone = r; });

  const stopAll = () => {
    for (const r of running) children[r].kill('SIGTERM');
    killTimer = setTimeout(() => { for (const r of running) children[r].kill('SIGKILL'); }, o.graceMs ?? 10_000);
  };
  // The terminal and a parent (npx's shell) can both deliver one Ctrl-C: forward it once.
  const lastForward = new Map<string, number>();
  const forward = (sig: NodeJS.Signals) => {
    const now = Date.now();
    if (now - (lastForward.get(sig) ?? 0) < 500) return;
    lastForward.set(sig, now);
    signalled ??= sig;
    for (const r of running) children[r].kill(sig);
  };
  for (const s of SIGNALS) process.on(s, forward);

  for (let rank = 0; rank < o.nproc; rank++) {
    const env = {
      ...process.env, ...o.env,
      RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(o.nproc), LOCAL_WORLD_SIZE: String(o.nproc),
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port),
    };
    // Own process group: Ctrl-C reaches the ranks once, through forward(), not also from the terminal.
    const child = spawn(process.execPath, [o.script, ...o.args], { env, detached: true, stdio: rank === 0 ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'] });
    if (rank > 0) {
      prefixLines(child.stdout!, process.stderr, `[rank ${rank}] `);
      prefixLines(child.stderr!, process.stderr, `[rank ${rank}] `);
    }
    children.push(child);
    running.add(rank);
    const exited = (why: string | null) => {
      if (!running.delete(rank)) return;
      if (why && failure === null && signalled === null) { failure = `rank ${rank} ${why}`; stopAll(); }
      if (running.size === 0) allDone();
    };
    child.on('error', (e) => exited(`could not start: ${e.message}`));
    child.on('close', (code, sig) => exited(code === 0 ? null : sig ? `was killed by ${sig}` : `exited with code ${code}`));
  }
  await done;
  clearTimeout(killTimer);
  for (const s of SIGNALS) process.off(s, forward);
  if (failure) throw new UserError(`data parallel: ${failure}; the other ranks were stopped`);
  return signalled ? 128 + os.constants.signals[signalled] : 0;
}
