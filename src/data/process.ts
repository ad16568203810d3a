// Raw data files -> token shards. Streams JSONL (and CSV, and plain text for pretraining),
// validates each record, tokenizes in batches, and counts what it skipped: a malformed
// line is reported as file:line with the reason, and --strict stops at the first one.
import fs from 'node:fs';
import Papa from 'papaparse';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { DataError, readJsonl } from './lines.js';
import { ShardMeta, ShardWriter } from './shards.js';

export type Stage = 'pretrain';

export interface ProcessOptions {
  inputs: string[];
  tokenizer: MiniTokenizer;
  outDir: string;
  stage: Stage;
  strict?: boolean;
  /** called as bytes are read */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** warnings (bad lines); the first 20 are reported, the rest only counted */
  warn?: (msg: string) => void;
}

export interface Record_ { value: unknown; where: string; bytes: number }

/** Records of any supported file, with a file:line location each. */
async function* records(file: string, o: ProcessOptions, bad: (where: string, why: string) => void): AsyncGenerator<Record_> {
  if (/\.csv$/i.test(file)) {
    const rows: Record_[] = [];
    const text = fs.readFileSync(file, 'utf8'); // CSV files of MiniMind v1 are small; papaparse parses quoted multi-line fields
    const res = Papa.parse<Record<string, string>>(text, { header: true, skipEmptyLines: true });
    for (const e of res.errors) bad(`${file}:${(e.row ?? 0) + 2}`, `CSV ${e.message}`);
    res.data.forEach((row, i) => rows.push({ value: row, where: `${file}:${i + 2}`, bytes: 0 }));
    yield* rows;
    return;
  }
  if (/\.txt$/i.test(file)) {
    // plain text: one pretraining document per non-empty line
    const { readLines } = await import('./lines.js');
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
function pretrainText(v: unknown): string | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'expected a JSON object with a "text" field' };
  const t = (v as Record<string, unknown>).text;
  if (t === undefined) return { error: 'missing field "text"' };
  if (typeof t !== 'string') return { error: `field "text" must be a string, got ${Array.isArray(t) ? 'array' : typeof t}` };
  if (!t.trim()) return { error: 'empty "text"' };
  return t;
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
  const writer = new ShardWriter(o.outDir, { stage: o.stage, vocab_size: tok.vocabSize, tokenizer: tok.dir }, false);
  const stats: Record<string, number> = { records: 0, skipped: 0 };
  let reported = 0, done = 0;
  const bad = (where: string, why: string) => {
    if (o.strict) throw new DataError(`${where}: ${why}`);
    stats.skipped++;
    if (reported++ < 20) o.warn?.(`${where}: ${why} (skipped)`);
  };
  let pending: string[] = [];
  const flush = async () => {
    if (!pending.length) return;
    const enc = await tok.encodeBatch(pending);
    for (const ids of enc) writer.add([tok.bosId, ...ids, tok.eosId]);
    pending = [];
  };
  try {
    for (const file of o.inputs) {
      for await (const r of records(file, o, bad)) {
        done += r.bytes;
        const text = pretrainText(r.value);
        if (typeof text !== 'string') { bad(r.where, text.error); continue; }
        stats.records++;
        pending.push(text);
        if (pending.length >= 2048) { await flush(); o.onProgress?.(done, total); }
      }
    }
    await flush();
  } catch (e) { writer.abort(); throw e; }
  o.onProgress?.(total, total);
  if (writer.samples === 0) { writer.abort(); throw new DataError(`no usable records in ${o.inputs.join(', ')} (${stats.skipped} skipped)`); }
  const meta = writer.close(stats);
  return { ...meta, seconds: (performance.now() - t0) / 1000, mb: total / 1e6 };
}
