// Turn --data_path into token shards: a directory made by data-process is used as is;
// raw files are processed once into the run's data cache (reused while the inputs and
// the tokenizer are unchanged).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { DataError } from './lines.js';
import { Format, processData, Stage } from './process.js';
import { ShardReader } from './shards.js';

function fingerprint(files: string[], tok: MiniTokenizer, stage: string): string {
  const h = crypto.createHash('sha256').update(stage);
  for (const f of files) { const st = fs.statSync(f); h.update(`${path.resolve(f)}|${st.size}|${st.mtimeMs}`); }
  h.update(fs.readFileSync(path.join(tok.dir, 'tokenizer.json')));
  const cfg = path.join(tok.dir, 'tokenizer_config.json'); // the chat template renders SFT and DPO records
  if (fs.existsSync(cfg)) h.update(fs.readFileSync(cfg));
  return h.digest('hex').slice(0, 16);
}

export async function prepareShards(dataPath: string | string[], tok: MiniTokenizer, cacheDir: string, stage: Stage,
  o: { strict?: boolean; log?: (m: string) => void; progress?: boolean; format?: Format } = {}): Promise<ShardReader> {
  const paths = (Array.isArray(dataPath) ? dataPath : String(dataPath).split(',')).map((p) => p.trim()).filter(Boolean);
  if (paths.length === 1 && fs.existsSync(paths[0]) && fs.statSync(paths[0]).isDirectory()) {
    const r = new ShardReader(paths[0]);
    if (r.meta.stage !== stage) throw new DataError(`${paths[0]} was processed for stage "${r.meta.stage}", not "${stage}"`);
    if (r.meta.vocab_size !== tok.vocabSize) throw new DataError(`${paths[0]} was tokenized with a ${r.meta.vocab_size}-token vocabulary, but the tokenizer has ${tok.vocabSize}`);
    return r;
  }
  for (const p of paths) if (!fs.existsSync(p)) throw new DataError(`cannot read data file ${p}: no such file`);
  // v2: SFT shards carry variants.bin (per-epoch system prompts and think blocks); v3: DPO shards too
  const fp = fingerprint(paths, tok, `v3|${stage}|${o.format ?? 'auto'}`);
  const stampFile = path.join(cacheDir, 'fingerprint');
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === fp) return new ShardReader(cacheDir);
  const bar = o.progress !== false && process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: 'tokenizing {bar} {percentage}% | {mbs} MB/s | ETA {eta_formatted}', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  const t0 = performance.now();
  bar?.start(100, 0, { mbs: '-' });
  const meta = await processData({ inputs: paths, tokenizer: tok, outDir: cacheDir, stage, strict: o.strict, format: o.format,
    warn: (m) => o.log?.(`warning: ${m}`),
    onProgress: (d, t) => bar?.update(Math.round((100 * d) / Math.max(t, 1)), { mbs: (d / 1e6 / ((performance.now() - t0) / 1000)).toFixed(1) }) });
  bar?.stop();
  fs.writeFileSync(stampFile, fp);
  o.log?.(`data: ${meta.samples} samples, ${meta.tokens} tokens from ${paths.join(', ')}${meta.stats.skipped ? `, ${meta.stats.skipped} lines skipped` : ''}`);
  return new ShardReader(cacheDir);
}
