// A MiniMind user's command lines: kebab-case spellings, eval_llm.py's flags, --device cuda:N,
// help that opens with the command's own flags, and no dead end without a tokenizer.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { normalizeFlags } from '../src/cli/argv.js';
import { loadChatModel, promptIds } from '../src/eval/chat.js';
import { streamText } from '../src/eval/generate-text.js';
import { ChatMessage } from '../src/tokenizer/tokenizer.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { cli, CLI, flags, isCleanError, ROOT, TINY, tmpDir, workspace, Workspace } from './helpers.js';

let ws: Workspace;
before(async () => { ws = await workspace(60); });

const ok = (r: ReturnType<typeof cli>) => { assert.equal(r.code, 0, r.stderr); return r; };
const expectError = (r: ReturnType<typeof cli>, re: RegExp) => { const why = isCleanError(r, re); assert.equal(why, null, why ?? ''); };

test('flags in kebab-case are the snake_case ones; values and what follows -- stay as they are', () => {
  assert.deepEqual(normalizeFlags(['pretrain', '--data-path', 'a-b.jsonl', '--no-auto-tokenizer', '--no_progress', '--max-steps=3', '-h', '--', '--keep-me']),
    ['pretrain', '--data_path', 'a-b.jsonl', '--no-auto_tokenizer', '--no-progress', '--max_steps=3', '-h', '--', '--keep-me']);
  assert.throws(() => normalizeFlags(['--max-steps', '1', '--max_steps', '2']), /--max_steps is given more than once/);
  assert.deepEqual(normalizeFlags(['--data', 'a', '--data', 'b']), ['--data', 'a', '--data', 'b']);
  const out = path.join(ws.dir, 'kebab');
  ok(cli(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--data-path', ws.corpus, '--save-dir', out, '--save-weight', 'k', '--max-steps', '1', '--use-tensorboard', '0'])]));
  assert.ok(fs.existsSync(path.join(out, 'k', 'model.safetensors')));
  assert.ok(!fs.existsSync(path.join(out, 'k', 'tb')), '--use-tensorboard 0 reached --use_tensorboard');
  expectError(cli(['pretrain', '--max-steps', '1', '--max_steps', '2']), /--max_steps is given more than once/);
});

/** A briefly pretrained model directory `<dir>/<name>` (random weights answer alike whatever the prompt). */
function modelDir(dir: string, name: string): string {
  ok(cli(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--data_path', ws.corpus, '--save_dir', dir, '--save_weight', name, '--max_steps', '40', '--max_seq_len', '64'])]));
  return path.join(dir, name);
}

const answerOf = (stdout: string) => stdout.split('🤖 ').slice(1).map((s) => s.trim());

/** The greedy 6-token reply to a conversation, decoded as `eval` does it (its prompt budget, its text stream). */
async function historyAnswer(dir: string, history: ChatMessage[]): Promise<string> {
  const { gen, tok, maxLen } = await loadChatModel({ loadFrom: dir, session: { threads: 1 } });
  const ids = await promptIds(tok, history, maxLen - Math.min(6, Math.floor(maxLen / 2)));
  const { text } = await streamText(gen, tok, ids, { maxNewTokens: 6, temperature: 0 }, () => {});
  await gen.release();
  return text.trim();
}

test("eval_llm.py's command lines: --weight, --save_dir, --lora_weight, --historys, --show_speed, --open_thinking, --device cuda:N", async () => {
  const cwd = tmpDir('minimind-evalllm-'), save = path.join(cwd, 'out');
  const sft = modelDir(save, 'full_sft');
  fs.cpSync(sft, path.join(save, 'pretrain'), { recursive: true });
  const greedy = ['--temperature', '0', '--max_new_tokens', '6', '--threads', '1'];
  const evalc = (...a: string[]) => cli(['eval', ...greedy, ...a], cwd);
  // --weight full_sft in --save_dir is --load_from out/full_sft; the speed line unless --show_speed 0
  const byWeight = ok(evalc('--weight', 'full_sft', '--save_dir', save, '--prompt', 'hello'));
  const byDir = ok(evalc('--load_from', sft, '--prompt', 'hello', '--show_speed', '0'));
  assert.deepEqual(answerOf(byWeight.stdout), answerOf(byDir.stdout));
  assert.match(byWeight.stderr, /\[Speed\]: [\d.]+ tokens\/s/);
  assert.doesNotMatch(byDir.stderr, /Speed/);
  // a 'pretrain' weight continues the text with no chat template, as eval-pretrain does
  const raw = answerOf(ok(evalc('--weight', 'pretrain', '--save_dir', save, '--prompt', 'The capital of')).stdout)[0];
  const cont = ok(cli(['eval-pretrain', 'The capital of', '--load_from', path.join(save, 'pretrain'), ...greedy], cwd)).stdout;
  assert.ok(cont.includes(`The capital of${raw}`), `eval --weight pretrain answered ${JSON.stringify(raw)}; eval-pretrain: ${cont}`);
  assert.notDeepEqual([raw], answerOf(ok(evalc('--weight', 'full_sft', '--save_dir', save, '--prompt', 'The capital of')).stdout));
  // --historys 0: every question alone, as a one-message run would answer it
  const repl = (...a: string[]) => spawnSync(process.execPath, [CLI, 'eval', ...greedy, '--weight', 'full_sft', '--save_dir', save, ...a],
    { cwd, input: 'hello\nwhere is the capital\n/exit\n', encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  const alone = answerOf(ok(evalc('--weight', 'full_sft', '--save_dir', save, '--prompt', 'where is the capital')).stdout)[0];
  const h0 = repl('--historys', '0'), h2 = repl('--historys', '2');
  assert.equal(h0.status, 0, h0.stderr);
  assert.equal(answerOf(h0.stdout)[1], alone);
  // --historys 2: the second question is asked after the first exchange, as the library decodes that conversation
  // (not "differs from alone": a small model can answer both alike)
  const [first, second] = answerOf(h2.stdout);
  assert.equal(second, await historyAnswer(path.join(save, 'full_sft'), [{ role: 'user', content: 'hello' }, { role: 'assistant', content: first }, { role: 'user', content: 'where is the capital' }]),
    '--historys 2 keeps the first exchange in the prompt');
  ok(evalc('--weight', 'full_sft', '--save_dir', save, '--prompt', 'hi', '--open_thinking', '1'));
  // the lora weight: a directory of ours, or a hint for MiniMind's .pth; None is no adapter
  ok(evalc('--weight', 'full_sft', '--save_dir', save, '--lora_weight', 'None', '--prompt', 'hi'));
  expectError(evalc('--weight', 'full_sft', '--save_dir', save, '--lora_weight', 'lora_identity', '--prompt', 'hi'), /--lora_weight lora_identity: no adapter directory .*lora_identity \(train one with `minimind lora-sft --lora_name lora_identity`/);
  fs.writeFileSync(path.join(save, 'lora_identity_768.pth'), '');
  expectError(evalc('--weight', 'full_sft', '--save_dir', save, '--lora_weight', 'lora_identity', '--prompt', 'hi'), /MiniMind's LoRA file .*lora_identity_768\.pth is not read here/);
  // a MiniMind weight file is looked for in eval_llm.py's default shape (minimind3: 768)
  expectError(evalc('--weight', 'rlhf', '--save_dir', save), /--weight rlhf: neither .*rlhf \(a model directory\) nor .*rlhf_768\.pth/);
  expectError(evalc('--weight', 'full_sft', '--load_from', sft), /--weight and --load_from both name the model/);
  // --device cuda:0 is the CUDA provider (here: not installed), cuda:x is refused cleanly
  expectError(evalc('--weight', 'full_sft', '--save_dir', save, '--device', 'cuda:0'), /--device cuda: |CUDA/);
  expectError(evalc('--device', 'cuda:x'), /--device cuda:x: choose one of auto, cpu, cuda, webgpu or cuda:N/);
  expectError(cli(['eval', '--device', 'cuda:1'], cwd, { CUDA_VISIBLE_DEVICES: '3' }), /--device cuda:1: CUDA_VISIBLE_DEVICES=3 makes only 1 GPU/);
});

test('the template options reach the chat template: open_thinking leaves the reasoning block open', async () => {
  const tok = MiniTokenizer.load(ws.tokenizer);
  const msgs = [{ role: 'user' as const, content: 'hi' }];
  const closed = await tok.decode(await promptIds(tok, msgs, 1000)), open = await tok.decode(await promptIds(tok, msgs, 1000, { open_thinking: true }));
  assert.match(closed, /<think>\s*<\/think>\s*$/);
  assert.doesNotMatch(open, /<\/think>\s*$/);
});

const COMMANDS = ['download', 'train-tokenizer', 'data-process', 'pretrain', 'eval-pretrain', 'full-sft', 'lora-sft', 'merge-lora', 'dpo-train',
  'distill', 'grpo', 'ppo', 'eval', 'serve', 'chat-api', 'demo', 'ceval', 'eval-ppl', 'bench', 'install-cuda', 'export', 'launch'];

test('--help: every flag described, the command\'s own flags first, the model-shape flags last', () => {
  const top = ok(cli(['--help']));
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`minimind ${c}\\b`), `${c} is listed`);
  for (const c of COMMANDS) {
    const r = ok(cli([c, '--help']));
    // a flag line with its type right after the names: no description (a line that continues
    // an alias list wrapped after a comma, or a wrapped description, is not a flag line)
    const lines = r.stdout.split('\n');
    const names = (l: string | undefined) => (l ?? '').trimStart().split(/\s{2,}/)[0]; // the left column: a flag and its aliases
    const bare = lines.filter((l, i) => /^\s+--[\w-]+(, --[\w-]+)*\s{2,}\[/.test(l) && !names(lines[i - 1]).endsWith(','));
    assert.deepEqual(bare, [], `${c}: flags without a description`);
    const groups = [...r.stdout.matchAll(/^(\w[\w &]*):$/gm)].map((m) => m[1]).filter((g) => g !== 'Examples' && g !== 'Commands');
    if (groups.includes('Model')) assert.equal(groups.at(-1), 'Model', `${c}: ${groups.join(', ')}`);
    const first = groups.find((g) => g !== 'Positionals');
    assert.ok(first === 'Options' || first === 'Training', `${c} opens with ${first}`);
  }
  const ev = ok(cli(['eval', '--help'])).stdout;
  assert.ok(ev.indexOf('--load_from') < ev.indexOf('--help'), '--load_from before the global --help');
  assert.ok(ev.indexOf('--load_from') < ev.indexOf('--preset'));
  const pt = ok(cli(['pretrain', '--help'])).stdout;
  assert.ok(pt.indexOf('--epochs') < pt.indexOf('--hidden_size'));
  const script = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'eval_ceval.js'), '--help'], { encoding: 'utf8' });
  assert.match(script.stdout, /C-Eval \/ CMMLU accuracy/, 'scripts/eval_ceval.ts is `minimind ceval`');
});

test('pretrain with no tokenizer trains one on its data first (into model/), or says how to get one', () => {
  const cwd = tmpDir('minimind-fresh-');
  fs.copyFileSync(ws.corpus, path.join(cwd, 'corpus.jsonl'));
  const run = (...a: string[]) => cli(['pretrain', ...flags(TINY, ['--data_path', 'corpus.jsonl', '--max_steps', '1'], a)], cwd);
  const first = ok(run('--vocab_size', '400'));
  assert.match(first.stderr, /no tokenizer in model\/: training one \(byte-level BPE, 400 tokens\) on corpus\.jsonl first, as `minimind train-tokenizer` does .*`minimind download tokenizer`/);
  assert.ok(MiniTokenizer.load(path.join(cwd, 'model')).vocabSize <= 400);
  assert.doesNotMatch(ok(run('--save_weight', 'again', '--vocab_size', '400')).stderr, /training one/, 'the tokenizer in model/ is used the next time');
  const bare = tmpDir('minimind-fresh-');
  fs.copyFileSync(ws.corpus, path.join(bare, 'corpus.jsonl'));
  expectError(cli(['pretrain', ...TINY, '--data_path', 'corpus.jsonl', '--no_auto_tokenizer'], bare), /no tokenizer\.json in model \(train one with `minimind train-tokenizer`, or fetch MiniMind's with `minimind download tokenizer`\)/);
  expectError(cli(['pretrain', ...TINY, '--data_path', 'missing.jsonl'], bare), /cannot read data file missing\.jsonl: no such file/);
  assert.ok(!fs.existsSync(path.join(bare, 'model', 'tokenizer.json')));
});

test('bench ceval where there is no tokenizer: one trained on generated text, and a note naming MiniMind\'s', () => {
  const r = ok(cli(['bench', 'ceval', '--data_dir', path.join(ROOT, 'test', 'fixtures', 'ceval', 'data'), '--preset', 'tiny', '--threads', '1', '--json'], tmpDir('minimind-fresh-')));
  assert.match(r.stderr, /note: no tokenizer in model\/: using one trained on generated text \(`minimind download tokenizer` fetches MiniMind's\)/);
  assert.ok(JSON.parse(r.stdout).questions > 0);
});
