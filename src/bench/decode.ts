// Greedy decoding speed with the KV cache: batch 1, a 16-token prompt, 100 new tokens.
import { Generator, Quantize } from '../model/generate.js';
import { MiniMindConfig } from '../model/config.js';
import { initParams } from '../model/params.js';
import { SessionOptions } from '../runtime/session.js';
import { Rng } from '../util/rng.js';
import { machine, median, peakRssMb, timeIt } from './stats.js';

export async function benchDecode(c: MiniMindConfig, so: SessionOptions & { quantize?: Quantize }, promptLen = 16, newTokens = 100, timed = 3): Promise<Record<string, unknown>> {
  const gen = await Generator.create(c, initParams(c), so);
  const rng = new Rng(1);
  const prompt = Array.from({ length: promptLen }, () => rng.int(c.vocab_size));
  let count = 0;
  const times = await timeIt(async () => {
    count = 0;
    // no eos stop: always the full number of tokens, as the reference
    for await (const _ of gen.generate(prompt, { temperature: 0, maxNewTokens: newTokens, stopIds: [] })) count++;
  }, 1, timed);
  await gen.release();
  const s = median(times);
  return { bench: 'decode', prompt_tokens: promptLen, new_tokens: count, tokens_per_s: count / s, s_per_run: s, run_times_s: times, peak_rss_mb: peakRssMb(), ...machine() };
}
