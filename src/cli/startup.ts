// What the CLI sets up before a command runs, in its own process (there is no second one):
//
// - glibc keeps freed memory. By default it returns large blocks to the system at once, so
//   every training step page-faults its big buffers in again (about 15% of a step here).
//   The PyTorch reference runs with GLIBC_TUNABLES for that; those are read only when a
//   process starts, so the CLI used to start itself a second time. mallopt() sets the same
//   two parameters in a running process (measured on a v1-small training step: ~65k page
//   faults without, ~4k with the tunables, ~8k with mallopt), through koffi.
// - A GPU run (--device webgpu, cuda or auto) is supervised: GPU drivers and ONNX Runtime's
//   GPU providers can end a process from native code (an abort, a segfault), where no
//   JavaScript runs to say what happened. The CLI then runs the command in a child and,
//   should that child die of a signal nobody sent it, prints one line saying so. The CPU
//   path stays one process.
// - Under npx, the CLI's parent is a shell that npm started: npm forwards SIGTERM/SIGINT
//   to that shell only, which dies without passing them on. So the CLI watches npm and the
//   shell, and when either is gone it stops as on SIGTERM, rather than being left running
//   (a server still listening on its port). `launch` asks its ranks to watch it likewise.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';

/** Environment variable naming a process whose end this one follows (a rank's `launch`). */
export const WATCH_PID = 'MINIMIND_WATCH_PID';

const M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;

/**
 * Keep freed memory in the process (no trimming, no mmap for large blocks), as
 * GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=<large> would.
 * False where it does not apply (not glibc, MINIMIND_MALLOC=default, or the user's own
 * GLIBC_TUNABLES set malloc's parameters, which then stay as they are).
 */
export function keepFreedMemory(env = process.env): boolean {
  if (process.platform !== 'linux' || env.MINIMIND_MALLOC === 'default' || /glibc\.malloc\.(mmap_max|trim_threshold)/.test(env.GLIBC_TUNABLES ?? '')) return false;
  try {
    const koffi = createRequire(import.meta.url)('koffi');
    const mallopt = koffi.load('libc.so.6').func('int mallopt(int, int)') as (param: number, value: number) => number;
    // mallopt takes an int: 2 GiB is the largest threshold (the tunable's 64 GiB is a size_t)
    return mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1) === 1 && mallopt(M_MMAP_MAX, 0) === 1;
  } catch {
    return false; // no glibc (musl), or no koffi binary for this platform: the allocator's defaults
  }
}

/** The parent of process `pid` (Linux), or null. */
function parentOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) || null;
  } catch { return null; }
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; } };

/** The processes whose end this one follows: npm and its shell under npx, the launcher of a rank. */
export function watchedProcesses(env = process.env): number[] {
  const pids: number[] = [];
  if (env[WATCH_PID]) pids.push(Number(env[WATCH_PID]));
  if (env.npm_command === 'exec') { // npx / npm exec: node <- sh -c <- npm
    pids.push(process.ppid);
    const npm = parentOf(process.ppid);
    if (npm && npm > 1) pids.push(npm);
  }
  return pids.filter((p) => Number.isInteger(p) && p > 1);
}

/** When one of `pids` ends (or this process is orphaned), send SIGTERM to this process, once. */
export function followProcesses(pids: number[], everyMs = 250): void {
  if (!pids.length) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent && pids.every(alive)) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, everyMs);
  timer.unref();
}

const SUPERVISED = 'MINIMIND_SUPERVISED';

/** The --device a command line asks for, if any (--device X or --device=X). */
export function deviceOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const m = /^--device(?:=(.*))?$/.exec(argv[i]);
    if (m) return m[1] ?? argv[i + 1];
  }
  return undefined;
}

/** --help or --version: nothing runs, nothing to set up */
const helpOnly = (argv: string[]) => argv.some((a) => a === '--help' || a === '-h' || a === '--version');

const wantsGpu = (argv: string[]) => /^(webgpu|cuda|auto)/.test(deviceOf(argv) ?? '') && !helpOnly(argv);

/**
 * Run a GPU command in a supervised child (see the top). Returns true in the parent, which
 * then only waits: it forwards SIGINT/SIGTERM/SIGHUP, exits with the child's code, and names
 * a signal the child died of that it did not forward.
 */
export function superviseGpuRun(argv: string[], env = process.env): boolean {
  if (env[SUPERVISED] || !wantsGpu(argv)) return false;
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...env, [SUPERVISED]: '1', [WATCH_PID]: String(process.pid) } });
  const sent = new Set<string>();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { sent.add(sig); child.kill(sig); });
  child.on('exit', (code, signal) => {
    if (signal && !sent.has(signal)) {
      process.stderr.write(`error: the ${argv[0] ?? 'minimind'} process ended with ${signal} in native code (ONNX Runtime's ${deviceOf(argv)} provider or the GPU driver); `
        + 'nothing was saved after the last checkpoint. Rerun with --device cpu to tell a GPU problem from the rest\n');
    }
    process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 1));
  });
  return true;
}

/** Set up this process for the command in `argv` (nothing for --help and --version). */
export function startup(argv: string[]): void {
  followProcesses(watchedProcesses());
  if (argv.length && !helpOnly(argv)) keepFreedMemory();
}
