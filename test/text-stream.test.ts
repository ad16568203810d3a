// Streaming detokenization decodes a short window per token; what it emits must add up to
// the full decode, never with a partial character, whatever the ids.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { TextStream } from '../src/tokenizer/stream.js';
import { Rng } from '../src/util/rng.js';
import { workspace } from './helpers.js';

let tok: MiniTokenizer;
before(async () => { tok = MiniTokenizer.load((await workspace(200)).tokenizer); });

async function streamed(ids: number[], skipSpecial = true): Promise<string[]> {
  const ts = new TextStream(tok, skipSpecial), pieces: string[] = [];
  for (const id of ids) pieces.push(await ts.push(id));
  pieces.push(await ts.flush());
  return pieces;
}

test('streamed text of encoded Unicode equals the text, one whole character or more per piece', async () => {
  const rng = new Rng(9);
  const pools = ['abcXYZ ', '你好世界中文字符', '🤖🎉👍🏽', 'ÄÖÜéñ', '\n\t  ', '{}();=>"\\', 'ℵ∑∫√'];
  for (let i = 0; i < 60; i++) {
    let s = '';
    for (let k = 1 + rng.int(60); k > 0; k--) { const p = [...pools[rng.int(pools.length)]]; s += p[rng.int(p.length)]; }
    const pieces = await streamed(await tok.encode(s));
    assert.equal(pieces.join(''), s);
    for (const p of pieces) assert.ok(!p.includes('\uFFFD'), JSON.stringify(p));
  }
});

test('random ids (special tokens, stray bytes) stream to the full decode', async () => {
  const rng = new Rng(4);
  for (let i = 0; i < 60; i++) {
    const ids = Array.from({ length: 1 + rng.int(80) }, () => rng.int(tok.vocabSize));
    for (const skip of [true, false]) {
      const full = (await tok.decode(ids, skip)).replace(/\uFFFD+$/, '');
      assert.equal((await streamed(ids, skip)).join(''), full, JSON.stringify(ids));
    }
  }
});
