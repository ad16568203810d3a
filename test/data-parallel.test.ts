// Data parallel training through `minimind launch`: 2 processes x 1 thread, each taking every
// other batch and averaging gradients, end with the weights of 1 process with twice the
// accumulation, across epoch ends whose last group is short (25 batches per epoch: with 2
// batches per step the last has one, which rank 1 sits out); with accumulation they resume
// with the same N from the checkpoint's step; a rank that dies takes the run down with an
// error that names it instead of hanging.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { readSafetensors } from '../src/io/safetensors.js';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.js';
import { readMetrics } from '../src/train/loop.js';
import { assertResumedLog, cli, cliAsync, exited, flags, TINY, waitForStep, workspace, Workspace } from './helpers.js';

let ws: Workspace;
before(async () => { ws = await workspace(150); });

const run = (name: string, acc: number, ...extra: string[]) => ['pretrain', ...flags(TINY, ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer,
  '--out_dir', path.join(ws.dir, 'out'), '--save_weight', name, '--max_steps', '30', '--log_interval', '1', '--save_interval', '10', '--batch_size', '6',
  '--accumulation_steps', String(acc), '--threads', '1'], extra)];
const weights = (name: string) => readSafetensors(path.join(ws.dir, 'out', name, 'model.safetensors')).tensors;

function maxRelDiff(a: Map<string, { data: unknown }>, b: Map<string, { data: unknown }>): number {
  let worst = 0;
  for (const [k, t] of a) {
    const x = t.data as Float32Array, y = b.get(k)!.data as Float32Array;
    let d = 0, n = 0;
    for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i] - y[i])); n = Math.max(n, Math.abs(y[i])); }
    worst = Math.max(worst, d / Math.max(n, 1e-6));
  }
  return worst;
}

test('2 processes x accumulation 1 train the weights of 1 process x accumulation 2 (MoE; same batches, same LR per step, the same metrics)', async () => {
  const moe = ['--use_moe', '1'];
  const one = cli(run('one', 2, ...moe));
  assert.equal(one.code, 0, one.stderr);
  const two = cli(['launch', '--nproc_per_node', '2', ...run('two', 1, ...moe)]);
  assert.equal(two.code, 0, two.stderr);
  assert.match(two.stderr, /batch \d+ x 1 accumulation x 2 processes/);
  const a = readMetrics(path.join(ws.dir, 'out', 'one')), b = readMetrics(path.join(ws.dir, 'out', 'two'));
  assert.equal(b.length, 30, 'only rank 0 writes the metrics, one line per step');
  for (let s = 0; s < 30; s++) {
    assert.equal(b[s].lr, a[s].lr, `step ${s + 1}: lr`);
    assert.ok(Math.abs(b[s].loss - a[s].loss) < 1e-4 * a[s].loss, `step ${s + 1}: loss ${b[s].loss} vs ${a[s].loss}`);
    assert.ok(Math.abs(b[s].grad_norm - a[s].grad_norm) < 1e-3 * a[s].grad_norm, `step ${s + 1}: grad norm ${b[s].grad_norm} vs ${a[s].grad_norm}`);
    // the MoE metrics are summed over ranks in one order, also where rank 1 sat out the epoch's last, short group
    assert.ok(a[s].aux_loss > 0 && Math.abs(b[s].aux_loss - a[s].aux_loss) < 1e-4 * a[s].aux_loss, `step ${s + 1}: aux loss ${b[s].aux_loss} vs ${a[s].aux_loss}`);
  }
  const d = maxRelDiff(weights('two'), weights('one'));
  assert.ok(d < 1e-3, `final weights differ by ${d} (relative to each tensor's largest value)`);
  // and training moved them: the comparison is not between two untouched initialisations
  const fresh = cli(run('fresh', 2, ...moe, '--max_steps', '1'));
  assert.equal(fresh.code, 0, fresh.stderr);
  assert.ok(maxRelDiff(weights('fresh'), weights('one')) > 1e-2);
});

test('a data-parallel run with accumulation interrupted with Ctrl-C resumes its checkpoint with the same number of processes to the uninterrupted weights', async () => {
  const long = ['--max_steps', '100'];
  const child = cliAsync(['launch', '--nproc_per_node', '2', ...run('split', 2, ...long)]);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const done = exited(child);
  await waitForStep(path.join(ws.dir, 'out', 'split'), 5, child);
  child.kill('SIGINT');
  assert.equal(await done, 130, stderr);
  const stoppedAt = loadCheckpoint(listCheckpoints(path.join(ws.dir, 'out', 'split')).pop()!).state.step;
  assert.ok(stoppedAt >= 5 && stoppedAt < 100, `stopped at ${stoppedAt}`);
  const resumed = cli(['launch', '--nproc_per_node', '2', ...run('split', 2, ...long, '--from_resume', '1')]);
  assert.equal(resumed.code, 0, resumed.stderr);
  // another number of processes would take other batches per step: refused, naming it
  const other = cli(run('split', 2, ...long, '--from_resume', '1'));
  assert.notEqual(other.code, 0);
  assert.match(other.stderr, /trained by 2 process\(es\), this run has 1/);
  const full = cli(['launch', '--nproc_per_node', '2', ...run('full', 2, ...long)]);
  assert.equal(full.code, 0, full.stderr);
  assertResumedLog(path.join(ws.dir, 'out', 'full'), path.join(ws.dir, 'out', 'split'), resumed.stderr, stoppedAt);
  // same processes, same batches, same thread count: bit-identical
  for (const [k, t] of weights('split')) assert.deepEqual(t.data, weights('full').get(k)!.data, k);
});

test('a rank that dies mid-run stops the others with an error naming it', async () => {
  const child = cliAsync(['launch', '--nproc_per_node', '2', ...run('killed', 1, '--max_steps', '100000')]);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const done = exited(child);
  await waitForStep(path.join(ws.dir, 'out', 'killed'), 2, child);
  // rank 1 is the launcher's second child; kill it the hard way
  const { execSync } = await import('node:child_process');
  const ranks = execSync(`pgrep -f -- "--save_weight killed"`).toString().trim().split('\n').map(Number);
  const rank1 = ranks.find((pid) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('RANK=1'));
  assert.ok(rank1, 'found rank 1');
  process.kill(rank1!, 'SIGKILL');
  const code = await done;
  assert.notEqual(code, 0);
  assert.match(stderr, /rank 1/);
  assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
});
