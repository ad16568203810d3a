// Raw data files -> token shards. Streams JSONL (and CSV, and plain text for pretraining),
// validates each record, tokenizes in batches, and counts what it skipped: a malformed
// line is reported as file:line with the reason, and --strict stops at the first one.
import fs from 'node:fs';
import Papa from 'papaparse';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { DataError, readJsonl, readLines } from './lines.js';
import { ShardMeta, ShardWriter } from './shards.js';
import { assistantMask, checkMessages, Encoded, fromAlpaca, fromShareGpt, Problem, spanMarkers } from './chat.js';
import { renderSft, systemPromptBlocks, withoutEmptyThink } from './minimind3.js';
import { CAN_ADD_SYSTEM, ChatMeta, HAS_EMPTY_THINK, STRIPPED_STORED, variantWords, VariantWriter } from './variants.js';

export type Stage = 'pretrain' | 'sft' | 'dpo';
export type Format = 'auto' | 'minimind' | 'alpaca' | 'sharegpt';

export interface ProcessOptions {
  inputs: string[];
  tokenizer: MiniTokenizer;
  outDir: string;
  stage: Stage;
  format?: Format;
  strict?: boolean;
  /** count sequences longer than this (training truncates them) */
  maxSeqLen?: number;
  /** called as bytes are read */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** warnings (bad lines); the first 20 are reported, the rest only counted */
  warn?: (msg: string) => void;
}

export interface Record_ { value: unknown; where: string; bytes: number }

/** Records of any supported file, with a file:line location each. */
async function* records(file: string, bad: (where: string, why: string) => void): AsyncGenerator<Record_> {
  if (/\.csv$/i.test(file)) {
    const rows: Record_[] = [];
    const text = fs.readFileSync(file, 'utf8'); // CSV files of MiniMind v1 are small; papaparse parses quoted multi-line fields
    const res = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
    for (const e of res.errors) bad(`${file}:${(e.row ?? 0) + 2}`, `CSV ${e.message}`);
    res.data.forEach((row, i) => rows.push({ value: row, where: `${file}:${i + 2}`, bytes: 0 }));
    yield* rows;
    return;
  }
  if (/\.json$/i.test(file)) {
    // a JSON array of records (LLaMA-Factory's datasets): small files, read whole
    let arr: unknown;
    try { arr = JSON.parse(fs.readFileSync(file, 'utf8')); } catch (e) { bad(file, `invalid JSON (${(e as Error).message})`); return; }
    if (!Array.isArray(arr)) { bad(file, 'expected a JSON array of records (or use .jsonl)'); return; }
    for (const [i, value] of arr.entries()) yield { value, where: `${file}: record ${i + 1}`, bytes: 0 };
    return;
  }
  if (/\.txt$/i.test(file)) {
    // plain text: one pretraining document per non-empty line
    for await (const l of readLines(file)) {
      if ('error' in l) { bad(`${file}:${l.lineNo}`, l.error); continue; }
      if (l.text.trim()) yield { value: { text: l.text }, where: `${file}:${l.lineNo}`, bytes: l.bytes };
    }
    return;
  }
  for await (const r of readJsonl(file)) {
    if ('error' in r) { bad(`${file}:${r.lineNo}`, r.error); continue; }
    yield { value: r.value, where: `${file}:${r.lineNo}`, bytes: r.bytes };
  }
}

/** A record's text to tokenize, or the reason it is unusable. */
function pretrainText(v: unknown): string | Problem {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a JSON object with a "text" field' };
  const t = (v as Record<string, unknown>).text;
  if (t === undefined) return { error: 'missing field "text"' };
  if (typeof t !== 'string') return { error: `field "text" must be a string, got ${Array.isArray(t) ? 'array' : typeof t}` };
  if (!t.trim()) return { error: 'empty "text"' };
  return t;
}

/** Records of other formats in MiniMind's shape. */
function normalize(v: unknown, format: Format): Record<string, unknown> | Problem {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a JSON object' };
  const o = v as Record<string, unknown>;
  const f = format !== 'auto' ? format : 'instruction' in o ? 'alpaca'
    : Array.isArray(o.conversations) && (o.conversations as { from?: unknown }[])[0]?.from !== undefined ? 'sharegpt' : 'minimind';
  return f === 'alpaca' ? fromAlpaca(o) as Record<string, unknown> | Problem : f === 'sharegpt' ? fromShareGpt(o) : o;
}

/**
 * What a stage makes of one record: its sequences' texts to tokenize. A chat sequence
 * with empty think blocks also has the text without them (`stripped`), and flags for
 * variants.bin (may it get a system prompt).
 */
interface Prepared { seqs: { text: string; stripped: string | null; flags: number }[] }
interface StageCodec {
  prepare(v: unknown): Prepared | Problem;
  /** a sequence's tokens (and loss mask) from its text's token ids */
  encode(ids: number[]): Encoded;
}

function codec(o: ProcessOptions, markers: { open: number[]; close: number[] }): StageCodec {
  const tok = o.tokenizer;
  const fmt = o.format ?? 'auto';
  const withMask = (ids: number[]): Encoded => ({ tokens: ids, mask: assistantMask(ids, markers) });
  switch (o.stage) {
    case 'pretrain': return {
      prepare: (v) => { const t = pretrainText(v); return typeof t === 'string' ? { seqs: [{ text: t, stripped: null, flags: 0 }] } : t; },
      encode: (ids) => ({ tokens: [tok.bosId, ...ids, tok.eosId], mask: [] }),
    };
    case 'sft': return {
      // the record as MiniMind renders it, and without its empty think blocks: both are
      // tokenized, the second is kept as spans to cut where it can be (variants.ts)
      prepare: (v) => {
        const r = normalize(v, fmt);
        if ('error' in r) return r as Problem;
        const t = renderSft(tok, r.conversations);
        if ('error' in t) return t;
        return { seqs: [{ text: t.text, stripped: t.stripped, flags: t.systemPrompt && t.text.startsWith('<|im_start|>') ? CAN_ADD_SYSTEM : 0 }] };
      },
      encode: withMask,
    };
    case 'dpo': return {
      // MiniMind-3's DPODataset: each side rendered by the template, its empty think blocks
      // dropped on a draw of its own (no system prompts)
      prepare: (v) => {
        const r = normalize(v, fmt);
        if ('error' in r) return r as Problem;
        const c = checkMessages(r.chosen, 'chosen'), j = checkMessages(r.rejected, 'rejected');
        if ('error' in c) return c;
        if ('error' in j) return j;
        const a = tok.applyChatTemplate(c), b = tok.applyChatTemplate(j);
        if (a === b) return { error: 'chosen and rejected are identical' };
        return { seqs: [a, b].map((text) => ({ text, stripped: withoutEmptyThink(text), flags: 0 })) };
      },
      encode: withMask,
    };
  }
}

export interface ProcessSummary extends ShardMeta { seconds: number; mb: number }

export async function processData(o: ProcessOptions): Promise<ProcessSummary> {
  const t0 = performance.now();
  if (!o.inputs.length) throw new DataError('no input files given');
  let total = 0;
  for (const f of o.inputs) {
    if (!fs.existsSync(f)) throw new DataError(`cannot read ${f}: no such file`);
    total += fs.statSync(f).size;
  }
  const tok = o.tokenizer;
  if (o.stage !== 'pretrain' && !tok.hasChatTemplate) throw new DataError(`${tok.dir}: the tokenizer has no chat template, needed for ${o.stage} data`);
  const markers = await spanMarkers(tok);
  const stage = codec(o, markers);
  // chat stages keep what per-epoch sampling needs (variants.ts); only SFT adds system prompts
  let chat: ChatMeta | undefined;
  if (o.stage === 'sft') {
    const blocks = await systemPromptBlocks(tok);
    if ('error' in blocks) o.warn?.(`${blocks.error}: MiniMind's random system prompts will not be added`);
    chat = { system_prompts: 'error' in blocks ? [] : blocks, ...markers };
  } else if (o.stage === 'dpo') chat = { system_prompts: [], ...markers };
  const writer = new ShardWriter(o.outDir, { stage: o.stage, vocab_size: tok.vocabSize, tokenizer: tok.dir, ...(chat ? { chat } : {}) }, o.stage !== 'pretrain');
  const variants = chat ? new VariantWriter(writer.stagingDir) : null;
  const stats: Record<string, number> = { records: 0, skipped: 0, truncated: 0, padding_tokens: 0, ...(chat ? { empty_think: 0, empty_think_stored: 0 } : {}) };
  let reported = 0, done = 0;
  const bad = (where: string, why: string) => {
    if (o.strict) throw new DataError(`${where}: ${why}`);
    stats.skipped++;
    if (reported++ < 20) o.warn?.(`${where}: ${why} (skipped)`);
  };
  // texts of several records are encoded in one batch (the binding uses every core)
  let pending: string[] = [], prepared: Prepared[] = [];
  let labelled = 0; // chat stages: tokens inside assistant spans
  const flush = async () => {
    if (!pending.length) return;
    const enc = await tok.encodeBatch(pending);
    let k = 0;
    for (const p of prepared) {
      for (const sq of p.seqs) {
        const ids = enc[k++], stripped = sq.stripped === null ? null : enc[k++];
        const e = stage.encode(ids);
        if (variants) {
          const words = variantWords(sq.flags, e.tokens, stripped);
          variants.add(words);
          if (words[0] & HAS_EMPTY_THINK) stats.empty_think++;
          if (words[0] & STRIPPED_STORED) stats.empty_think_stored++;
        }
        writer.add(e.tokens, e.mask.length ? e.mask : undefined);
        for (const m of e.mask) labelled += m;
        if (o.maxSeqLen) { // a sample holds --max_seq_len tokens (MiniMind's max_length)
          if (e.tokens.length > o.maxSeqLen) stats.truncated++;
          else stats.padding_tokens += o.maxSeqLen - e.tokens.length;
        }
      }
    }
    pending = []; prepared = [];
  };
  try {
    for (const file of o.inputs) {
      for await (const r of records(file, bad)) {
        done += r.bytes;
        const p = stage.prepare(r.value);
        if ('error' in p) { bad(r.where, p.error); continue; }
        stats.records++;
        for (const sq of p.seqs) pending.push(...(sq.stripped === null ? [sq.text] : [sq.text, sq.stripped]));
        prepared.push(p);
        if (pending.length >= 512) { await flush(); o.onProgress?.(done, total); }
      }
    }
    await flush();
    // never train on nothing: a template whose assistant turns are not <bos>assistant\n..<eos>\n gives no labels
    if (o.stage !== 'pretrain' && stats.records > 0 && labelled === 0) {
      throw new DataError(`${o.inputs.join(', ')}: no assistant tokens to train on: the chat template's assistant turns do not start with "${tok.bosToken}assistant\\n" and end with "${tok.eosToken}\\n"`);
    }
    variants?.close();
  } catch (e) { variants?.close(); writer.abort(); throw e; }
  o.onProgress?.(total, total);
  if (writer.samples === 0) { writer.abort(); throw new DataError(`no usable records in ${o.inputs.join(', ')} (${stats.skipped} skipped)`); }
  const meta = writer.close(stats);
  return { ...meta, seconds: (performance.now() - t0) / 1000, mb: total / 1e6 };
}
