// Texts of a training corpus for tokenizer training: pretrain {"text"}, SFT
// {"conversations": [...]} and DPO {"chosen", "rejected"} JSONL, CSV, or plain text.
import fs from 'node:fs';
import Papa from 'papaparse';
import { DataError, readJsonl, readLines } from '../data/lines.js';

export function textsOf(v: unknown): string[] {
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

/** Line-aligned byte ranges splitting a file into about `parts` pieces. */
export function splitFile(file: string, parts: number): [number, number][] {
  const size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  const cuts = [0];
  const buf = Buffer.alloc(1 << 16);
  for (let k = 1; k < parts; k++) {
    let pos = Math.floor((size * k) / parts);
    for (;;) { // advance to just after the next newline
      const got = fs.readSync(fd, buf, 0, buf.length, pos);
      if (got <= 0) { pos = size; break; }
      const nl = buf.subarray(0, got).indexOf(10);
      if (nl >= 0) { pos += nl + 1; break; }
      pos += got;
    }
    if (pos > cuts[cuts.length - 1] && pos < size) cuts.push(pos);
  }
  fs.closeSync(fd);
  cuts.push(size);
  return cuts.slice(1).map((e, i) => [cuts[i], e]);
}
