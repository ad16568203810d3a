// export, eval-ppl and merge-lora show a progress bar on a terminal (run here under a
// pseudo-terminal by util-linux's `script`), and none with --no-progress or in a pipe.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { cli, CLI, flags, TINY, workspace, Workspace } from './helpers.js';

const SCRIPT = '/usr/bin/script';
const skip = fs.existsSync(SCRIPT) ? false : `${SCRIPT} (util-linux) is not installed: no pseudo-terminal to show the bars on`;

let ws: Workspace, base: string, adapter: string;
before(async () => {
  if (skip) return;
  ws = await workspace(60);
  const out = path.join(ws.dir, 'out');
  const run = (args: string[]) => { const r = cli(args); assert.equal(r.code, 0, r.stderr); };
  run(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--data_path', ws.corpus, '--save_dir', out, '--max_steps', '2'])]);
  const sft = path.join(ws.dir, 'sft.jsonl');
  fs.writeFileSync(sft, JSON.stringify({ conversations: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }] }) + '\n');
  run(['lora-sft', '--data_path', sft, '--save_dir', out, '--from_weight', path.join(out, 'pretrain'), '--max_steps', '1', '--lora_rank', '2', '--max_seq_len', '32', '--batch_size', '1', '--threads', '1', '--no-progress']);
  base = path.join(out, 'pretrain'); adapter = path.join(out, 'lora_sft');
});

/** The command on a terminal: its output with the bar's control sequences removed. */
function onTerminal(args: string[]): { code: number | null; text: string } {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync(SCRIPT, ['-qec', quoted, '/dev/null'], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status, text: (r.stdout + r.stderr).replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]/g, '').replace(/\r/g, '\n') };
}

test('export shows reading and converting bars, one step per tensor', { skip }, () => {
  const r = onTerminal(['export', '--load_from', base, '--format', 'hf', '--out', path.join(ws.dir, 'hf')]);
  assert.equal(r.code, 0, r.text);
  assert.match(r.text, /export reading\s+\S+ 1\/1/);
  const converted = /export converting\s+\S+ (\d+)\/(\d+)/g;
  const last = [...r.text.matchAll(converted)].at(-1);
  assert.ok(last && last[1] === last[2] && Number(last[2]) > 5, r.text);
  assert.doesNotMatch(onTerminal(['export', '--load_from', base, '--format', 'hf', '--out', path.join(ws.dir, 'hf2'), '--no-progress']).text, /converting/);
  assert.doesNotMatch(cli(['export', '--load_from', base, '--format', 'hf', '--out', path.join(ws.dir, 'hf3')]).stderr, /converting/, 'no bar in a pipe');
});

test('eval-ppl counts samples; merge-lora counts adapted layers', { skip }, () => {
  const ppl = onTerminal(['eval-ppl', '--load_from', base, '--data_path', ws.corpus, '--limit', '4', '--threads', '1']);
  assert.equal(ppl.code, 0, ppl.text);
  assert.match(ppl.text, /eval-ppl samples\s+\S+ 4\/4/);
  const merge = onTerminal(['merge-lora', '--base', base, '--adapter', adapter, '--out', path.join(ws.dir, 'merged')]);
  assert.equal(merge.code, 0, merge.text);
  const layers = Number(/merged (\d+) adapted layers/.exec(merge.text)?.[1]);
  assert.match(merge.text, new RegExp(`merge-lora merging\\s+\\S+ ${layers}/${layers}`));
  assert.match(merge.text, /merge-lora writing\s+\S+ 1\/1/);
});
