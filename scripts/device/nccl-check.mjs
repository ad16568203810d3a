#!/usr/bin/env node
// Device check of the NCCL data-parallel backend (needs a CUDA GPU, libnccl.so.2 and
// libcudart.so.12): world size 1, allReduceMean and broadcast on a few buffers of odd sizes
// through host -> device -> NCCL -> host, then the same on ~100 MB (a 26M-parameter model's
// gradients) for MB/s. Prints one JSON line; exit 1 when a value is wrong.
// Run after `npx tsc -p tsconfig.json`: node scripts/device/nccl-check.mjs
import { connect } from '../../dist/src/parallel/collective.js';

const w = { rank: 0, world: 1, localRank: Number(process.env.LOCAL_RANK ?? 0), masterAddr: '127.0.0.1', masterPort: 29500 };
const out = { ok: false };
try {
  const c = await connect(w, { backend: 'nccl', timeoutMs: 120_000 });
  const sizes = [1, 1000, 4_500_001, 3];
  const value = (k, i) => Math.fround(Math.sin(i * 0.37 + k * 1.7) * 10 ** ((i % 7) - 3));
  const bufs = sizes.map((n, k) => Float32Array.from({ length: n }, (_, i) => value(k, i)));
  await c.allReduceMean(bufs); // the mean over one rank is the value itself: checks the packing offsets
  let bad = 0;
  bufs.forEach((b, k) => b.forEach((v, i) => { if (v !== value(k, i)) bad++; }));
  await c.broadcast(bufs);
  bufs.forEach((b, k) => b.forEach((v, i) => { if (v !== value(k, i)) bad++; }));
  await c.barrier();
  const big = Array.from({ length: 74 }, (_, i) => new Float32Array(i % 9 === 0 ? 700_000 : 351_000).fill(i));
  const bytes = big.reduce((s, b) => s + b.byteLength, 0);
  await c.allReduceMean(big);
  const reps = 5;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await c.allReduceMean(big);
  const s = (performance.now() - t0) / 1000 / reps;
  big.forEach((b, i) => { if (b[0] !== i || b[b.length - 1] !== i) bad++; });
  await c.close();
  Object.assign(out, { ok: bad === 0, bad, values: [bufs[0][0], bufs[1][999], bufs[2][4_500_000], bufs[3][2]], mb: bytes / 1e6, allReduceSeconds: s, allReduceMBps: bytes / 1e6 / s });
} catch (e) {
  out.error = e instanceof Error ? e.message : String(e);
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(out.ok ? 0 : 1);
