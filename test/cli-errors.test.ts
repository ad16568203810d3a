// Bad input gets one clear line (exit 1, no stack trace) naming the file, line or field.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { cli, flags, isCleanError, TINY, workspace, Workspace } from './helpers.js';

let ws: Workspace;
before(async () => { ws = await workspace(60); });

const pretrain = (...extra: string[]) => cli(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--out_dir', path.join(ws.dir, 'out'), '--max_steps', '2'], extra)]);
const expectError = (r: ReturnType<typeof cli>, re: RegExp) => { const why = isCleanError(r, re); assert.equal(why, null, why ?? ''); };

test('missing data file', () => expectError(pretrain('--data_path', path.join(ws.dir, 'nope.jsonl')), /cannot read data file .*nope\.jsonl: no such file/));

test('empty data file', () => {
  const f = path.join(ws.dir, 'empty.jsonl');
  fs.writeFileSync(f, '');
  expectError(pretrain('--data_path', f), /no usable records in .*empty\.jsonl/);
});

test('malformed lines: reported with file:line, skipped and counted; --strict stops at the first', () => {
  const f = path.join(ws.dir, 'bad.jsonl');
  const good = fs.readFileSync(ws.corpus, 'utf8').split('\n').slice(0, 20);
  fs.writeFileSync(f, [good[0], '{"text": "unterminated', '{"txt": "wrong field"}', '{"text": 42}', '{"text": "  "}', ...good.slice(1)].join('\n') + '\n');
  fs.appendFileSync(f, Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a])); // {"text":"\xff\xfe"}
  const r = pretrain('--data_path', f, '--save_weight', 'lenient');
  assert.equal(r.code, 0, r.stderr);
  for (const [line, why] of [[2, 'invalid JSON'], [3, 'missing field "text"'], [4, 'field "text" must be a string'], [5, 'empty "text"'], [25, 'invalid UTF-8']] as const) {
    assert.match(r.stderr, new RegExp(`bad\\.jsonl:${line}: ${why.replace(/"/g, '"')}`), `line ${line}`);
  }
  assert.match(r.stderr, /5 lines skipped/);
  expectError(pretrain('--data_path', f, '--strict', '--save_weight', 'strict'), /bad\.jsonl:2: invalid JSON/);
});

test('unknown preset', () => expectError(pretrain('--data_path', ws.corpus, '--preset', 'gpt5'), /Invalid values:[\s\S]*preset/));

test('inconsistent config names the field', () => {
  expectError(pretrain('--data_path', ws.corpus, '--hidden_size', '34'), /hidden_size \(34\) must be divisible by num_attention_heads \(4\)/);
  expectError(pretrain('--data_path', ws.corpus, '--hidden_size', '36'), /config field head_dim \(9\) must be even for rotary embeddings/);
  expectError(pretrain('--data_path', ws.corpus, '--num_key_value_heads', '3'), /num_attention_heads \(4\) must be divisible by num_key_value_heads \(3\)/);
  expectError(pretrain('--data_path', ws.corpus, '--batch_size', '0'), /--batch_size must be a positive number/);
});

test('--from_resume without a checkpoint, and with a corrupt one', () => {
  expectError(pretrain('--data_path', ws.corpus, '--save_weight', 'never', '--from_resume', '1'), /no checkpoint to resume/);
  const r = pretrain('--data_path', ws.corpus, '--save_weight', 'corrupt', '--save_interval', '1');
  assert.equal(r.code, 0, r.stderr);
  const ckDir = path.join(ws.dir, 'out', 'corrupt', 'checkpoints');
  const last = path.join(ckDir, fs.readdirSync(ckDir).sort().pop()!);
  fs.writeFileSync(path.join(last, 'state.json'), '{"step": ');
  expectError(pretrain('--data_path', ws.corpus, '--save_weight', 'corrupt', '--from_resume', '1'), /checkpoint .* is corrupt: cannot read state\.json/);
  fs.writeFileSync(path.join(last, 'state.json'), JSON.stringify({ step: 1, micro: 1, seed: 42, optimizer_step: 1, stage: 'pretrain', config: {} }));
  fs.truncateSync(path.join(last, 'model.safetensors'), 100);
  expectError(pretrain('--data_path', ws.corpus, '--save_weight', 'corrupt', '--from_resume', last), /checkpoint .* (is corrupt|different model config)/);
  expectError(pretrain('--data_path', ws.corpus, '--save_weight', 'corrupt', '--from_resume', path.join(ws.dir, 'missing')), /checkpoint .*missing does not exist/);
});

test('missing tokenizer and missing model directory', () => {
  expectError(cli(['pretrain', ...TINY, '--data_path', ws.corpus, '--tokenizer', path.join(ws.dir, 'notok')]), /no tokenizer\.json in .*notok/);
  expectError(cli(['eval-pretrain', '--load_from', path.join(ws.dir, 'nomodel')]), /model directory .*nomodel does not exist/);
});

test('a flag given twice is an error, not a silent sum', () => expectError(cli(['pretrain', '--epochs', '2', '--epochs', '3']), /--epochs is given more than once/));

test('every command has --help', () => {
  for (const c of ['pretrain', 'eval-pretrain', 'train-tokenizer', 'demo']) {
    const r = cli([c, '--help']);
    assert.equal(r.code, 0, c);
    assert.match(r.stdout, /Options:|Training:|Sampling:/, c);
  }
});
