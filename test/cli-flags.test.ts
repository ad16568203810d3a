// MiniMind's flags: 0/1 values, --save_dir, --from_weight none|name, the flags that do
// nothing here say so, and a resume refuses what would change the batches.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { cli, flags, isCleanError, TINY, workspace, Workspace } from './helpers.js';

let ws: Workspace, out: string;
before(async () => { ws = await workspace(60); out = path.join(ws.dir, 'out'); });

const pretrain = (...extra: string[]) => cli(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--data_path', ws.corpus, '--save_dir', out, '--max_steps', '2'], extra)]);
const ok = (r: ReturnType<typeof cli>) => { assert.equal(r.code, 0, r.stderr); return r; };
const expectError = (r: ReturnType<typeof cli>, re: RegExp) => { const why = isCleanError(r, re); assert.equal(why, null, why ?? ''); };
const sampleCount = (r: ReturnType<typeof cli>) => Number(/(\d+) samples of \d+ tokens/.exec(r.stderr)?.[1]);

test('0/1 flags: --pack 1 is --pack, --pack 0 is --no-pack; other values are refused naming the flag', () => {
  const packed = sampleCount(ok(pretrain('--save_weight', 'p1', '--pack')));
  const padded = sampleCount(ok(pretrain('--save_weight', 'p2', '--no-pack')));
  assert.ok(packed !== padded, `packing should change the sample count (${packed} vs ${padded})`);
  assert.equal(sampleCount(ok(pretrain('--save_weight', 'p3', '--pack', '1'))), packed);
  assert.equal(sampleCount(ok(pretrain('--save_weight', 'p4', '--pack', '0'))), padded);
  assert.equal(sampleCount(ok(pretrain('--save_weight', 'p5', '--pack', 'true'))), packed);
  expectError(pretrain('--pack', '2'), /Argument: pack, Given: 2/);
  expectError(pretrain('--use_wandb', 'maybe'), /Argument: use_wandb, Given: "maybe"/);
});

test('--strict 1 stops at a malformed line, --strict 0 skips it', () => {
  const f = path.join(ws.dir, 'bad.jsonl');
  fs.writeFileSync(f, '{"text": "unterminated\n' + fs.readFileSync(ws.corpus, 'utf8'));
  expectError(pretrain('--data_path', f, '--save_weight', 's1', '--strict', '1'), /bad\.jsonl:1: invalid JSON/);
  const r = ok(pretrain('--data_path', f, '--save_weight', 's0', '--strict', '0'));
  assert.match(r.stderr, /1 lines skipped/);
});

test('--save_dir is --out_dir; --from_resume 1 and a bare --from_resume resume, 0 does not', () => {
  ok(pretrain('--save_weight', 'sd', '--save_interval', '1'));
  assert.ok(fs.existsSync(path.join(out, 'sd', 'model.safetensors')));
  assert.match(ok(pretrain('--save_weight', 'sd', '--max_steps', '3', '--from_resume', '1')).stderr, /resuming .*step-00000002/);
  assert.match(ok(pretrain('--save_weight', 'sd', '--max_steps', '4', '--from_resume')).stderr, /resuming .*step-00000003/);
  assert.doesNotMatch(ok(pretrain('--save_weight', 'sd', '--from_resume', '0')).stderr, /resuming/);
});

test('--from_weight: none is fresh weights, a MiniMind name resolves in --save_dir, a missing one names both paths', () => {
  ok(pretrain('--save_weight', 'base'));
  const fresh = ok(pretrain('--save_weight', 'fresh', '--from_weight', 'none', '--learning_rate', '1e-9', '--max_steps', '1', '--log_interval', '1'));
  const cont = ok(pretrain('--save_weight', 'cont', '--from_weight', 'base', '--learning_rate', '1e-9', '--max_steps', '1', '--log_interval', '1'));
  const loss = (dir: string) => JSON.parse(fs.readFileSync(path.join(out, dir, 'metrics.jsonl'), 'utf8').split('\n')[0]).loss as number;
  assert.ok(loss('cont') < loss('fresh'), `starting from out/base should begin below a fresh model's loss (${loss('cont')} vs ${loss('fresh')}): ${fresh.stderr}${cont.stderr}`);
  // full SFT from scratch: MiniMind's --from_weight none
  const sft = path.join(ws.dir, 'sft.jsonl');
  fs.writeFileSync(sft, JSON.stringify({ conversations: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello there' }] }) + '\n');
  const r = ok(cli(['full-sft', '--tokenizer', ws.tokenizer, '--data_path', sft, '--save_dir', out, '--from_weight', 'none', '--max_steps', '1',
    '--max_seq_len', '16', '--batch_size', '1', '--threads', '1', '--no-progress']));
  assert.match(r.stderr, /full_sft: [\d.]+M parameters/);
  expectError(pretrain('--save_weight', 'x', '--from_weight', 'nothere'), /--from_weight nothere: neither .*nothere \(a model directory\) nor .*nothere_32\.pth \(MiniMind weights\) exists/);
  expectError(cli(['lora-sft', '--data_path', sft, '--save_dir', out, '--from_weight', 'none']), /--from_weight none: LoRA adapts a base model/);
});

test('MiniMind flags without an effect here are accepted with a one-line notice, never silently', () => {
  const quiet = ok(pretrain('--save_weight', 'n0'));
  assert.doesNotMatch(quiet.stderr, /note:/);
  const r = ok(pretrain('--save_weight', 'n1', '--dtype', 'bfloat16', '--use_wandb', '1', '--wandb_project', 'MiniMind-Pretrain', '--num_workers', '8', '--use_compile', '1'));
  assert.match(r.stderr, /note: --dtype bfloat16 applies to --device cuda or webgpu; the CPU trains in float32/);
  assert.match(r.stderr, /note: --use_wandb: Weights & Biases is not logged from here; .*`wandb sync --project MiniMind-Pretrain .*n1.tb`/);
  assert.equal(r.stderr.split('\n').filter((l) => /wandb/.test(l)).length, 1, 'one line for --use_wandb and --wandb_project together');
  assert.match(r.stderr, /note: --num_workers has no effect here/);
  assert.match(r.stderr, /note: --use_compile has no effect here/);
  assert.ok(fs.statSync(path.join(out, 'n1', 'metrics.jsonl')).size > 0);
  assert.doesNotMatch(ok(pretrain('--save_weight', 'n2', '--use_wandb', '0', '--use_compile', '0')).stderr, /note:/);
  expectError(pretrain('--dtype', 'int8'), /Argument: dtype, Given: "int8"/);
});

test('resume refuses a changed batch size, accumulation, sequence length or data, naming the field', () => {
  ok(pretrain('--save_weight', 'r', '--save_interval', '1'));
  const resume = (...extra: string[]) => pretrain('--save_weight', 'r', '--max_steps', '4', '--from_resume', '1', ...extra);
  expectError(resume('--batch_size', '2'), /cannot resume .*step-00000002: it was trained with --batch_size 4, this run has --batch_size 2/);
  expectError(resume('--accumulation_steps', '2'), /it was trained with --accumulation_steps 1, this run has --accumulation_steps 2/);
  expectError(resume('--max_seq_len', '24'), /it was trained with --max_seq_len 32, this run has --max_seq_len 24/);
  const other = path.join(ws.dir, 'other.jsonl');
  fs.writeFileSync(other, fs.readFileSync(ws.corpus, 'utf8').split('\n').slice(0, 40).join('\n') + '\n');
  expectError(resume('--data_path', other), /cannot resume .*: the training data changed since the checkpoint/);
  // the same data again (the cache is rebuilt from the original file): resumes
  assert.match(ok(resume()).stderr, /resuming .*step-00000002/);
});

test('model flags take 0/1 too: --use_moe 1 trains a MoE model, --qk_norm 0 one without QK-norm; config.json has MiniMind\'s keys', () => {
  const cfg = (name: string) => JSON.parse(fs.readFileSync(path.join(out, name, 'config.json'), 'utf8'));
  ok(pretrain('--save_weight', 'moe1', '--use_moe', '1', '--n_routed_experts', '2'));
  assert.equal(cfg('moe1').use_moe, true);
  assert.equal(cfg('moe1').n_routed_experts, 2); // minimind2 family (tiny): MiniMind2's key
  ok(pretrain('--save_weight', 'moe0', '--use_moe', '0'));
  assert.equal(cfg('moe0').use_moe, false);
  ok(pretrain('--save_weight', 'm3', '--family', 'minimind3', '--qk_norm', '1', '--use_moe', '1', '--n_shared_experts', '0'));
  assert.equal(cfg('m3').num_experts, 4); // minimind-3's key
  assert.equal(cfg('m3').qk_norm, true);
  expectError(pretrain('--save_weight', 'bad', '--use_moe', 'yes'), /Argument: use_moe, Given: "yes"/);
});
