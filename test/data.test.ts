// SFT/DPO sequences: label masks with MiniMind's semantics, truncation, processing summary.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { assistantMask, spanMarkers } from '../src/data/chat.js';
import { processData } from '../src/data/process.js';
import { PairSamples, TokenSamples } from '../src/data/samples.js';
import { ShardReader } from '../src/data/shards.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { tmpDir, workspace, Workspace } from './helpers.js';

let ws: Workspace, tok: MiniTokenizer;
before(async () => { ws = await workspace(200); tok = MiniTokenizer.load(ws.tokenizer); });

/** the decoded text of each run of masked tokens */
async function maskedSpans(ids: number[], mask: number[]): Promise<string[]> {
  const spans: string[] = [];
  let cur: number[] = [];
  for (let i = 0; i <= ids.length; i++) {
    if (i < ids.length && mask[i]) cur.push(ids[i]);
    else if (cur.length) { spans.push(await tok.decode(cur)); cur = []; }
  }
  return spans;
}

test('SFT labels cover each assistant reply through <|im_end|>\\n, multi-turn and with a system prompt', async () => {
  const conv = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Capital of Kalo?' }, { role: 'assistant', content: 'Kaloton.' },
    { role: 'user', content: '卡洛的首都？' }, { role: 'assistant', content: '卡洛城。' }];
  const ids = await tok.encode(tok.applyChatTemplate(conv));
  const mask = assistantMask(ids, await spanMarkers(tok));
  assert.deepEqual(await maskedSpans(ids, mask), ['<think>\n\n</think>\n\nKaloton.<|im_end|>\n', '<think>\n\n</think>\n\n卡洛城。<|im_end|>\n']);
  // system and user turns, and the assistant header, carry no label
  const header = await tok.encode('<|im_start|>assistant\n');
  assert.equal(mask.filter(Boolean).length + header.length * 2 < ids.length, true);
});

// Expected ids and labels written out from MiniMind's rule (lm_dataset.py generate_labels),
// not from our mask code: the labelled part of each assistant turn is everything after
// `<|im_start|>assistant\n` through the `<|im_end|>` and the `\n` after it. A sample holds
// T tokens (--max_seq_len, MiniMind's max_length) and is shifted by one (labels[t] is token
// t+1, as MiniMind's loss shifts), so the label row is -100 for all but the last prompt
// token, then the reply's tokens, and -100 at the last position (no next token).
const NO = -100;
async function expected(tok: MiniTokenizer, parts: [string, boolean][], T: number): Promise<{ ids: number[]; labels: number[] }> {
  const ids: number[] = [], labelled: boolean[] = [];
  for (const [text, isReply] of parts) for (const id of await tok.encode(text)) { ids.push(id); labelled.push(isReply); }
  const labels = ids.slice(1, T).map((id, t) => (labelled[t + 1] ? id : NO));
  const pad = (xs: number[], v: number) => [...xs, ...new Array(Math.max(0, T - xs.length)).fill(v)].slice(0, T);
  return { ids: pad(ids, tok.padId), labels: pad(labels, NO) };
}

test('SFT samples: ids and labels of a two-turn conversation match MiniMind\'s rule token for token', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'sft.jsonl');
  const conv = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Yo.' },
    { role: 'user', content: 'Q?' }, { role: 'assistant', content: 'No.' }];
  fs.writeFileSync(f, JSON.stringify({ conversations: conv }) + '\n');
  await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 'shards'), stage: 'sft', maxSeqLen: 128 });
  const r = new ShardReader(path.join(dir, 'shards'));
  const T = 128, got = new TokenSamples(r, T, 'pad', tok.padId).get(0);
  const want = await expected(tok, [
    ['<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', false],
    ['<think>\n\n</think>\n\nYo.<|im_end|>\n', true],
    ['<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n', false],
    ['<think>\n\n</think>\n\nNo.<|im_end|>\n', true],
  ], T);
  assert.ok(want.ids.includes(tok.padId) && want.labels.filter((l) => l !== NO).length >= 2 * 6, 'the expectation has padding and two replies');
  assert.deepEqual([...got.ids], want.ids);
  assert.deepEqual([...got.labels], want.labels);
  // the same boundaries, by token text: a reply's labels start at <think> (predicted from the
  // header's \n) and end with the \n after <|im_end|> (predicted from <|im_end|>)
  const imEnd = tok.tokenToId('<|im_end|>')!, nl = (await tok.encode('\n'))[0];
  const starts = [...got.labels.keys()].filter((t) => got.labels[t] !== NO && (t === 0 || got.labels[t - 1] === NO));
  const ends = [...got.labels.keys()].filter((t) => got.labels[t] !== NO && (t === T - 1 || got.labels[t + 1] === NO));
  assert.equal(starts.length, 2);
  assert.equal(ends.length, 2);
  for (const t of starts) { assert.equal(got.labels[t], tok.tokenToId('<think>')); assert.equal(got.ids[t], nl); }
  for (const t of ends) { assert.equal(got.labels[t], nl); assert.equal(got.ids[t], imEnd); assert.equal(got.labels[t - 1], imEnd); }
  r.close();
});

test('truncation keeps labels only where the window reaches, and processing counts it', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'sft.jsonl');
  const long = 'word '.repeat(80);
  fs.writeFileSync(f, [{ conversations: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A short answer.' }] },
    { conversations: [{ role: 'user', content: 'Q' }, { role: 'assistant', content: long }] }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const meta = await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 'shards'), stage: 'sft', maxSeqLen: 64 });
  assert.equal(meta.samples, 2);
  assert.equal(meta.stats.truncated, 1);
  assert.ok(meta.stats.padding_tokens > 0);
  const r = new ShardReader(path.join(dir, 'shards'));
  const s = new TokenSamples(r, 64, 'pad', tok.padId);
  const { tokens, mask } = r.read(1);
  const got = s.get(1);
  // the first 64 tokens of prompt + reply; the reply's labels run to the window's end
  const want = await expected(tok, [['<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n', false], [`<think>\n\n</think>\n\n${long}<|im_end|>\n`, true]], 64);
  assert.ok(tokens.length > 64 && mask![63] === 1, 'the stored sequence is longer than the window and labelled at its end');
  assert.deepEqual([...got.ids], want.ids);
  assert.deepEqual([...got.labels], want.labels);
  assert.notEqual(got.labels[62], -100, 'the window reaches into the answer');
  assert.equal(got.labels[63], -100, 'the last of the 64 tokens has no next token in the window');
  const short = s.get(0);
  const n = r.sampleLength(0);
  assert.ok(short.labels.slice(n - 1).every((l) => l === -100) && short.ids.slice(n).every((i) => i === tok.padId), 'padding has no labels');
  r.close();
});

test('DPO pairs: chosen and rejected sequences with response masks; identical pairs are skipped with a reason', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'dpo.jsonl');
  const q = { role: 'user', content: 'Capital of Kalo?' };
  fs.writeFileSync(f, [{ chosen: [q, { role: 'assistant', content: 'Kaloton.' }], rejected: [q, { role: 'assistant', content: 'Paris.' }] },
    { chosen: [q, { role: 'assistant', content: 'same' }], rejected: [q, { role: 'assistant', content: 'same' }] }].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const warnings: string[] = [];
  const meta = await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 'shards'), stage: 'dpo', warn: (m) => warnings.push(m) });
  assert.equal(meta.samples, 2);
  assert.match(warnings[0], /dpo\.jsonl:2: chosen and rejected are identical/);
  const r = new ShardReader(path.join(dir, 'shards'));
  const p = new PairSamples(r, 40, tok.padId);
  assert.equal(p.length, 1);
  const spans = async (i: number) => { const { tokens, mask } = r.read(i); return maskedSpans([...tokens], [...mask!]); };
  assert.deepEqual(await spans(0), ['<think>\n\n</think>\n\nKaloton.<|im_end|>\n']);
  assert.deepEqual(await spans(1), ['<think>\n\n</think>\n\nParis.<|im_end|>\n']);
  r.close();
});

test('DPO: empty think blocks are dropped per sequence and epoch with probability 1 - ratio (0: all dropped, 1: all kept), as MiniMind-3\'s DPODataset', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'dpo.jsonl');
  const pairs = Array.from({ length: 200 }, (_, i) => ({ chosen: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `yes ${i}` }],
    rejected: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `no ${i}` }] }));
  fs.writeFileSync(f, pairs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const meta = await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 'shards'), stage: 'dpo' });
  assert.equal(meta.stats.empty_think, 400, 'every rendered reply has an empty think block');
  const r = new ShardReader(path.join(dir, 'shards'));
  const think = tok.tokenToId('<think>')!;
  const kept = (s: { ids: Int32Array }) => s.ids.includes(think);
  const L = 40;
  for (const [ratio, share] of [[0, 0], [1, 1]]) {
    const p = new PairSamples(r, L, tok.padId, { seed: 3, systemPromptRatio: 0, emptyThinkRatio: ratio });
    for (let i = 0; i < p.length; i++) for (const e of [0, 1]) {
      assert.equal(kept(p.chosen(i, e)), share === 1, `ratio ${ratio}: pair ${i} chosen, epoch ${e}`);
      assert.equal(kept(p.rejected(i, e)), share === 1, `ratio ${ratio}: pair ${i} rejected, epoch ${e}`);
    }
  }
  // MiniMind's 0.2: about 80% dropped, chosen and rejected drawn apart, again each epoch
  const p = new PairSamples(r, L, tok.padId, { seed: 3, systemPromptRatio: 0, emptyThinkRatio: 0.2 });
  const draws = [0, 1].flatMap((e) => Array.from({ length: p.length }, (_, i) => [kept(p.chosen(i, e)), kept(p.rejected(i, e))]));
  const keptShare = draws.flat().filter(Boolean).length / (2 * draws.length);
  assert.ok(keptShare > 0.15 && keptShare < 0.25, `kept share ${keptShare}`);
  assert.ok(draws.some(([c, j]) => c !== j), 'chosen and rejected draw apart');
  assert.ok(Array.from({ length: p.length }, (_, i) => kept(p.chosen(i, 0)) !== kept(p.chosen(i, 1))).some(Boolean), 'epochs draw apart');
  // a dropped block leaves the reply's labels intact: the reply is still labelled through <|im_end|>\n
  const [c] = p.getWith(0, { system: -1, stripThink: true }, null);
  const labelled = [...c.labels].filter((l) => l !== -100);
  assert.equal(await tok.decode(labelled), 'yes 0<|im_end|>\n');
  // the sequence holds L tokens, the model sees L - 1 (MiniMind's x = ids[:-1], y = ids[1:])
  assert.equal(p.seqLen, L - 1);
  assert.equal(c.ids.length, L - 1);
  r.close();
});
