// MiniMind-3 SFT records as MiniMind's SFTDataset reads them: tools/tool_calls as JSON
// strings, reasoning, the random system prompt and empty-think stripping drawn per epoch
// from pre-tokenized pieces. The oracle is MiniMind's own lm_dataset.py with the minimind-3
// tokenizer (test/fixtures/sft/minimind3.json, from scripts/fixtures/make_sft_fixtures.py);
// comparing against it needs that tokenizer, so that part is optional (../shared).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { assistantMask, spanMarkers } from '../src/data/chat.js';
import { DataError } from '../src/data/lines.js';
import { Loader, toBatch } from '../src/data/loader.js';
import { chatPrompt, EMPTY_THINK, EMPTY_THINK_RATIO, SYSTEM_PROMPTS } from '../src/data/minimind3.js';
import { processData } from '../src/data/process.js';
import { TokenSamples } from '../src/data/samples.js';
import { ShardReader } from '../src/data/shards.js';
import { assemble, CAN_ADD_SYSTEM, ChatChoice, ChatSampling, HAS_EMPTY_THINK, STRIPPED_STORED, VariantReader, variantWords, VariantWriter } from '../src/data/variants.js';
import { ChatMessage, MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { ROOT, tmpDir, workspace, Workspace } from './helpers.js';

interface Case { record: number; max_length: number; system: number; strip: boolean; input_ids: number[]; labels: number[] }
const FIX: { records: string[]; malformed: number; system_prompts: string[]; cases: Case[] } = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'sft', 'minimind3.json'), 'utf8'));
const SHARED_TOK = path.join(ROOT, '..', 'shared', 'reference', 'minimind3');
const skipShared = fs.existsSync(path.join(SHARED_TOK, 'tokenizer.json')) ? false : '../shared/reference/minimind3 is absent: comparison with MiniMind\'s SFTDataset skipped';
if (skipShared) console.log(`# ${skipShared}`);

const MINIMIND: ChatSampling = { seed: 7, systemPromptRatio: 0.2, emptyThinkRatio: EMPTY_THINK_RATIO };
/** shard index of fixture record i (the malformed one is skipped) */
const shardIndex = (i: number) => (i > FIX.malformed ? i - 1 : i);

let ws: Workspace, tok: MiniTokenizer;
before(async () => { ws = await workspace(200); tok = MiniTokenizer.load(ws.tokenizer); });

/** the fixture records as a JSONL file, and its shards */
async function fixtureShards(t: MiniTokenizer, dir = tmpDir()): Promise<{ file: string; r: ShardReader; warnings: string[]; stats: Record<string, number> }> {
  const file = path.join(dir, 'sft_t2t.jsonl');
  fs.writeFileSync(file, FIX.records.join('\n') + '\n');
  const warnings: string[] = [];
  const meta = await processData({ inputs: [file], tokenizer: t, outDir: path.join(dir, 'shards'), stage: 'sft', warn: (m) => warnings.push(m) });
  return { file, r: new ShardReader(path.join(dir, 'shards')), warnings, stats: meta.stats };
}

/** The text MiniMind's __getitem__ tokenizes for a record under a choice, rendered whole. */
function wholeText(t: MiniTokenizer, record: string, c: ChatChoice): string {
  const conv = JSON.parse(record).conversations as ChatMessage[];
  const p = chatPrompt(conv);
  if ('error' in p) throw new Error(p.error);
  const eligible = !conv.some((m) => m.tools) && conv[0].role !== 'system';
  const msgs = c.system >= 0 && eligible ? [{ role: 'system', content: SYSTEM_PROMPTS[c.system] }, ...p.messages] : p.messages;
  const text = t.applyChatTemplate(msgs, p.tools ? { tools: p.tools } : {});
  return c.stripThink ? text.split(EMPTY_THINK).join('') : text;
}

const CHOICES: ChatChoice[] = [-1, 0, 3, 9].flatMap((system) => [false, true].map((stripThink) => ({ system, stripThink })));

test("our system prompts are MiniMind's own list, in its order", () => {
  assert.deepEqual(SYSTEM_PROMPTS, FIX.system_prompts);
});

test('samples assembled from stored pieces are the tokens of the whole rendered text, with MiniMind\'s labels', async () => {
  const { r } = await fixtureShards(tok);
  const markers = await spanMarkers(tok);
  for (const [i, rec] of FIX.records.entries()) {
    if (i === FIX.malformed) continue;
    for (const c of CHOICES) {
      const want = await tok.encode(wholeText(tok, rec, c));
      const s = new TokenSamples(r, want.length + 10, 'pad', tok.padId, { chat: MINIMIND }).getWith(shardIndex(i), c);
      const n = want.length;
      assert.deepEqual([...s.ids.subarray(0, n)], want.slice(0, n), `record ${i} ${JSON.stringify(c)}`);
      const mask = assistantMask(want, markers);
      assert.deepEqual([...s.labels.subarray(0, n - 1)], want.slice(1).map((id, k) => (mask[k + 1] ? id : -100)), `labels of record ${i} ${JSON.stringify(c)}`);
    }
  }
  // the rendered texts carry what the template makes of tools, tool calls and reasoning
  const text = (i: number) => wholeText(tok, FIX.records[i], { system: -1, stripThink: false });
  assert.match(text(2), /<tools>\n\{"type": "function", "function": \{"name": "calculate_math", "description": "计算数学表达式"/);
  assert.match(text(2), /<\|im_start\|>assistant\n<think>\n\n<\/think>\n\n<tool_call>\n\{"name": "calculate_math", "arguments": \{"expression": "256 \* 37"\}\}\n<\/tool_call><\|im_end\|>/);
  assert.match(text(2), /<\|im_start\|>user\n<tool_response>\n\{"result":"9472"\}\n<\/tool_response><\|im_end\|>/);
  // lstrip('\n') keeps a reply's leading spaces, as Python's Jinja does
  assert.match(text(3), /<\/think>\n\n    code\(\)\n<\|im_end\|>/);
  assert.match(text(1), /<think>\nShort light scatters more.\nBlue is short.\n<\/think>\n\nRayleigh scattering./);
  assert.match(text(5), /Let me check.\n<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n<\/tool_call>\n<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Rome"\}\}/);
  r.close();
});

test('a malformed record is reported as file:line and skipped; --strict stops there', async () => {
  const { file, r, warnings, stats } = await fixtureShards(tok);
  assert.equal(stats.skipped, 1);
  assert.equal(r.length, FIX.records.length - 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], new RegExp(`sft_t2t\\.jsonl:${FIX.malformed + 1}: conversations\\[0\\]\\.tools is not valid JSON \\(.+\\) \\(skipped\\)$`));
  r.close();
  await assert.rejects(processData({ inputs: [file], tokenizer: tok, outDir: path.join(tmpDir(), 's'), stage: 'sft', strict: true }),
    (e: Error) => e instanceof DataError && new RegExp(`sft_t2t\\.jsonl:${FIX.malformed + 1}: conversations\\[0\\]\\.tools is not valid JSON`).test(e.message));
  // tool_calls that are not a JSON list, and a tools string holding an object, are reported too
  const dir = tmpDir(), f = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(f, [
    { conversations: [{ role: 'user', content: 'q' }, { role: 'assistant', content: '', tool_calls: '{"name": "f"}' }] },
    { conversations: [{ role: 'system', content: 's', tools: '{"a": 1}' }, { role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
    { conversations: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }] },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  const w: string[] = [];
  const meta = await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 's'), stage: 'sft', warn: (m) => w.push(m) });
  assert.deepEqual(w, [`${f}:1: conversations[1].tool_calls must hold a JSON list, got object (skipped)`, `${f}:2: conversations[0].tools must hold a JSON list, got object (skipped)`]);
  assert.equal(meta.samples, 1);
});

/** n plain two-turn chats (empty think blocks, no system message) */
function plainChats(n: number): string {
  return Array.from({ length: n }, (_, i) => JSON.stringify({ conversations: [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }] })).join('\n') + '\n';
}

test('system prompts and think stripping are drawn per epoch, at MiniMind\'s rates, the same for the same seed and epoch', async () => {
  const dir = tmpDir(), f = path.join(dir, 'chats.jsonl');
  fs.writeFileSync(f, plainChats(300));
  await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 's'), stage: 'sft' });
  const r = new ShardReader(path.join(dir, 's'));
  const s = new TokenSamples(r, 40, 'pad', tok.padId, { chat: MINIMIND });
  const epochs = [0, 1, 2].map((e) => Array.from({ length: r.length }, (_, i) => s.choice(i, e)!));
  const all = epochs.flat();
  const sysShare = all.filter((c) => c.system >= 0).length / all.length, stripShare = all.filter((c) => c.stripThink).length / all.length;
  assert.ok(sysShare > 0.15 && sysShare < 0.25, `system prompt share ${sysShare}`);
  assert.ok(stripShare > 0.75 && stripShare < 0.85, `think stripped share ${stripShare}`);
  assert.equal(new Set(all.filter((c) => c.system >= 0).map((c) => c.system)).size, SYSTEM_PROMPTS.length, 'every system prompt is drawn');
  assert.ok(epochs[0].some((c, i) => JSON.stringify(c) !== JSON.stringify(epochs[1][i])), 'epochs draw differently');
  // the samples themselves: another reader, same seed and epoch, gives the same bytes; another seed does not
  const again = new TokenSamples(new ShardReader(path.join(dir, 's')), 40, 'pad', tok.padId, { chat: { ...MINIMIND } });
  const other = new TokenSamples(new ShardReader(path.join(dir, 's')), 40, 'pad', tok.padId, { chat: { ...MINIMIND, seed: 8 } });
  let differ = 0;
  for (let i = 0; i < r.length; i++) {
    assert.deepEqual(again.get(i, 1), s.get(i, 1));
    if (other.get(i, 1).ids.join() !== s.get(i, 1).ids.join()) differ++;
  }
  assert.ok(differ > 30, `${differ} samples differ under another seed`);
  // the loader passes the epoch: its batches are the samples of that epoch
  const loader = new Loader(s, 4, 3);
  assert.deepEqual(loader.batch(2, 5), toBatch([...loader.indices(2, 5)].map((i) => s.get(i, 2)), 40));
  assert.notDeepEqual([0, 1, 2].map((e) => loader.batch(e, 0).ids.join()), [0, 0, 0].map(() => loader.batch(0, 0).ids.join()));
  // with neither choice possible, a sample is the record as stored
  const plain = new TokenSamples(r, 40, 'pad', tok.padId, { chat: { seed: 1, systemPromptRatio: 0, emptyThinkRatio: 1 } });
  const stored = new TokenSamples(r, 40, 'pad', tok.padId);
  for (let i = 0; i < 20; i++) assert.deepEqual(plain.get(i, 3), stored.get(i, 3));
});

test('records with tools or a system message never get a system prompt', async () => {
  const { r } = await fixtureShards(tok);
  const v = new VariantReader(r.dir, r.length);
  assert.deepEqual(FIX.records.map((_, i) => i).filter((i) => i !== FIX.malformed).map((i) => Boolean(v.record(shardIndex(i)).flags & CAN_ADD_SYSTEM)), [true, true, false, false, false]);
  const s = new TokenSamples(r, 600, 'pad', tok.padId, { chat: MINIMIND });
  for (const i of [2, 3]) assert.deepEqual(s.getWith(i, { system: 4, stripThink: false }), s.getWith(i, { system: -1, stripThink: false }));
  v.close(); r.close();
});

test('where cutting the think block would not give the stripped tokens, the stripped variant is stored whole', () => {
  const dir = tmpDir();
  const w = new VariantWriter(dir);
  const base = [1, 5, 6, 7, 8, 2], cut = [1, 8, 2], other = [1, 9, 2];
  w.add(variantWords(CAN_ADD_SYSTEM | HAS_EMPTY_THINK, base, cut));
  w.add(variantWords(HAS_EMPTY_THINK, base, other));
  w.add(variantWords(CAN_ADD_SYSTEM, base, null));
  w.close();
  const r = new VariantReader(dir, 3);
  const meta = { system_prompts: [[1, 40, 2]], open: [], close: [] };
  const b = Uint32Array.from(base);
  assert.equal(r.record(0).flags & STRIPPED_STORED, 0);
  assert.deepEqual([...assemble(b, r.record(0), { system: 0, stripThink: true }, meta)], [1, 40, 2, 1, 8, 2]);
  assert.ok(r.record(1).flags & STRIPPED_STORED);
  assert.deepEqual([...assemble(b, r.record(1), { system: 0, stripThink: true }, meta)], other, 'no system prompt where not allowed');
  assert.deepEqual([...assemble(b, r.record(1), { system: -1, stripThink: false }, meta)], base);
  assert.deepEqual([...assemble(b, r.record(2), { system: 0, stripThink: true }, meta)], [1, 40, 2, ...base], 'no think variant: nothing cut');
  r.close();
});

test('shards processed without variants are refused for per-epoch sampling, with a clear message', async () => {
  const dir = tmpDir(), f = path.join(dir, 'chats.jsonl');
  fs.writeFileSync(f, plainChats(3));
  await processData({ inputs: [f], tokenizer: tok, outDir: path.join(dir, 's'), stage: 'sft' });
  fs.rmSync(path.join(dir, 's', 'variants_index.bin'));
  assert.throws(() => new TokenSamples(new ShardReader(path.join(dir, 's')), 40, 'pad', tok.padId, { chat: MINIMIND }), /processed by an older version .*data-process/);
});

test("minimind-3 records give exactly the input_ids and labels of MiniMind's SFTDataset, every choice, full and truncated", { skip: skipShared }, async () => {
  const mm = MiniTokenizer.load(SHARED_TOK);
  const { r, stats } = await fixtureShards(mm);
  // the reply that starts with spaces tokenizes differently once its think block is gone
  assert.equal(stats.empty_think, 5);
  assert.equal(stats.empty_think_stored, 1, 'the indented reply keeps its stripped variant whole');
  for (const c of FIX.cases) {
    const L = c.max_length;
    // --max_seq_len L is MiniMind's max_length: L tokens in, the model's shift leaves L - 1 targets
    const s = new TokenSamples(r, L, 'pad', mm.padId, { chat: MINIMIND }).getWith(shardIndex(c.record), { system: c.system, stripThink: c.strip });
    const where = `record ${c.record}, max_length ${L}, system ${c.system}, strip ${c.strip}`;
    assert.deepEqual([...s.ids], c.input_ids, `input_ids of ${where}`);
    assert.deepEqual([...s.labels], [...c.labels.slice(1), -100], `labels of ${where}`);
  }
  r.close();
});
