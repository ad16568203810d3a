// Perplexity and bits per byte of held-out text: the number pretraining runs are compared by.
// Each sample is scored as MiniMind pretrains it (<s> text </s>), in windows of the model's
// context; every token after the first is predicted from the ones before it in its window.
import fs from 'node:fs';
import { readJsonl, readLines } from '../data/lines.js';
import { ShardReader } from '../data/shards.js';
import { Scorer } from '../model/score.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';

export interface PplSample { ids: number[]; bytes: number }

/** Samples of a .jsonl ({"text"}), a .txt (one per line) or a data-process folder (token shards). */
export async function pplSamples(source: string, tok: MiniTokenizer, limit = Infinity): Promise<PplSample[]> {
  if (!fs.existsSync(source)) throw new UserError(`${source} does not exist`);
  const out: PplSample[] = [];
  if (fs.statSync(source).isDirectory()) {
    const r = new ShardReader(source);
    try {
      for (let i = 0; i < r.length && out.length < limit; i++) {
        const ids = Array.from(r.read(i).tokens);
        out.push({ ids, bytes: Buffer.byteLength(await tok.decode(ids, true)) });
      }
    } finally { r.close(); }
    return out;
  }
  const texts: string[] = [];
  if (source.endsWith('.jsonl')) {
    for await (const r of readJsonl(source)) {
      if ('error' in r) throw new UserError(`${source}:${r.lineNo}: ${r.error}`);
      const t = (r.value as { text?: unknown })?.text;
      if (typeof t !== 'string') throw new UserError(`${source}:${r.lineNo}: no "text" string field`);
      texts.push(t);
      if (texts.length >= limit) break;
    }
  } else {
    for await (const l of readLines(source)) {
      if ('error' in l) throw new UserError(`${source}:${l.lineNo}: ${l.error}`);
      if (l.text.trim()) texts.push(l.text);
      if (texts.length >= limit) break;
    }
  }
  if (!texts.length) throw new UserError(`${source}: no text`);
  const ids = await tok.encodeBatch(texts);
  return ids.map((x, i) => ({ ids: [tok.bosId, ...x, tok.eosId], bytes: Buffer.byteLength(texts[i]) }));
}

export interface PplResult { samples: number; tokens: number; bytes: number; nll_per_token: number; perplexity: number; bits_per_byte: number }

/** Summed next-token negative log-likelihood over all samples, in windows of `maxLen`. */
export async function perplexity(scorer: Scorer, samples: PplSample[], maxLen: number, onSample?: (i: number) => void): Promise<PplResult> {
  let nll = 0, tokens = 0, bytes = 0;
  for (let i = 0; i < samples.length; i++) {
    const { ids } = samples[i];
    // windows overlap by one token so every token after the first is predicted once
    for (let start = 0; start + 1 < ids.length; start += maxLen - 1) {
      const w = ids.slice(start, start + maxLen);
      nll -= await scorer.logLikelihood(w.slice(0, 1), w.slice(1));
      tokens += w.length - 1;
    }
    bytes += samples[i].bytes;
    onSample?.(i + 1);
  }
  const perToken = nll / Math.max(tokens, 1);
  return { samples: samples.length, tokens, bytes, nll_per_token: perToken, perplexity: Math.exp(perToken), bits_per_byte: nll / Math.LN2 / Math.max(bytes, 1) };
}
