// Worker: count pre-tokenized words in one line-aligned byte range of a corpus file.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { textsOf } from './corpus.js';
import { WordCounter } from './train.js';

interface Job { file: string; start: number; end: number; jsonl: boolean }

function countLinesBefore(fd: number, pos: number): number {
  const buf = Buffer.alloc(1 << 20);
  let n = 0, off = 0;
  while (off < pos) {
    const got = fs.readSync(fd, buf, 0, Math.min(buf.length, pos - off), off);
    if (got <= 0) break;
    for (let i = buf.indexOf(10, 0); i >= 0 && i < got; i = buf.indexOf(10, i + 1)) n++;
    off += got;
  }
  return n;
}

const { file, start, end, jsonl } = workerData as Job;
const fd = fs.openSync(file, 'r');
let lineNo = countLinesBefore(fd, start);
const wc = new WordCounter();
const bad: [number, string][] = [];
const dec = new TextDecoder('utf-8', { fatal: true });
const buf = Buffer.alloc(4 << 20);
let carry = Buffer.alloc(0), off = start;
const line = (b: Buffer) => {
  lineNo++;
  let text: string;
  try { text = dec.decode(b); } catch { bad.push([lineNo, 'invalid UTF-8 bytes']); return; }
  if (!jsonl) { wc.add(text + '\n'); return; }
  if (!text.trim()) return;
  try { for (const t of textsOf(JSON.parse(text))) wc.add(t); } catch (e) { bad.push([lineNo, `invalid JSON (${(e as Error).message.replace(/^.*?: /, '')})`]); }
};
while (off < end) {
  const got = fs.readSync(fd, buf, 0, Math.min(buf.length, end - off), off);
  if (got <= 0) break;
  off += got;
  let data = carry.length ? Buffer.concat([carry, buf.subarray(0, got)]) : buf.subarray(0, got);
  let s = 0;
  for (let nl = data.indexOf(10, s); nl >= 0; nl = data.indexOf(10, s)) { line(data.subarray(s, nl)); s = nl + 1; }
  carry = Buffer.from(data.subarray(s));
}
if (carry.length) line(carry);
fs.closeSync(fd);
parentPort!.postMessage({ counts: wc.counts, bad });
