// `minimind serve` stopped as users stop it. On the CLI itself, SIGTERM or Ctrl-C lets a
// running stream finish within --shutdown_grace or cuts it with a final chunk that says
// why, prints one line and exits 0. Through npx (npm forwards a signal only to the shell it
// started, which does not pass it on), SIGTERM, Ctrl-C and SIGKILL all leave the port free
// and no process behind.
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { before, test } from 'node:test';
import { CLI, ROOT } from './helpers.js';
import { TinyModel, tinyModelDir } from './serve-helpers.js';

let m: TinyModel;
before(async () => {
  m = await tinyModelDir({ max_position_embeddings: 4096 });
  // npm makes a package's bin executable when it installs or links it; a rebuilt dist/ (tsc) is not
  fs.chmodSync(CLI, 0o755);
});

/** Start `serve` (through npx, in its own process group, when asked); resolves with its port once it listens. */
async function serve(args: string[], npx = false): Promise<{ child: ChildProcess; port: number; stderr: () => string; exit: Promise<number | null> }> {
  const argv = ['serve', '--load_from', m.dir, '--port', '0', '--threads', '1', ...args];
  const child = npx
    ? spawn('npx', ['minimind', ...argv], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } })
    : spawn(process.execPath, [CLI, ...argv], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let err = '';
  child.stderr!.on('data', (b) => { err += b; });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on('data', () => { const mm = /http:\/\/127\.0\.0\.1:(\d+)/.exec(err); if (mm) resolve(Number(mm[1])); });
    void exit.then(() => reject(new Error(`serve exited: ${err}`)));
  });
  return { child, port, stderr: () => err, exit };
}

/** The processes below `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); parent.set(Number(d), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1])); } catch { /* gone */ }
  }
  const out: number[] = [], todo = [pid];
  while (todo.length) { const p = todo.pop()!; for (const [c, pp] of parent) if (pp === p) { out.push(c); todo.push(c); } }
  return out;
}

const alive = (pid: number) => { try { process.kill(pid, 0); return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
const portFree = (port: number) => new Promise<boolean>((resolve) => {
  const s = net.createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

/** Open a long stream and read its first chunk; `rest` is all of it once it ends (in an object: an async function would wait for a promise it returns). */
async function longStream(port: number): Promise<{ rest: Promise<string> }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 3000, ignore_eos: true, temperature: 1 }) });
  const reader = res.body!.getReader(), dec = new TextDecoder();
  let text = dec.decode((await reader.read()).value);
  return { rest: (async () => { for (;;) { const { value, done } = await reader.read(); if (done) return text; text += dec.decode(value); } })() };
}

const linesAfterServing = (err: string) => err.slice(err.indexOf('\n', err.indexOf('serving')) + 1).split('\n').filter(Boolean);

test('SIGTERM with no grace: the running stream ends with a chunk that says why; one line; exit 0', { timeout: 60_000 }, async () => {
  const s = await serve(['--shutdown_grace', '0']);
  const { rest } = await longStream(s.port);
  s.child.kill('SIGTERM');
  const text = await rest;
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  assert.equal((JSON.parse(events.at(-2)!.slice(6)) as { error: { code: string } }).error.code, 'server_shutdown');
  assert.equal(await s.exit, 0);
  assert.deepEqual(linesAfterServing(s.stderr()), ['serve: stopped on SIGTERM: 0 of 1 running requests finished, 1 cut (--shutdown_grace 0 s)']);
  assert.ok(await portFree(s.port));
});

test('Ctrl-C (SIGINT) within the grace period: the running stream finishes; one line; exit 0', { timeout: 120_000 }, async () => {
  const s = await serve(['--shutdown_grace', '100']);
  const { rest } = await longStream(s.port);
  s.child.kill('SIGINT');
  const text = await rest;
  assert.match(text, /"finish_reason":"length"/);
  assert.ok(text.endsWith('data: [DONE]\n\n'));
  assert.equal(await s.exit, 0);
  assert.deepEqual(linesAfterServing(s.stderr()), ['serve: stopped on SIGINT: 1 of 1 running requests finished']);
});

for (const [how, stop] of [
  ['SIGTERM to npx', (c: ChildProcess) => process.kill(c.pid!, 'SIGTERM')],
  ['Ctrl-C (SIGINT to the terminal\'s process group)', (c: ChildProcess) => process.kill(-c.pid!, 'SIGINT')],
  ['SIGKILL to npx', (c: ChildProcess) => process.kill(c.pid!, 'SIGKILL')],
] as const) {
  test(`npx minimind serve, ${how}: the port is free and no process is left`, { timeout: 90_000 }, async () => {
    const s = await serve([], true);
    const tree = descendants(s.child.pid!);
    try {
      assert.ok(tree.length >= 2, `npx runs the CLI below it (${tree.length} processes)`);
      stop(s.child);
      await s.exit;
      const t0 = performance.now();
      while ([...tree].some(alive) && performance.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(tree.filter(alive), [], 'processes left running');
      assert.ok(await portFree(s.port), `port ${s.port} is still taken`);
    } finally { // what a failure left behind must not outlive the test
      for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      s.child.stderr!.destroy();
    }
  });
}
