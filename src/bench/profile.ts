// ONNX Runtime's per-node profile (SessionOptions.profilePrefix), summed by op type: where a
// training step's time goes. ORT writes one JSON trace per session when the session ends;
// its "Node" events with names ending in `_kernel_time` are each kernel's run (on a GPU
// provider, the host side of launching it, which is what blocks the step when kernels queue).
import fs from 'node:fs';
import path from 'node:path';

interface TraceEvent { cat?: string; name?: string; dur?: number; args?: { op_name?: string; provider?: string } }

export interface ProfileSummary {
  files: string[];
  /** kernel time per op type, in ms, largest first (each op type's share of the total alongside) */
  ops: { op: string; provider: string; ms: number; share: number; count: number }[];
  total_kernel_ms: number;
}

/** Traces ORT wrote for `prefix` (a path prefix) since `since` (ms epoch). */
export function profileFiles(prefix: string, since: number): string[] {
  const dir = path.dirname(path.resolve(prefix)), base = path.basename(prefix);
  return fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json')).map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).mtimeMs >= since - 1000).sort();
}

export function summarizeProfile(files: string[], top = 15): ProfileSummary {
  const by = new Map<string, { op: string; provider: string; us: number; count: number }>();
  let total = 0;
  for (const f of files) {
    for (const e of JSON.parse(fs.readFileSync(f, 'utf8')) as TraceEvent[]) {
      if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.dur) continue;
      const op = e.args?.op_name ?? '?', provider = (e.args?.provider ?? '?').replace('ExecutionProvider', '');
      const k = `${op}|${provider}`, s = by.get(k) ?? { op, provider, us: 0, count: 0 };
      s.us += e.dur; s.count++; total += e.dur;
      by.set(k, s);
    }
  }
  const ops = [...by.values()].sort((a, b) => b.us - a.us).slice(0, top)
    .map((s) => ({ op: s.op, provider: s.provider, ms: +(s.us / 1000).toFixed(3), share: +(s.us / Math.max(total, 1)).toFixed(4), count: s.count }));
  return { files, ops, total_kernel_ms: +(total / 1000).toFixed(3) };
}
