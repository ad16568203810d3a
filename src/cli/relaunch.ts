// glibc returns freed memory to the system eagerly, so every training step page-faults
// its large buffers in again (about 15% of a step here). Its tunables that keep freed
// memory are read only at process start, so the CLI starts itself once more with them
// set, as the PyTorch reference runs. The parent forwards signals and exits with the
// child's status; the child leaves if the parent dies (kill -9).
import { spawn } from 'node:child_process';
import os from 'node:os';

const TUNABLES = 'glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736';
const MARK = 'MINIMIND_CHILD';

/** Returns true when this process is the parent that relaunched (and must do nothing else). */
export function relaunchWithTunables(): boolean {
  if (os.platform() !== 'linux' || process.env.MINIMIND_NO_RELAUNCH || process.env[MARK]) {
    if (process.env[MARK]) watchParent();
    return false;
  }
  const env = { ...process.env, [MARK]: String(process.pid), GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, TUNABLES].filter(Boolean).join(':') };
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) { process.removeAllListeners(signal); process.kill(process.pid, signal); }
    process.exit(code ?? 1);
  });
  return true;
}

function watchParent(): void {
  const parent = Number(process.env[MARK]);
  setInterval(() => {
    try { process.kill(parent, 0); } catch { process.exit(137); } // parent gone: stop as it did
  }, 200).unref();
}
