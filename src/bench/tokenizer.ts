// Tokenizer training on ~100 MB of mixed Chinese/English text, and encoding speed of the
// result with the tokenizers binding (both cores busy).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainTokenizer } from '../cli/train-tokenizer.js';
import { readJsonl } from '../data/lines.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { machine, peakRssMb } from './stats.js';
import { writeCorpus } from './text.js';

export function benchDir(): string {
  const d = path.join(os.tmpdir(), 'minimind-bench');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

/** A generated corpus of `mb` MB, made once and reused. */
export function benchCorpus(mb: number): string {
  const f = path.join(benchDir(), `corpus-${mb}mb.jsonl`);
  if (!fs.existsSync(f)) { const tmp = `${f}.tmp-${process.pid}`; writeCorpus(tmp, mb); fs.renameSync(tmp, f); }
  return f;
}

/** Encoding throughput of a tokenizer over the texts of a JSONL file (up to `limitMb`). */
export async function encodeSpeed(tok: MiniTokenizer, file: string, limitMb = 20): Promise<{ mb_per_s: number; tokens: number; mb: number }> {
  const texts: string[] = [];
  let bytes = 0;
  for await (const r of readJsonl(file)) {
    if ('error' in r) continue;
    texts.push((r.value as { text: string }).text);
    bytes += r.bytes;
    if (bytes > limitMb * 1e6) break;
  }
  const t0 = performance.now();
  let tokens = 0;
  for (let i = 0; i < texts.length; i += 2048) for (const ids of await tok.encodeBatch(texts.slice(i, i + 2048))) tokens += ids.length;
  return { mb_per_s: bytes / 1e6 / ((performance.now() - t0) / 1000), tokens, mb: bytes / 1e6 };
}

export async function benchTokenizer(mb = 100, vocab = 6400): Promise<Record<string, unknown>> {
  const corpus = benchCorpus(mb);
  const out = path.join(benchDir(), `tokenizer-${mb}mb`);
  const r = await trainTokenizer([corpus], vocab, out, { progress: false });
  const tok = MiniTokenizer.load(out);
  const enc = await encodeSpeed(tok, corpus);
  return { bench: 'tokenizer', corpus_mb: r.mb, vocab_size: tok.vocabSize, merges: r.merges, distinct_words: r.words, train_seconds: r.seconds,
    peak_rss_mb: peakRssMb(), encode_mb_per_s: enc.mb_per_s, bytes_per_token: (enc.mb * 1e6) / enc.tokens, ...machine() };
}
