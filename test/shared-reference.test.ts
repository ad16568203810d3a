// Optional suite over ../shared/reference (MiniMind's own tokenizer files): it is not part
// of the project and is skipped, saying so, where it is absent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Template } from '@huggingface/jinja';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { processData } from '../src/data/process.js';
import { CHAT_TEMPLATE } from '../src/tokenizer/files.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { cli, ROOT } from './helpers.js';
import { readMetrics } from '../src/train/loop.js';

export const SHARED = path.join(ROOT, '..', 'shared', 'reference');
export const skipShared = fs.existsSync(SHARED) ? false : `../shared/reference is absent: optional reference suite skipped`;
if (skipShared) console.log(`# ${skipShared}`);

const SAMPLES = ['你好，世界! Hello world 🤖', '<|im_start|>system\nYou are MiniMind.<|im_end|>\n<|im_start|>user\n1+1=?<|im_end|>\n',
  'fn main() { let x = "ünïcödé"; }  \n\n\t end', '鲁迅（1881年9月25日－1936年10月19日），原名周樟寿，后改名周树人。', "It's 3.14159 -- isn't it?"];

for (const name of ['minimind3', 'minimind1']) {
  test(`MiniMind's ${name} tokenizer loads and encodes identically in the Rust binding and the JS implementation`, { skip: skipShared }, async () => {
    const dir = path.join(SHARED, name);
    const ours = MiniTokenizer.load(dir);
    const js = new JsTokenizer(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
    assert.equal(ours.vocabSize, 6400);
    for (const s of SAMPLES) {
      const ids = await ours.encode(s);
      assert.deepEqual(js.encode(s, { add_special_tokens: false }).ids, ids, s);
      assert.equal(await ours.decode(ids), s);
    }
  });
}

test("our chat template renders conversations byte-identical to MiniMind-3's", { skip: skipShared }, () => {
  const ref = new Template(JSON.parse(fs.readFileSync(path.join(SHARED, 'minimind3', 'tokenizer_config.json'), 'utf8')).chat_template);
  const ours = new Template(CHAT_TEMPLATE);
  const convs = [
    [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: '2+2?' }, { role: 'assistant', content: '<think>\nadd\n</think>\n\n4' }],
    [{ role: 'user', content: '你好' }, { role: 'assistant', content: '你好！', reasoning_content: '打招呼' }, { role: 'user', content: 'weather?' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }, { role: 'tool', content: '{"t": 20}' }, { role: 'assistant', content: 'Sunny.' }],
  ];
  for (const messages of convs) {
    for (const o of [{}, { add_generation_prompt: true }, { add_generation_prompt: true, open_thinking: true }, { add_generation_prompt: true, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }]) {
      assert.equal(ours.render({ messages, ...o }), ref.render({ messages, ...o }), JSON.stringify(o));
    }
  }
});

test("LLaMA-Factory's alpaca_zh_demo (SFT) and dpo_zh_demo (DPO) convert and process without errors", { skip: skipShared }, async () => {
  const tok = MiniTokenizer.load(path.join(SHARED, 'minimind3'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-ref-'));
  for (const [file, stage, records] of [['alpaca_zh_demo.json', 'sft', 1000], ['dpo_zh_demo.json', 'dpo', 300]] as const) {
    const warnings: string[] = [];
    const meta = await processData({ inputs: [path.join(SHARED, 'llamafactory', file)], tokenizer: tok, outDir: path.join(dir, stage), stage, warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    assert.equal(meta.stats.records, records);
    assert.equal(meta.samples, stage === 'dpo' ? 2 * records : records);
  }
});

test('SFT on alpaca_zh_demo and DPO on dpo_zh_demo run a few hundred steps and lower their loss', { skip: skipShared }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-ref-train-'));
  const out = path.join(dir, 'out'), lf = path.join(SHARED, 'llamafactory');
  const common = ['--out_dir', out, '--threads', '2', '--no-progress', '--log_interval', '20', '--save_interval', '1000', '--max_seq_len', '128'];
  const run = (args: string[]) => { const r = cli(args); assert.equal(r.code, 0, r.stderr); };
  const text = path.join(dir, 'text.jsonl'); // a starting model: one pretraining step
  fs.writeFileSync(text, JSON.stringify({ text: '你好，世界。' }) + '\n');
  run(['pretrain', ...common, '--data_path', text, '--tokenizer', path.join(SHARED, 'minimind3'), '--preset', 'tiny', '--hidden_size', '64',
    '--num_hidden_layers', '2', '--max_steps', '1', '--batch_size', '1', '--accumulation_steps', '1']);
  run(['full-sft', ...common, '--data_path', path.join(lf, 'alpaca_zh_demo.json'), '--from_weight', path.join(out, 'pretrain'), '--max_steps', '350',
    '--batch_size', '8', '--learning_rate', '3e-3']);
  const sft = readMetrics(path.join(out, 'full_sft'));
  assert.ok(sft[sft.length - 1].loss < sft[0].loss * 0.8, `SFT loss ${sft[0].loss} -> ${sft[sft.length - 1].loss}`);
  run(['dpo-train', ...common, '--data_path', path.join(lf, 'dpo_zh_demo.json'), '--from_weight', path.join(out, 'full_sft'), '--max_steps', '200',
    '--batch_size', '2', '--learning_rate', '1e-3']);
  const dpo = readMetrics(path.join(out, 'dpo'));
  const avg = (xs: Record<string, number>[]) => xs.reduce((s, e) => s + e.loss, 0) / xs.length;
  assert.ok(avg(dpo.slice(-3)) < avg(dpo.slice(0, 3)), `DPO loss ${avg(dpo.slice(0, 3))} -> ${avg(dpo.slice(-3))}`);
});

test("MiniMind v1's tokenizer: SFT labels cover its <s>assistant\\n ... </s>\\n turns (its bos/eos, not ChatML's)", { skip: skipShared }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-ref-v1sft-'));
  const f = path.join(dir, 'sft.jsonl');
  fs.writeFileSync(f, JSON.stringify({ conversations: [{ role: 'user', content: '1+1' }, { role: 'assistant', content: '等于2' }] }) + '\n');
  const tok = MiniTokenizer.load(path.join(SHARED, 'minimind1'));
  await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 'shards'), stage: 'sft' });
  const raw = fs.readFileSync(path.join(dir, 'shards', 'tokens.bin'));
  const ids = Array.from(new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2));
  const mask = Array.from(fs.readFileSync(path.join(dir, 'shards', 'mask.bin')));
  const labelled = ids.filter((_, i) => mask[i]);
  assert.equal(await tok.decode(labelled), '等于2</s>\n');
});
