// Train a byte-level BPE tokenizer on corpus files and write tokenizer.json: large JSONL/TXT
// files are counted by one worker per core, CSV and small files inline.
import fs from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import cliProgress from 'cli-progress';
import { UserError } from '../util/errors.js';
import { corpusTexts, splitFile } from './corpus.js';
import { writeTokenizerFiles } from './files.js';
import { trainBpe, WordCounter } from './train.js';

export interface TokenizerTrainResult { seconds: number; merges: number; words: number; mb: number }

export async function trainTokenizer(files: string[], vocabSize: number, outDir: string, o: { progress?: boolean; log?: (m: string) => void } = {}): Promise<TokenizerTrainResult> {
  const t0 = performance.now();
  const total = files.reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
  const tty = o.progress !== false && process.stderr.isTTY;
  const bar = tty ? new cliProgress.SingleBar({ format: '{phase} {bar} {percentage}% | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  bar?.start(100, 0, { phase: 'counting words' });
  const wc = new WordCounter();
  let done = 0, skipped = 0, n = 0;
  const bad = (w: string, why: string) => { skipped++; if (skipped <= 10) o.log?.(`warning: ${w}: ${why} (skipped)`); };
  for (const f of files) if (!fs.existsSync(f)) throw new UserError(`cannot read ${f}: no such file`);
  // large JSONL/TXT files are counted by one worker per core; CSV and small files inline
  const parallel = files.filter((f) => !/\.csv$/i.test(f) && fs.statSync(f).size > (8 << 20));
  const workers = Math.min(os.cpus().length, 8);
  for (const f of parallel) {
    const parts = await Promise.all(splitFile(f, workers).map(([start, end]) => new Promise<{ counts: Map<string, number>; bad: [number, string][] }>((resolve, reject) => {
      const w = new Worker(new URL('./count-worker.js', import.meta.url), { workerData: { file: f, start, end, jsonl: /\.jsonl$/i.test(f) } });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    for (const p of parts) { wc.merge(p.counts); for (const [line, why] of p.bad) bad(`${f}:${line}`, why); }
    done += fs.statSync(f).size;
    bar?.update(Math.min(100, Math.round((100 * done) / Math.max(total, 1))));
  }
  for await (const { text, bytes } of corpusTexts(files.filter((f) => !parallel.includes(f)), bad)) {
    wc.add(text);
    done += bytes;
    if (++n % 2000 === 0) bar?.update(Math.min(100, Math.round((100 * done) / Math.max(total, 1))));
  }
  if (wc.counts.size === 0) { bar?.stop(); throw new UserError(`the corpus (${files.join(', ')}) has no text to train a tokenizer on`); }
  bar?.update(0, { phase: 'merging pairs ' });
  let res;
  try { res = trainBpe(wc.counts, vocabSize, (d, t) => bar?.update(Math.round((100 * d) / t))); } catch (e) {
    bar?.stop();
    if (e instanceof RangeError) throw new UserError(e.message);
    throw e;
  }
  bar?.stop();
  writeTokenizerFiles(outDir, res.files);
  return { seconds: (performance.now() - t0) / 1000, merges: res.merges, words: res.words, mb: total / 1e6 };
}
