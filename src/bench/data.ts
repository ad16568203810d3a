// Data processing of a generated pretrain JSONL (1 GB by default) into token shards:
// throughput against the tokenizer binding's raw encoding speed, and peak memory, which
// must not grow with the input size.
import fs from 'node:fs';
import path from 'node:path';
import { processData } from '../data/process.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { benchCorpus, benchDir, benchTokenizerDir, encodeSpeed } from './tokenizer.js';
import { machine, peakRssMb } from './stats.js';

export async function benchData(mb = 1000, rawMb = 100): Promise<Record<string, unknown>> {
  const corpus = benchCorpus(mb);
  const tokDir = benchTokenizerDir();
  const tok = MiniTokenizer.load(tokDir);
  const rssBefore = peakRssMb();
  const out = path.join(benchDir(), `shards-${mb}mb`);
  const meta = await processData({ inputs: [corpus], tokenizer: tok, outDir: out, stage: 'pretrain' });
  const peak = peakRssMb();
  fs.rmSync(out, { recursive: true, force: true });
  const raw = await encodeSpeed(tok, corpus, rawMb);
  return { bench: 'data', input_mb: meta.mb, samples: meta.samples, tokens: meta.tokens, seconds: meta.seconds, mb_per_s: meta.mb / meta.seconds,
    raw_encode_mb_per_s: raw.mb_per_s, ratio_to_raw: meta.mb / meta.seconds / raw.mb_per_s, peak_rss_mb: peak, rss_before_mb: rssBefore, ...machine() };
}
