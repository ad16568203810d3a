// Our trained tokenizer in Hugging Face's tokenizers binding: round trips, specials, template.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { Tokenizer as JsTokenizer } from '@huggingface/tokenizers';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { TextStream } from '../src/tokenizer/stream.js';
import { Rng } from '../src/util/rng.js';
import { cli, isCleanError, tmpDir, workspace, Workspace } from './helpers.js';

let ws: Workspace, tok: MiniTokenizer;
before(async () => { ws = await workspace(200); tok = MiniTokenizer.load(ws.tokenizer); });

test('special tokens have MiniMind-3 ids', () => {
  assert.equal(tok.padId, 0); assert.equal(tok.bosId, 1); assert.equal(tok.eosId, 2);
  assert.equal(tok.vocabSize, 300);
});

test('decode(encode(x)) == x for arbitrary Unicode', async () => {
  const rng = new Rng(5);
  const pools = ['abcXYZ ', '你好世界中文字符', '🤖🎉👍🏽', 'ÄÖÜéñ', '\n\t  ', '{}();=>"\\', 'ℵ∑∫√', '\u0301\u200d'];
  for (let i = 0; i < 200; i++) {
    let s = '';
    const n = 1 + rng.int(30);
    for (let k = 0; k < n; k++) { const p = [...pools[rng.int(pools.length)]]; s += p[rng.int(p.length)]; }
    if (rng.next() < 0.2) s += String.fromCodePoint(0x10000 + rng.int(0x10000));
    assert.equal(await tok.decode(await tok.encode(s)), s, JSON.stringify(s));
  }
});

test('special-token strings in text encode to their ids; chat template renders ChatML', async () => {
  const ids = await tok.encode('<|im_start|>user\nhi<|im_end|>');
  assert.equal(ids[0], 1); assert.equal(ids[ids.length - 1], 2);
  const text = tok.applyChatTemplate([{ role: 'system', content: 'S' }, { role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }], { addGenerationPrompt: true });
  assert.equal(text, '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
});

test('streaming decode never emits a partial character', async () => {
  const s = '你好🤖世界';
  const ids = await tok.encode(s);
  const ts = new TextStream(tok);
  let out = '';
  for (const id of ids) { const piece = await ts.push(id); assert.ok(!piece.includes('\uFFFD'), JSON.stringify(piece)); out += piece; }
  out += await ts.flush();
  assert.equal(out, s);
});

/** random strings over scripts, emoji, code and whitespace */
function randomText(rng: Rng): string {
  const pools = ['abcXYZ ', '你好世界中文字符', '🤖🎉👍🏽', 'ÄÖÜéñ', '\n\t  ', '{}();=>"\\', 'ℵ∑∫√', "'s 're 123 4567"];
  let s = '';
  const n = 1 + rng.int(40);
  for (let k = 0; k < n; k++) { const p = [...pools[rng.int(pools.length)]]; s += p[rng.int(p.length)]; }
  return s;
}

test("our tokenizer.json encodes identically in Hugging Face's Rust binding and in its pure-JS implementation", async () => {
  const js = new JsTokenizer(JSON.parse(fs.readFileSync(path.join(ws.tokenizer, 'tokenizer.json'), 'utf8')),
    JSON.parse(fs.readFileSync(path.join(ws.tokenizer, 'tokenizer_config.json'), 'utf8')));
  const rng = new Rng(11);
  const texts = ['The capital of Kalo is Kaloton. 卡洛的首都是卡洛城。 🤖 fn main() { println!("hi"); }\n', ...Array.from({ length: 200 }, () => randomText(rng))];
  for (const t of texts) assert.deepEqual(js.encode(t, { add_special_tokens: false }).ids, await tok.encode(t), JSON.stringify(t));
});

test('train-tokenizer: empty corpus, too small a vocabulary, missing or non-UTF-8 files are clear errors', async () => {
  const dir = tmpDir();
  const empty = path.join(dir, 'empty.jsonl');
  fs.writeFileSync(empty, '');
  const check = (args: string[], re: RegExp) => { const why = isCleanError(cli(['train-tokenizer', '--no-progress', '--out', path.join(dir, 'tok'), ...args]), re); assert.equal(why, null, why ?? ''); };
  check(['--data', empty], /has no text to train a tokenizer on/);
  check(['--data', ws.corpus, '--vocab_size', '100'], /vocab_size 100 is smaller than the 283 special and byte tokens/);
  check(['--data', path.join(dir, 'missing.txt')], /cannot read .*missing\.txt: no such file/);
  const bin = path.join(dir, 'latin1.txt');
  fs.writeFileSync(bin, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a, 0xff, 0xfe, 0x0a]));
  const r = cli(['train-tokenizer', '--no-progress', '--out', path.join(dir, 'tok'), '--data', bin, ws.corpus, '--vocab_size', '300']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /latin1\.txt:1: invalid UTF-8 bytes \(skipped\)/);
  assert.match(r.stderr, /latin1\.txt:2: invalid UTF-8 bytes \(skipped\)/);
});
