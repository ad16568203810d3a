// Tokenizer training on ~100 MB of mixed Chinese/English text, and encoding speed of the
// result with the tokenizers binding (both cores busy).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
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

/**
 * A 6400-token tokenizer trained on 20 MB of the generated corpus, made once and reused: what
 * the benchmarks tokenize with when the machine has no tokenizer of its own. Trained in a
 * child process, so that this process's peak memory stays the benchmark's own.
 */
export function benchTokenizerDir(): string {
  const dir = path.join(benchDir(), 'tokenizer-data');
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    const bin = fileURLToPath(new URL('../../bin/minimind.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'train-tokenizer', '--data', benchCorpus(20), '--out', dir, '--no-progress'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('training the benchmark tokenizer failed');
  }
  return dir;
}

/**
 * Raw encoding throughput: time spent inside the binding's encodeBatch (both cores) over
 * the texts of a JSONL file, read in chunks (up to `limitMb`); reading and parsing are
 * not counted.
 */
export async function encodeSpeed(tok: MiniTokenizer, file: string, limitMb = 20): Promise<{ mb_per_s: number; tokens: number; mb: number }> {
  let texts: string[] = [], chunkBytes = 0, bytes = 0, tokens = 0, seconds = 0;
  const flush = async () => {
    const t0 = performance.now();
    for (const ids of await tok.encodeBatch(texts)) tokens += ids.length;
    seconds += (performance.now() - t0) / 1000;
    bytes += chunkBytes; texts = []; chunkBytes = 0;
  };
  for await (const r of readJsonl(file)) {
    if ('error' in r) continue;
    texts.push((r.value as { text: string }).text);
    chunkBytes += r.bytes;
    if (texts.length >= 2048) await flush();
    if (bytes + chunkBytes > limitMb * 1e6) break;
  }
  if (texts.length) await flush();
  return { mb_per_s: bytes / 1e6 / seconds, tokens, mb: bytes / 1e6 };
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
