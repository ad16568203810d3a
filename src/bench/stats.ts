// Small helpers for benchmarks: medians, peak memory, machine facts.
import fs from 'node:fs';
import os from 'node:os';

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

/** Peak resident memory of this process so far (VmHWM), in MB. */
export function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss / 2 ** 20;
}

export function machine(): Record<string, unknown> {
  return { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()}-${os.arch()}` };
}

export async function timeIt(fn: () => Promise<unknown>, warmup: number, timed: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < timed; i++) { const t0 = performance.now(); await fn(); ts.push((performance.now() - t0) / 1000); }
  return ts;
}
