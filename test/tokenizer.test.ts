// Our trained tokenizer in Hugging Face's tokenizers binding: round trips, specials, template.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { TextStream } from '../src/tokenizer/stream.js';
import { Rng } from '../src/util/rng.js';
import { workspace, Workspace } from './helpers.js';

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
  assert.equal(text, '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>assistant\n');
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
