// Test workspaces (a small corpus and tokenizer of their own) and a CLI runner.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoCorpus } from '../src/demo/corpus.js';
import { trainTokenizer } from '../src/tokenizer/train-corpus.js';
import { listCheckpoints, loadCheckpoint } from '../src/train/checkpoint.js';
import { readMetrics } from '../src/train/loop.js';

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(ROOT, 'dist', 'bin', 'minimind.js');

export function tmpDir(prefix = 'minimind-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Workspace { dir: string; corpus: string; tokenizer: string }

/** A directory with corpus.jsonl (demo facts) and a 300-token tokenizer trained on it. */
export async function workspace(docs = 400): Promise<Workspace> {
  const dir = tmpDir();
  const corpus = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(corpus, demoCorpus(7, 200, 10, docs).docs.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  const tokenizer = path.join(dir, 'tok');
  await trainTokenizer([corpus], 300, tokenizer, { progress: false });
  return { dir, corpus, tokenizer };
}

/** Write `rows` as JSONL to <dir>/<name>; returns the path. */
export function jsonlFile(dir: string, name: string, rows: unknown[]): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return f;
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function cli(args: string[], cwd = ROOT, env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function cliAsync(args: string[], cwd = ROOT) {
  return spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Merge flag lists: a later `--flag value` replaces an earlier one. */
export function flags(...lists: string[][]): string[] {
  const out: string[] = [];
  for (const list of lists) {
    for (let i = 0; i < list.length; i++) {
      const f = list[i], takesValue = i + 1 < list.length && !list[i + 1].startsWith('--');
      const at = f.startsWith('--') ? out.indexOf(f) : -1;
      const chunk = takesValue ? [f, list[++i]] : [f];
      if (at >= 0) out.splice(at, out[at + 1] !== undefined && !out[at + 1].startsWith('--') ? 2 : 1, ...chunk);
      else out.push(...chunk);
    }
  }
  return out;
}

/** Flags for a very small, quick model run. */
export const TINY = ['--preset', 'tiny', '--hidden_size', '32', '--num_hidden_layers', '2', '--num_attention_heads', '4', '--num_key_value_heads', '2',
  '--max_seq_len', '32', '--batch_size', '4', '--accumulation_steps', '1', '--threads', '1', '--no-progress', '--learning_rate', '3e-3'];

/** A user error: exit 1, the message on stderr, no stack trace. */
export function isCleanError(r: CliResult, pattern: RegExp): string | null {
  if (r.code !== 1) return `exit code ${r.code}, stderr: ${r.stderr}`;
  if (!pattern.test(r.stderr)) return `stderr does not match ${pattern}: ${r.stderr}`;
  if (/\n\s+at .+:\d+:\d+/.test(r.stderr)) return `stack trace printed: ${r.stderr}`;
  return null;
}

/** Resolve when a run's metrics.jsonl shows at least `step` logged steps. */
export async function waitForStep(runDir: string, step: number, child: ReturnType<typeof cliAsync>): Promise<void> {
  const f = path.join(runDir, 'metrics.jsonl');
  for (;;) {
    if (child.exitCode !== null) throw new Error(`training ended (code ${child.exitCode}) before step ${step}`);
    if (fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length >= step) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const exited = (child: ReturnType<typeof cliAsync>) => new Promise<number | null>((r) => child.on('exit', (code) => r(code)));

/**
 * A resumed CLI run continued its checkpoint: its first progress line is the step after the
 * checkpoint's, it logged no step up to it again, and the run's metrics equal the
 * uninterrupted run's line for line (the timing fields aside). A resume that started again
 * at step 0 fails here even where it would end with the same weights.
 */
export function assertResumedLog(fullDir: string, splitDir: string, resumedStderr: string, stoppedAt: number): void {
  const steps = [...resumedStderr.matchAll(/ step (\d+)\/\d+ /g)].map((m) => Number(m[1]));
  assert.equal(steps[0], stoppedAt + 1, `the resumed run's first step (checkpoint at step ${stoppedAt})`);
  assert.ok(steps.every((s) => s > stoppedAt), `the resumed run ran steps up to ${stoppedAt} again`);
  const lines = (dir: string) => readMetrics(dir).map(({ tokens_per_s: _t, elapsed_s: _e, ...rest }) => rest);
  assert.deepEqual(lines(splitDir), lines(fullDir), 'metrics of the interrupted and resumed run');
}

/**
 * Run a training command uninterrupted, and again interrupted by SIGINT then resumed (checked
 * with assertResumedLog; needs --log_interval 1 and --no-progress); return both results' bytes.
 */
export async function interruptedAndResumed(args: (name: string) => string[], runDir: (name: string) => string, file: string, at = 5): Promise<[Buffer, Buffer]> {
  const full = cli(args('full'));
  if (full.code !== 0) throw new Error(full.stderr);
  const child = cliAsync(args('split'));
  const done = exited(child);
  await waitForStep(runDir('split'), at, child);
  child.kill('SIGINT');
  if ((await done) !== 130) throw new Error('the interrupted run did not exit with 130');
  const stoppedAt = loadCheckpoint(listCheckpoints(runDir('split')).pop()!).state.step;
  const resumed = cli([...args('split'), '--from_resume', '1']);
  if (resumed.code !== 0) throw new Error(resumed.stderr);
  assertResumedLog(runDir('full'), runDir('split'), resumed.stderr, stoppedAt);
  return [fs.readFileSync(path.join(runDir('full'), file)), fs.readFileSync(path.join(runDir('split'), file))];
}
