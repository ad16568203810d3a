// Stream a text file line by line in constant memory, validating UTF-8 per line so that a
// bad byte is reported with file:line instead of silently becoming U+FFFD.
import fs from 'node:fs';

export class DataError extends Error {}

export interface Line { text: string; lineNo: number; bytes: number }
export interface BadLine { error: string; lineNo: number; bytes: number }

export async function* readLines(file: string): AsyncGenerator<Line | BadLine> {
  let stream: fs.ReadStream;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new DataError(`${file} is a directory, not a data file`);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  stream = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const dec = new TextDecoder('utf-8', { fatal: true });
  let carry: Buffer | null = null;
  let lineNo = 0;
  const emit = (buf: Buffer): Line | BadLine => {
    lineNo++;
    let end = buf.length;
    if (end && buf[end - 1] === 13) end--; // CRLF
    try { return { text: dec.decode(buf.subarray(0, end)), lineNo, bytes: buf.length + 1 }; } catch {
      return { error: 'invalid UTF-8 bytes', lineNo, bytes: buf.length + 1 };
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    let buf = chunk;
    if (carry) { buf = Buffer.concat([carry, chunk]); carry = null; }
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      yield emit(buf.subarray(start, nl));
      start = nl + 1;
    }
    if (start < buf.length) carry = Buffer.from(buf.subarray(start));
  }
  if (carry && carry.length) yield emit(carry);
}

/** Parse JSON lines; yields records or per-line errors (empty lines are skipped). */
export async function* readJsonl(file: string): AsyncGenerator<{ value: unknown; lineNo: number; bytes: number } | BadLine> {
  for await (const l of readLines(file)) {
    if ('error' in l) { yield l; continue; }
    if (!l.text.trim()) continue;
    try { yield { value: JSON.parse(l.text), lineNo: l.lineNo, bytes: l.bytes }; } catch (e) {
      yield { error: `invalid JSON (${(e as Error).message.replace(/^.*?: /, '')})`, lineNo: l.lineNo, bytes: l.bytes };
    }
  }
}
