// The CLI runs every command in one process (it used to start node a second time for glibc's
// malloc tunables): it sets them itself, and follows the processes it must not outlive.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { CLI, ROOT } from './helpers.js';
import { TinyModel, tinyModelDir } from './serve-helpers.js';

let m: TinyModel;
before(async () => { m = await tinyModelDir(); });

const children = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();

test('a command runs in the process that was started: no second node', { timeout: 60_000, skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const child = spawn(process.execPath, [CLI, 'serve', '--load_from', m.dir, '--port', '0', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (b) => { err += b; if (err.includes('serving')) resolve(); });
      child.on('exit', () => reject(new Error(err)));
    });
    assert.equal(children(child.pid!), '', 'the serving process has no child process');
  } finally { child.kill('SIGTERM'); }
});

/** RSS (MB) after a 256 MB block was written and freed, in a process that first ran keepFreedMemory (unless MINIMIND_MALLOC=default). */
function rssAfterFree(env: Record<string, string>): { kept: boolean; after: number } {
  const script = `
    const { keepFreedMemory } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'startup.js'))});
    const kept = keepFreedMemory();
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    let b = Buffer.allocUnsafeSlow(256 * 1024 * 1024); b.fill(1);
    const full = rss();
    b = null; globalThis.gc(); globalThis.gc();
    console.log(JSON.stringify({ kept, full, after: rss() }));`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script}`],
    { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { kept: boolean; full: number; after: number };
  assert.ok(o.full > 250, `the block was in memory (${o.full} MB)`);
  return o;
}

test('freed memory stays in the process, as GLIBC_TUNABLES would keep it (set in-process with mallopt)', { skip: process.platform !== 'linux' && 'glibc only' }, () => {
  const tuned = rssAfterFree({ MINIMIND_MALLOC: '' }), plain = rssAfterFree({ MINIMIND_MALLOC: 'default' });
  assert.deepEqual([tuned.kept, plain.kept], [true, false], 'applied, except with MINIMIND_MALLOC=default');
  assert.ok(tuned.after > 250, `tuned: ${tuned.after} MB after the free (kept)`);
  assert.ok(plain.after < 150, `default: ${plain.after} MB after the free (returned to the system)`);
});

test('a process named in MINIMIND_WATCH_PID (a rank\'s launcher) that ends stops the command as SIGTERM would', { timeout: 60_000 }, async () => {
  const watched = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  const child = spawn(process.execPath, [CLI, 'serve', '--load_from', m.dir, '--port', '0', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MINIMIND_WATCH_PID: String(watched.pid) } });
  let err = '';
  child.stderr.on('data', (b) => { err += b; });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    while (!err.includes('serving')) await new Promise((r) => setTimeout(r, 50));
    watched.kill('SIGKILL');
    const code = await Promise.race([exit, new Promise((r) => setTimeout(() => r('still running 10 s later'), 10_000))]);
    assert.equal(code, 0);
    assert.match(err, /serve: stopped on SIGTERM\n$/);
  } finally { child.kill('SIGKILL'); watched.kill('SIGKILL'); }
});

test('a GPU run is supervised: a native crash of the command (a signal nobody sent) gets a line, not silence', { timeout: 60_000, skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  // --device auto asks for a GPU (here it falls back to the CPU): the REPL waits on stdin
  const parent = spawn(process.execPath, [CLI, 'eval', '--load_from', m.dir, '--device', 'auto', '--threads', '1'], { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let err = '';
  parent.stderr.on('data', (b) => { err += b; });
  const exit = new Promise<number | null>((r) => parent.on('exit', (code) => r(code)));
  let worker = '';
  for (let i = 0; i < 200 && !worker; i++) { await new Promise((r) => setTimeout(r, 50)); worker = children(parent.pid!); }
  assert.ok(/^\d+$/.test(worker), `the command runs in one supervised child (children: ${JSON.stringify(worker)})`);
  await new Promise((r) => setTimeout(r, 500));
  process.kill(Number(worker), 'SIGSEGV'); // what a driver's segfault would do
  assert.equal(await exit, 128 + 11);
  assert.match(err, /error: the eval process ended with SIGSEGV in native code \(ONNX Runtime's auto provider or the GPU driver\)/);
  assert.doesNotMatch(err, /\n\s+at .+:\d+:\d+/, 'no stack trace');
});

test('a supervised GPU run forwards Ctrl-C to its command and ends with it', { timeout: 60_000, skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const parent = spawn(process.execPath, [CLI, 'eval', '--load_from', m.dir, '--device', 'auto', '--threads', '1'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const exit = new Promise<[number | null, string | null]>((r) => parent.on('exit', (code, sig) => r([code, sig])));
  let worker = '';
  for (let i = 0; i < 200 && !worker; i++) { await new Promise((r) => setTimeout(r, 50)); worker = children(parent.pid!); }
  await new Promise((r) => setTimeout(r, 500));
  parent.kill('SIGINT');
  const [code] = await exit;
  assert.ok(code !== null && code !== 139, `exited with ${code}`);
  assert.throws(() => process.kill(Number(worker), 0), 'the command ended with its supervisor');
});

test('only the command that runs is loaded: --help lists every command from their names alone', async () => {
  const { commandsFor, LOADERS } = await import('../src/cli/commands.js');
  const { COMMAND_INFO, commandName } = await import('../src/cli/command-info.js');
  const loaded = async (argv: string[]) => (await commandsFor(argv, (c) => c)).filter((c) => c.builder).map((c) => c.command);
  assert.deepEqual(await loaded(['--help']), [], 'the top-level help loads no command');
  assert.deepEqual(await loaded([]), []);
  assert.deepEqual(await loaded(['pretrain', '--max_steps', '3']), ['pretrain']);
  assert.deepEqual(await loaded(['bench', 'train']), ['bench <what>']);
  // flags before the command: every command is loaded, so whichever yargs picks runs
  assert.equal((await loaded(['--device', 'cpu', 'pretrain'])).length, COMMAND_INFO.length);
  // every entry loads the module of its own name, and every loader has an entry
  for (const e of COMMAND_INFO) assert.equal((await LOADERS[commandName(e)]()).command, e.command);
  assert.deepEqual(Object.keys(LOADERS).sort(), COMMAND_INFO.map(commandName).sort());
});
