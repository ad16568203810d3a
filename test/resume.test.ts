// Ctrl-C saves a checkpoint; resuming ends bit-identical to an uninterrupted run. A kill -9
// at any moment, saves included, leaves the latest checkpoint loadable.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.js';
import { cli, cliAsync, exited, flags, TINY, waitForStep, workspace, Workspace } from './helpers.js';

let ws: Workspace;
before(async () => { ws = await workspace(150); });

const STEPS = '120';
const args = (name: string, ...extra: string[]) => ['pretrain', ...flags(TINY, ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer,
  '--out_dir', path.join(ws.dir, 'out'), '--save_weight', name, '--max_steps', STEPS, '--log_interval', '1', '--save_interval', '1000',
  '--accumulation_steps', '2'], extra)];

test('SIGINT saves a checkpoint; resuming ends with weights bit-identical to an uninterrupted run', async () => {
  const full = cli(args('full'));
  assert.equal(full.code, 0, full.stderr);

  const child = cliAsync(args('split'));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const done = exited(child);
  await waitForStep(path.join(ws.dir, 'out', 'split'), 10, child);
  child.kill('SIGINT');
  assert.equal(await done, 130, stderr);
  assert.match(stderr, /interrupted at step \d+\/120: checkpoint saved/);
  const stoppedAt = loadCheckpoint(listCheckpoints(path.join(ws.dir, 'out', 'split')).pop()!).state.step;
  assert.ok(stoppedAt >= 10 && stoppedAt < 120, `stopped at ${stoppedAt}`);

  const resumed = cli(args('split', '--from_resume', '1'));
  assert.equal(resumed.code, 0, resumed.stderr);
  const a = fs.readFileSync(path.join(ws.dir, 'out', 'full', 'model.safetensors'));
  const b = fs.readFileSync(path.join(ws.dir, 'out', 'split', 'model.safetensors'));
  assert.ok(a.equals(b), `weights differ after resuming from step ${stoppedAt}`);
  // and the optimizer state too
  const ca = loadCheckpoint(listCheckpoints(path.join(ws.dir, 'out', 'full')).pop()!), cb = loadCheckpoint(listCheckpoints(path.join(ws.dir, 'out', 'split')).pop()!);
  for (const [k, m] of ca.m) assert.ok(Buffer.from(m.buffer).equals(Buffer.from(cb.m.get(k)!.buffer)), `Adam moment m.${k}`);
});

test('kill -9 at random moments, during saves too, leaves the latest checkpoint loadable', async () => {
  const name = 'killed';
  const runDir = path.join(ws.dir, 'out', name);
  for (let trial = 0; trial < 4; trial++) {
    const child = cliAsync(args(name, '--save_interval', '1', '--keep_checkpoints', '2', ...(trial ? ['--from_resume', '1'] : [])));
    const done = exited(child);
    await waitForStep(runDir, (trial + 1) * 4, child);
    await new Promise((r) => setTimeout(r, 7 * trial)); // vary where the kill lands
    child.kill('SIGKILL');
    await done;
    const cks = listCheckpoints(runDir);
    assert.ok(cks.length >= 1, `trial ${trial}: no checkpoint in ${fs.existsSync(runDir) ? fs.readdirSync(path.join(runDir, 'checkpoints')).join(',') : 'missing run dir'}`);
    const ck = loadCheckpoint(cks[cks.length - 1]);
    assert.ok(ck.weights.size > 0 && ck.state.step >= 1);
  }
  const r = cli(args(name, '--save_interval', '1', '--keep_checkpoints', '2', '--from_resume', '1'));
  assert.equal(r.code, 0, r.stderr);
});
