// Texts of a training corpus for tokenizer training: pretrain {"text"}, SFT
// {"conversations": [...]} and DPO {"chosen", "rejected"} JSONL, CSV, or plain text.
import fs from 'node:fs';
import Papa from 'papaparse';
import { DataError, readJsonl, readLines } from '../data/lines.js';

function textsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(textsOf);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.text === 'string') return [o.text];
    if (typeof o.content === 'string') return [o.content];
    return ['conversations', 'chosen', 'rejected', 'messages'].flatMap((k) => (k in o ? textsOf(o[k]) : []));
  }
  return [];
}

/** Yields texts and the bytes consumed so far; malformed lines are reported through `bad`. */
export async function* corpusTexts(files: string[], bad: (where: string, why: string) => void): AsyncGenerator<{ text: string; bytes: number }> {
  for (const f of files) {
    if (!fs.existsSync(f)) throw new DataError(`cannot read ${f}: no such file`);
    if (/\.csv$/i.test(f)) {
      const res = Papa.parse<Record<string, string>>(fs.readFileSync(f, 'utf8'), { header: true, skipEmptyLines: true });
      for (const row of res.data) for (const t of Object.values(row)) if (t) yield { text: t, bytes: Buffer.byteLength(t) };
    } else if (/\.jsonl$/i.test(f)) {
      for await (const r of readJsonl(f)) {
        if ('error' in r) { bad(`${f}:${r.lineNo}`, r.error); continue; }
        for (const t of textsOf(r.value)) yield { text: t, bytes: r.bytes };
      }
    } else {
      for await (const l of readLines(f)) {
        if ('error' in l) { bad(`${f}:${l.lineNo}`, l.error); continue; }
        yield { text: l.text + '\n', bytes: l.bytes };
      }
    }
  }
}
