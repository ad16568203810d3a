// Log-probabilities as OpenAI and vLLM report them: of the model's own distribution, the
// log-softmax of the raw logits over the whole vocabulary (before temperature, penalties
// and top-p), which is what a scorer reads (the C-Eval scorer normalises over the same
// vocabulary). Alternatives are chosen among the ids the tokenizer can decode.

export interface Alternative { id: number; logprob: number }
export interface TokenLogprob extends Alternative { top: Alternative[] }

/** log(sum(exp(z))), in float64. */
export function logSumExp(z: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i] > m) m = z[i];
  if (m === -Infinity) return m;
  let s = 0;
  for (let i = 0; i < z.length; i++) s += Math.exp(z[i] - m);
  return m + Math.log(s);
}

/** Ids of the k largest of z[0..limit), largest first (ties: the lower id first). */
export function topIds(z: Float32Array, k: number, limit: number): number[] {
  const ids: number[] = [];
  if (k <= 0) return ids;
  for (let i = 0; i < Math.min(limit, z.length); i++) {
    const v = z[i];
    if (ids.length === k && !(v > z[ids[k - 1]])) continue;
    let j = ids.length;
    while (j > 0 && v > z[ids[j - 1]]) j--;
    ids.splice(j, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

/** The log-probability of `id` under logits `z`, with the k most likely ids below `limit`. */
export function tokenLogprob(z: Float32Array, id: number, k: number, limit: number, lse = logSumExp(z)): TokenLogprob {
  return { id, logprob: z[id] - lse, top: topIds(z, k, limit).map((t) => ({ id: t, logprob: z[t] - lse })) };
}

/**
 * A prompt's log-probabilities from the logits of each of its positions ([L, V], row t
 * predicting token t+1): one entry per token after the first, which has no context.
 */
export function promptLogprobs(prompt: number[], positions: Float32Array, V: number, k: number, limit: number): TokenLogprob[] {
  const out: TokenLogprob[] = [];
  for (let t = 1; t < prompt.length; t++) out.push(tokenLogprob(positions.subarray((t - 1) * V, t * V), prompt[t], k, limit));
  return out;
}
