// distill, grpo (both loss types) and ppo from the command line on a tiny model the test
// trains: the student's KL to its teacher falls; every stage resumes after Ctrl-C exactly as
// an uninterrupted run (its steps, metrics and weights; a resume that started again at step 0
// fails); rewards from a module (errors reported per sample with the module's own stack, the
// run going on) and from an HTTP endpoint (a local test server), and their failures.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { demoCorpus } from '../src/demo/corpus.js';
import { readMetrics } from '../src/train/loop.js';
import { modelSource } from '../src/train/rewards.js';
import { cli, cliAsync, exited, flags, interruptedAndResumed, isCleanError, jsonlFile, workspace, Workspace } from './helpers.js';

let ws: Workspace, out: string, chats: string, prompts: string, sft: string, teacher: string;
const corpus = demoCorpus(7, 120, 10, 300);
const SHAPE = ['--preset', 'tiny', '--hidden_size', '32', '--num_hidden_layers', '2', '--num_attention_heads', '4', '--num_key_value_heads', '2'];
const COMMON = ['--threads', '1', '--no-progress', '--log_interval', '1', '--save_interval', '1000'];
const PPO = ['--batch_size', '2', '--max_gen_len', '6', '--max_seq_len', '64', '--learning_rate', '1e-3', '--thinking_ratio', '0.5'];
const RL = [...PPO, '--num_generations', '2'];
const run = (...args: string[]) => { const r = cli(args); assert.equal(r.code, 0, r.stderr); return r; };
const module = (name: string, src: string) => { const f = path.join(ws.dir, name); fs.writeFileSync(f, src); return f; };

before(async () => {
  ws = await workspace(300);
  out = path.join(ws.dir, 'out');
  chats = jsonlFile(ws.dir, 'sft.jsonl', corpus.chats);
  // RLAIF records: the question, and the answer as the reference (what a verifiable reward checks)
  prompts = jsonlFile(ws.dir, 'rlaif.jsonl', corpus.chats.slice(0, 40));
  const base = (name: string, extra: string[]) => run('pretrain', ...flags(SHAPE, COMMON, ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--out_dir', out,
    '--save_weight', name, '--max_steps', '60', '--max_seq_len', '64', '--batch_size', '8', '--learning_rate', '3e-3', '--log_interval', '20'], extra));
  base('student', []);
  base('teacher', ['--hidden_size', '48', '--max_steps', '150']);
  teacher = path.join(out, 'teacher');
  run('full-sft', ...flags(COMMON, ['--data_path', chats, '--from_weight', path.join(out, 'student'), '--out_dir', out, '--save_weight', 'sft',
    '--max_steps', '40', '--max_seq_len', '64', '--batch_size', '8', '--learning_rate', '3e-3', '--log_interval', '20']));
  sft = path.join(out, 'sft');
});

let server: http.Server | null = null;
after(() => server?.close());

test("distill: the student's KL to a (bigger) teacher falls on the demo's chats", () => {
  run('distill', ...flags(COMMON, ['--from_student_weight', path.join(out, 'student'), '--from_teacher_weight', teacher, '--data_path', chats, '--out_dir', out,
    '--max_steps', '40', '--batch_size', '8', '--max_seq_len', '64', '--learning_rate', '2e-3', '--alpha', '0.2', '--system_prompt_ratio', '0']));
  const m = readMetrics(path.join(out, 'full_dist'));
  const avg = (xs: Record<string, number>[]) => xs.reduce((s, e) => s + e.distill_loss, 0) / xs.length;
  const [early, late] = [avg(m.slice(0, 5)), avg(m.slice(-5))];
  // measured: ~1.2 -> ~0.5
  assert.ok(late < 0.7 * early, `distillation loss ${early} -> ${late}`);
  assert.ok(m.every((e) => e.ce_loss > 0 && Number.isFinite(e.distill_loss)));
  assert.ok(fs.existsSync(path.join(out, 'full_dist', 'model.safetensors')));
});

test('distill, grpo (grpo and cispo) and ppo resume after Ctrl-C exactly like an uninterrupted run', async () => {
  const dir = (name: string) => path.join(out, 'resume', name);

  const cases: [string, string[], string][] = [
    ['distill', ['--from_student_weight', sft, '--from_teacher_weight', teacher, '--data_path', chats, '--batch_size', '4', '--max_seq_len', '64', '--learning_rate', '1e-3'], 'model.safetensors'],
    ['grpo', [...RL, '--from_weight', sft, '--data_path', prompts, '--loss_type', 'grpo'], 'model.safetensors'],
    ['grpo', [...RL, '--from_weight', sft, '--data_path', prompts, '--loss_type', 'cispo'], 'model.safetensors'],
    ['ppo', [...PPO, '--from_weight', sft, '--data_path', prompts, '--mini_batch_size', '1', '--critic_learning_rate', '2e-3'], 'critic.safetensors'],
  ];
  for (const [cmd, extra, file] of cases) {
    const tag = `${cmd}${extra.includes('cispo') ? '-cispo' : ''}`;
    const args = (n: string) => [cmd, ...flags(COMMON, ['--out_dir', path.join(out, 'resume'), '--save_weight', `${tag}-${n}`, '--max_steps', '24'], extra)];
    const [a, b] = await interruptedAndResumed(args, (n) => dir(`${tag}-${n}`), file);
    assert.ok(a.equals(b), `${tag}: ${file} differs after resuming`);
  }
  // both loss types trained (and differently), and GRPO logged what MiniMind logs
  const m = readMetrics(dir('grpo-full')), c = readMetrics(dir('grpo-cispo-full'));
  assert.ok(['reward', 'kl_ref', 'advantages_std', 'advantages_mean', 'policy_loss', 'avg_response_len', 'reward_errors'].every((k) => k in m[0]), Object.keys(m[0]).join(' '));
  assert.equal(m[0].kl_ref, 0, 'the policy starts as the reference');
  assert.notDeepEqual(m.map((e) => e.loss), c.map((e) => e.loss));
  const p = readMetrics(dir('ppo-full'));
  assert.ok(['critic_loss', 'approx_kl', 'clipfrac', 'kl_ref', 'updates'].every((k) => k in p[0]));
  // 2 prompts per batch, minibatches of 1, 2 passes: 4 updates of actor and critic per step
  assert.ok(p.every((e) => e.updates === 4 || e.approx_kl > 0.25), JSON.stringify(p.map((e) => e.updates)));
});

test('grpo (both loss types) and ppo raise the reward they are given: rewarded for short answers, the completions shorten', () => {
  const short = module('short.mjs', 'export default (messages, answer) => -answer.length / 10;\n');
  const cases: [string, string[]][] = [['grpo', ['--num_generations', '4', '--loss_type', 'grpo']], ['grpo', ['--num_generations', '4', '--loss_type', 'cispo']], ['ppo', ['--mini_batch_size', '2', '--critic_learning_rate', '3e-3']]];
  for (const [cmd, extra] of cases) {
    const name = `short-${cmd}-${extra[3]}`;
    run(cmd, ...flags(COMMON, PPO, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', name, '--max_steps', '30', '--batch_size', '4',
      '--max_gen_len', '16', '--learning_rate', '3e-3', '--thinking_ratio', '0', '--reward_fn', short, '--reward_rules', '0'], extra));
    const m = readMetrics(path.join(out, name)), avg = (xs: Record<string, number>[], k: string) => xs.reduce((acc, e) => acc + e[k], 0) / xs.length;
    const [r0, r1, l0, l1] = [avg(m.slice(0, 5), 'reward'), avg(m.slice(-5), 'reward'), avg(m.slice(0, 5), 'avg_response_len'), avg(m.slice(-5), 'avg_response_len')];
    // measured: reward -0.8 -> -0.2 (grpo), -1.35 -> -0.1 (ppo); length 9-12 -> 2-3 tokens
    assert.ok(r1 > r0 + 0.3 && l1 < 0.6 * l0, `${cmd} ${extra.join(' ')}: reward ${r0} -> ${r1}, completion tokens ${l0} -> ${l1}`);
  }
});

test('--reward_fn: a module scores each completion; a sample whose scoring throws is reported with the module\'s stack and the run goes on', () => {
  // a verifiable reward, and a bug that hits every other sample
  const fn = module('reward.mjs', [
    'let n = 0;',
    'export default function reward(messages, answer, { reference }) {',
    '  if (n++ % 2) throw new RangeError(`no score for ${JSON.stringify(answer)}`);',
    '  return messages.at(-1).role === "user" && answer.length >= 0 ? (reference && answer.includes(reference.slice(-5)) ? 1 : 0) : -1;',
    '}', ''].join('\n'));
  const r = run('grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', 'grpo-fn', '--max_steps', '3', '--reward_fn', fn]));
  assert.match(r.stderr, /reward error \(reward\.mjs\) in epoch 1 batch 1, sample 2: RangeError: no score for /);
  assert.match(r.stderr, new RegExp(`at reward \\(file://${fn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:`), "the module's own stack (file and line)");
  assert.doesNotMatch(r.stderr, /rewards\.js/, 'our frames are left out');
  const m = readMetrics(path.join(out, 'grpo-fn'));
  assert.equal(m.length, 3);
  assert.ok(m.every((e) => e.reward_errors === 2), 'two of the four samples of each step failed');
});

test('--reward_fn: a step in which every sample fails stops the run with the first error; a bad module is refused before training', () => {
  const bad = module('broken.mjs', 'export default () => { throw new Error("reward model offline"); };\n');
  const r = cli(['grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', 'grpo-bad', '--max_steps', '2', '--reward_fn', bad])]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: every reward of epoch 1 batch 1 failed \(broken\.mjs\); the first: Error: reward model offline\n\s+at default \(file:\/\/.*broken\.mjs:1:/);
  const e = (args: string[], re: RegExp) => { const why = isCleanError(cli(['grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out], args)]), re); assert.equal(why, null, why ?? ''); };
  e(['--reward_fn', module('none.mjs', 'export const x = 1;\n')], /--reward_fn .*none\.mjs: the module exports no function/);
  e(['--reward_fn', path.join(ws.dir, 'missing.mjs')], /--reward_fn .*missing\.mjs: cannot load the module/);
  e(['--reward_fn', module('nan.mjs', 'export default () => NaN;\n')], /every reward of epoch 1 batch 1 failed \(nan\.mjs\); the first: returned NaN, not a finite number/);
  e(['--num_generations', '1'], /--num_generations must be an integer of at least 2/);
  e(['--reward_rules', '0'], /--reward_rules 0 without --reward_fn, --reward_url or --reward_model leaves nothing to reward/);
  e(['--reward_model_path', 'x'], /--reward_model_path: MiniMind's reward model is not run here/);
});

test('--reward_model: a model scores answers by its own likelihood (the mean log-probability per token), a fluent answer above a garbled one', async () => {
  const src = await modelSource(teacher, { threads: 1 });
  const q = corpus.chats[0].conversations[0], a = corpus.chats[0].conversations[1].content;
  const [good, bad] = await src.score([a, 'qz xv zzq vq.'].map((answer) => ({ messages: [q], answer, response: answer, reference: null })));
  assert.ok('score' in good && 'score' in bad && good.score > bad.score + 0.5 && good.score <= 0 && bad.score >= -3, `${JSON.stringify(good)} vs ${JSON.stringify(bad)}`);
  const r = run('grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', 'grpo-rm', '--max_steps', '2', '--reward_model', teacher, '--reward_rules', '0']));
  assert.doesNotMatch(r.stderr, /reward error/);
  assert.ok(readMetrics(path.join(out, 'grpo-rm')).every((e) => e.reward < 0 && e.reward >= -3));
});

test('--reward_url: completions are scored by an HTTP endpoint (a local server), batched, retried on server errors', async () => {
  const seen: { samples: { messages: unknown[]; answer: string; response: string; reference: string | null }[] }[] = [];
  let calls = 0;
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      calls++;
      if (calls === 2) { res.writeHead(503); res.end('busy'); return; } // one transient failure: retried
      const b = JSON.parse(body);
      seen.push(b);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ scores: b.samples.map((s: { answer: string }) => 2 + s.answer.length / 1000) }));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/score`;
  // the CLI runs in a child process while this one serves
  const child = cliAsync(['grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', 'grpo-url', '--max_steps', '3',
    '--reward_url', url, '--reward_rules', '0'])]);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  assert.equal(await exited(child), 0, stderr);
  assert.equal(seen.length, 3, 'one request per step (the 503 retried)');
  assert.equal(calls, 4);
  const s = seen[0].samples;
  assert.equal(s.length, 4, '2 prompts x 2 generations in one request');
  assert.ok(s.every((x) => Array.isArray(x.messages) && typeof x.answer === 'string' && typeof x.reference === 'string'));
  const m = readMetrics(path.join(out, 'grpo-url'));
  // rules off: the reward is the server's score
  m.forEach((e, i) => {
    const want = seen[i].samples.reduce((acc, x) => acc + Math.fround(2 + x.answer.length / 1000), 0) / 4;
    assert.ok(Math.abs(e.reward - want) < 1e-6, `step ${i + 1}: reward ${e.reward} vs the server's ${want}`);
  });
  // a server that answers the wrong shape fails every sample: the run stops naming the URL
  const r = cli(['grpo', ...flags(COMMON, RL, ['--from_weight', sft, '--data_path', prompts, '--out_dir', out, '--save_weight', 'grpo-url-bad', '--max_steps', '1',
    '--reward_url', `http://127.0.0.1:9/none`, '--reward_timeout', '2'])]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /every reward of epoch 1 batch 1 failed \(http:\/\/127\.0\.0\.1:9\/none\); the first: http:\/\/127\.0\.0\.1:9\/none: fetch failed/);
});
