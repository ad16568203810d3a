// One rank for test/parallel.test.ts: its place from torchrun's variables, its role from
// WORKER_MODE. It prints one JSON line of results.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { connect, worldFromEnv } from '../src/parallel/collective.js';

/** Buffer sizes of the exactness test: one of length 1, one over 16 MB, several odd ones. */
export const SIZES = [1, 1000, 4_500_001, 3, 300_000];

/** Rank r's value at index i of buffer k: mixed signs and magnitudes, so that a different
 * summation order would round differently. */
export function value(r: number, k: number, i: number): number {
  return Math.fround(Math.sin(i * 0.37 + k * 1.7 + r * 2.3) * (1 + r) * 10 ** ((i % 7) - 3));
}

const fill = (r: number) => SIZES.map((n, k) => Float32Array.from({ length: n }, (_, i) => value(r, k, i)));
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const mode = process.env.WORKER_MODE;
  if (!mode) return; // `node --test dist/test/` loads every file there: without a role this is not a rank
  if (mode === 'sigint') {
    // count the SIGINTs that arrive within 300 ms of the first, then leave as Ctrl-C would
    const out = process.env.WORKER_OUT!;
    let n = 0;
    process.on('SIGINT', () => {
      if (n++ === 0) setTimeout(() => { fs.writeFileSync(path.join(out, `sigint${process.env.RANK}`), String(n)); process.exit(130); }, 300);
    });
    fs.writeFileSync(path.join(out, `rank${process.env.RANK}.json`), JSON.stringify({ pid: process.pid }));
    await new Promise(() => setInterval(() => {}, 1000));
  }
  if (mode === 'env' || mode === 'fail') {
    const out = process.env.WORKER_OUT!;
    fs.writeFileSync(path.join(out, `rank${process.env.RANK}.json`), JSON.stringify({ pid: process.pid, env: process.env }));
    if (mode === 'fail' && process.env.RANK === '1') {
      while (!fs.existsSync(path.join(out, 'rank0.json'))) await new Promise((r) => setTimeout(r, 20)); // rank 0 is up
      process.exit(3);
    }
    if (mode === 'fail') await new Promise(() => setInterval(() => {}, 1000)); // stopped by launch
    return;
  }
  const w = worldFromEnv()!;
  const c = await connect(w, { backend: 'cpu', timeoutMs: Number(process.env.WORKER_TIMEOUT_MS ?? 20_000) });
  if (mode === 'reduce') {
    const bufs = fill(w.rank);
    await c.allReduceMean(bufs);
    let reduceBad = 0;
    bufs.forEach((b, k) => b.forEach((v, i) => {
      let s = value(0, k, i);
      for (let r = 1; r < w.world; r++) s = Math.fround(s + value(r, k, i));
      if (v !== Math.fround(s / w.world)) reduceBad++;
    }));
    const hash = createHash('sha256');
    for (const b of bufs) hash.update(new Uint8Array(b.buffer));
    const sent = fill(w.rank + 10);
    await c.broadcast(sent);
    let bcastBad = 0;
    sent.forEach((b, k) => b.forEach((v, i) => { if (v !== value(10, k, i)) bcastBad++; }));
    await c.barrier();
    await c.close();
    say({ rank: w.rank, reduceBad, bcastBad, hash: hash.digest('hex') });
  } else if (mode === 'bench') {
    // a 26M-parameter model's gradients: ~100 MB in tensors of many sizes
    const sizes = [6400 * 512, ...Array.from({ length: 8 }, () => [512, 512 * 512, 512 * 128, 512 * 128, 512 * 512, 512, 1408 * 512, 1408 * 512, 512 * 1408]).flat(), 512];
    const scale = (26e6 / sizes.reduce((s, n) => s + n, 0));
    const bufs = sizes.map((n) => new Float32Array(Math.round(n * scale)).fill(w.rank + 1));
    const bytes = bufs.reduce((s, b) => s + b.byteLength, 0);
    await c.allReduceMean(bufs);
    const t0 = performance.now();
    const reps = Number(process.env.WORKER_REPS ?? 5);
    for (let i = 0; i < reps; i++) await c.allReduceMean(bufs);
    const s = (performance.now() - t0) / 1000 / reps;
    const t1 = performance.now();
    await c.broadcast(bufs);
    const bs = (performance.now() - t1) / 1000;
    await c.close();
    say({ rank: w.rank, buffers: bufs.length, mb: bytes / 1e6, allReduceSeconds: s, allReduceMBps: bytes / 1e6 / s, broadcastMBps: bytes / 1e6 / bs });
  } else if (mode === 'hang') {
    say({ rank: w.rank, ready: true });
    setInterval(() => {}, 1000);
  } else if (mode === 'victim') {
    const bufs = fill(w.rank);
    say({ rank: w.rank, ready: true });
    const t0 = performance.now();
    try {
      await c.allReduceMean(bufs);
      say({ rank: w.rank, error: null });
    } catch (e) {
      const ms = performance.now() - t0;
      let later = '';
      await c.barrier().catch((e2: Error) => { later = e2.message; }); // every later call fails too
      say({ rank: w.rank, error: (e as Error).message, later, ms });
    }
    process.exit(0);
  } else {
    throw new Error(`unknown WORKER_MODE ${mode}`);
  }
}

await main();
