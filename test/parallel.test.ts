// Data parallel: collectives across real processes (exact means, bitwise agreement, a rank
// killed mid-collective, timeouts), torchrun's variables, the NCCL library lookup, `launch`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CollectiveError, connect, timeoutFromEnv, worldFromEnv, type WorldEnv } from '../src/parallel/collective.js';
import { freePort, launch } from '../src/parallel/launch.js';
import { libraryCandidates, loadLibrary, NCCL } from '../src/parallel/nccl-lib.js';
import { rankArgv } from '../src/cli/launch.js';
import { UserError } from '../src/util/errors.js';
import { cli, ROOT, tmpDir } from './helpers.js';

const WORKER = path.join(ROOT, 'dist', 'test', 'parallel-worker.js');

interface Rank { child: ChildProcess; lines: Record<string, unknown>[]; stderr: string; exit: Promise<number | null>; line: () => Promise<Record<string, unknown>> }

/** Start `world` worker processes; mode(rank) says what each does. */
async function ranks(world: number, mode: (r: number) => string, extra: NodeJS.ProcessEnv = {}): Promise<Rank[]> {
  const port = await freePort();
  return Array.from({ length: world }, (_, r) => {
    const env = { ...process.env, ...extra, WORKER_MODE: mode(r), RANK: String(r), WORLD_SIZE: String(world), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    const child = spawn(process.execPath, [WORKER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const rank: Rank = { child, lines: [], stderr: '', exit: new Promise((res) => child.on('close', res)), line: () => new Promise(() => {}) };
    let waiters: ((l: Record<string, unknown>) => void)[] = [];
    let seen = 0;
    rank.line = () => new Promise((res) => { if (rank.lines.length > seen) res(rank.lines[seen++]); else waiters.push((l) => { seen++; res(l); }); });
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
        const l = JSON.parse(buf.slice(0, i));
        rank.lines.push(l);
        const w = waiters.shift();
        if (w) w(l);
      }
    });
    child.stderr!.on('data', (d: Buffer) => { rank.stderr += d; });
    void (waiters = []);
    return rank;
  });
}

for (const world of [2, 3]) {
  test(`allReduceMean and broadcast across ${world} processes: exact mean, identical bits on every rank`, { timeout: 60_000 }, async () => {
    const rs = await ranks(world, () => 'reduce');
    const codes = await Promise.all(rs.map((r) => r.exit));
    rs.forEach((r, i) => assert.equal(codes[i], 0, `rank ${i}: ${r.stderr}`));
    const out = rs.map((r) => r.lines[0]);
    for (const [i, o] of out.entries()) {
      assert.equal(o.rank, i);
      assert.equal(o.reduceBad, 0, `rank ${i}: values differing from the mean summed in rank order`);
      assert.equal(o.bcastBad, 0, `rank ${i}: values differing from rank 0's after broadcast`);
      assert.equal(o.hash, out[0].hash, `rank ${i}'s result is not bitwise rank 0's`);
    }
  });
}

test('a rank killed mid-collective: the others reject at once with the disconnect error', { timeout: 30_000 }, async () => {
  // rank 1 joins but never enters the collective; ranks 0 and 2 wait in allReduceMean
  const rs = await ranks(3, (r) => (r === 1 ? 'hang' : 'victim'), { WORKER_TIMEOUT_MS: '60000' });
  await Promise.all(rs.map((r) => r.line()));
  await new Promise((r) => setTimeout(r, 300)); // let 0 and 2 block inside the collective
  const t0 = Date.now();
  rs[1].child.kill('SIGKILL');
  const [r0, r2] = await Promise.all([rs[0].line(), rs[2].line()]);
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.match(String(r0.error), /^data parallel: rank 1 disconnected \(did it exit\?\)$/);
  assert.match(String(r0.later), /rank 1 disconnected/, 'a later collective must fail too');
  assert.match(String(r2.error), /^data parallel: rank 0 disconnected \(did it exit\?\)$/);
  assert.match(String(r2.later), /rank 0 disconnected/);
  await Promise.all([rs[0].exit, rs[2].exit]);
});

const local = (rank: number, world: number, port: number): WorldEnv => ({ rank, world, localRank: rank, masterAddr: '127.0.0.1', masterPort: port });

test('rendezvous timeout names the missing ranks; a rank without rank 0 says so', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const t0 = Date.now();
  await assert.rejects(connect(local(0, 3, port), { backend: 'cpu', timeoutMs: 600 }),
    (e: Error) => e instanceof CollectiveError && /^data parallel: rendezvous on 127\.0\.0\.1:\d+ timed out after 0\.6 s: rank 1, 2 of WORLD_SIZE 3 did not connect$/.test(e.message));
  assert.ok(Date.now() - t0 < 3000);
  await assert.rejects(connect(local(1, 2, port), { backend: 'cpu', timeoutMs: 500 }), /rank 1 could not reach rank 0 at 127\.0\.0\.1:\d+ within 0\.5 s \(ECONNREFUSED/);
});

test('in one process: a collective times out, mismatched calls are named, every later call fails', { timeout: 20_000 }, async () => {
  const port = await freePort();
  let [c0, c1] = await Promise.all([connect(local(0, 2, port), { backend: 'cpu', timeoutMs: 500 }), connect(local(1, 2, port), { backend: 'cpu', timeoutMs: 500 })]);
  await assert.rejects(c0.barrier(), (e: Error) => e instanceof CollectiveError && /^data parallel: barrier timed out after 0\.5 s on rank 0 \(.*MINIMIND_DIST_TIMEOUT/.test(e.message));
  await assert.rejects(c1.barrier(), /disconnected|timed out/); // rank 0 dropped it
  await assert.rejects(c0.allReduceMean([new Float32Array(2)]), /barrier timed out/);
  await c0.close(); await c1.close();

  const port2 = await freePort();
  [c0, c1] = await Promise.all([connect(local(0, 2, port2), { backend: 'cpu', timeoutMs: 5000 }), connect(local(1, 2, port2), { backend: 'cpu', timeoutMs: 5000 })]);
  const a = new Float32Array([1, 2]), b = new Float32Array([3, 4]);
  await Promise.all([c0.allReduceMean([a]), c1.allReduceMean([b])]);
  assert.deepEqual([...a], [2, 3]);
  assert.deepEqual([...b], [2, 3]);
  const r = await Promise.allSettled([c0.allReduceMean([new Float32Array(4)]), c1.broadcast([new Float32Array(5)])]);
  assert.match(String((r[0] as PromiseRejectedResult).reason), /rank 1 called broadcast #1 on 1 buffers \(5 values\) while rank 0 called allReduceMean #1 on 1 buffers \(4 values\)/);
  assert.match(String((r[1] as PromiseRejectedResult).reason), /rank 0 disconnected/);
  await c0.close(); await c1.close();
  await assert.rejects(c0.barrier(), /barrier called after close\(\)/);
});

test('worldFromEnv reads torchrun variables and names a bad one', () => {
  assert.equal(worldFromEnv({}), null);
  assert.equal(worldFromEnv({ WORLD_SIZE: '1', RANK: '0' }), null);
  assert.deepEqual(worldFromEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', MASTER_ADDR: '10.0.0.2', MASTER_PORT: '1234' }),
    { rank: 3, world: 4, localRank: 1, masterAddr: '10.0.0.2', masterPort: 1234 });
  assert.deepEqual(worldFromEnv({ WORLD_SIZE: '2', RANK: '1' }), { rank: 1, world: 2, localRank: 1, masterAddr: '127.0.0.1', masterPort: 29500 });
  const bad: [NodeJS.ProcessEnv, RegExp][] = [
    [{ WORLD_SIZE: 'two', RANK: '0' }, /^data parallel: WORLD_SIZE must be an integer from 1 to 65536, got "two"$/],
    [{ WORLD_SIZE: '2' }, /^data parallel: RANK is not set/],
    [{ WORLD_SIZE: '2', RANK: '2' }, /^data parallel: RANK must be an integer from 0 to 1, got "2"$/],
    [{ WORLD_SIZE: '2', RANK: '-1' }, /RANK must be an integer/],
    [{ WORLD_SIZE: '2', RANK: '0', LOCAL_RANK: '1.5' }, /LOCAL_RANK must be an integer/],
    [{ WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '70000' }, /^data parallel: MASTER_PORT must be an integer from 1 to 65535, got "70000"$/],
  ];
  for (const [env, re] of bad) assert.throws(() => worldFromEnv(env), (e: Error) => e instanceof UserError && re.test(e.message), JSON.stringify(env));
  assert.equal(timeoutFromEnv({}), 600_000);
  assert.equal(timeoutFromEnv({ MINIMIND_DIST_TIMEOUT: '2.5' }), 2500);
  assert.throws(() => timeoutFromEnv({ MINIMIND_DIST_TIMEOUT: '0' }), (e: Error) => e instanceof UserError && e.message === 'MINIMIND_DIST_TIMEOUT must be a positive number of seconds, got "0"');
});

test('NCCL library lookup: env path alone, else soname then Python wheels; a miss says how to install', async () => {
  const site = tmpDir();
  const wheel = path.join(site, 'nvidia', 'nccl', 'lib', 'libnccl.so.2');
  fs.mkdirSync(path.dirname(wheel), { recursive: true });
  fs.writeFileSync(wheel, '');
  const sites = () => [path.join(site, 'absent'), site];
  assert.deepEqual(libraryCandidates(NCCL, {}, sites), ['libnccl.so.2', wheel]);
  assert.deepEqual(libraryCandidates(NCCL, { MINIMIND_NCCL_LIB: '/opt/x/libnccl.so' }, sites), ['/opt/x/libnccl.so']);
  const tried: string[] = [];
  const loaded = loadLibrary(NCCL, (p) => { tried.push(p); if (p !== wheel) throw new Error('nope'); return 'lib'; }, {}, sites);
  assert.deepEqual(loaded, { lib: 'lib', path: wheel });
  assert.deepEqual(tried, ['libnccl.so.2', wheel]);
  assert.throws(() => loadLibrary(NCCL, () => { throw new Error('not found'); }, {}, () => []),
    (e: Error) => e instanceof UserError && /cannot find NCCL: tried libnccl\.so\.2 \(not found\) and nvidia\/nccl\/lib\/libnccl\.so\.2 in Python's site-packages; pip install nvidia-nccl-cu12.*MINIMIND_NCCL_LIB/.test(e.message));
  // the backend itself, through koffi: an explicit path that does not load is named
  const saved = process.env.MINIMIND_CUDART_LIB;
  process.env.MINIMIND_CUDART_LIB = '/nonexistent/libcudart.so.12';
  try {
    await assert.rejects(connect(local(0, 1, 1), { backend: 'nccl' }),
      (e: Error) => e instanceof UserError && /cannot load the CUDA runtime from MINIMIND_CUDART_LIB=\/nonexistent\/libcudart\.so\.12/.test(e.message));
  } finally {
    if (saved === undefined) delete process.env.MINIMIND_CUDART_LIB; else process.env.MINIMIND_CUDART_LIB = saved;
  }
});

test('launch: every rank gets its place; a failing rank stops the others and is named', { timeout: 30_000 }, async () => {
  const out = tmpDir();
  assert.equal(await launch({ nproc: 3, script: WORKER, args: [], env: { WORKER_MODE: 'env', WORKER_OUT: out } }), 0);
  const envs = [0, 1, 2].map((r) => JSON.parse(fs.readFileSync(path.join(out, `rank${r}.json`), 'utf8')).env as NodeJS.ProcessEnv);
  envs.forEach((e, r) => {
    assert.equal(e.RANK, String(r));
    assert.equal(e.LOCAL_RANK, String(r));
    assert.equal(e.WORLD_SIZE, '3');
    assert.equal(e.MASTER_ADDR, '127.0.0.1');
    assert.equal(e.MASTER_PORT, envs[0].MASTER_PORT);
  });
  const out2 = tmpDir();
  const t0 = Date.now();
  await assert.rejects(launch({ nproc: 2, script: WORKER, args: [], env: { WORKER_MODE: 'fail', WORKER_OUT: out2 }, graceMs: 3000 }),
    (e: Error) => e instanceof UserError && /^data parallel: rank 1 exited with code 3; the other ranks were stopped$/.test(e.message));
  assert.ok(Date.now() - t0 < 8000);
  const pid0 = JSON.parse(fs.readFileSync(path.join(out2, 'rank0.json'), 'utf8')).pid as number;
  assert.throws(() => process.kill(pid0, 0), /ESRCH/, 'rank 0 must have been stopped');
});

test('launch: Ctrl-C reaches every rank once, even when delivered twice; launch exits 130', { timeout: 30_000 }, async () => {
  const out = tmpDir();
  const run = launch({ nproc: 2, script: WORKER, args: [], env: { WORKER_MODE: 'sigint', WORKER_OUT: out } });
  const ready = () => [0, 1].every((r) => fs.existsSync(path.join(out, `rank${r}.json`)));
  while (!ready()) await new Promise((r) => setTimeout(r, 50));
  // the terminal and the relaunching parent both deliver one Ctrl-C to launch
  process.emit('SIGINT', 'SIGINT');
  process.emit('SIGINT', 'SIGINT');
  assert.equal(await run, 130);
  for (const r of [0, 1]) assert.equal(fs.readFileSync(path.join(out, `sigint${r}`), 'utf8'), '1', `rank ${r}`);
  assert.equal(process.listenerCount('SIGINT'), 0, 'launch removes its signal handlers');
});

test('launch through the CLI: rank argv verbatim, help of the ranks\' command, failure exits non-zero', { timeout: 60_000 }, () => {
  assert.deepEqual(rankArgv(['launch', '--nproc', '2', '--master_port=5', 'pretrain', '--batch_size', '4', '--help']), ['pretrain', '--batch_size', '4', '--help']);
  assert.equal(rankArgv(['launch', '--nproc', '2']), null);
  const help = cli(['launch', '--nproc_per_node', '2', 'eval-ppl', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.equal(help.stdout, cli(['eval-ppl', '--help']).stdout, 'stdout is rank 0 alone');
  assert.match(help.stderr, /^\[rank 1\] minimind eval-ppl$/m);
  const bad = cli(['launch', '--nproc', '2', 'eval-ppl', '--load_from', '/nonexistent/model', '--data_path', 'x.jsonl']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /error: data parallel: rank [01] exited with code 1; the other ranks were stopped/);
  assert.match(bad.stderr, /model \/nonexistent\/model does not exist/);
  const none = cli(['launch', '--nproc', '0', 'eval-ppl']);
  assert.match(none.stderr, /--nproc_per_node must be a positive integer, got 0/);
});
