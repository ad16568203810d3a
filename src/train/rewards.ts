// Rewards of the RL stages. MiniMind-3 scores a completion with rules (its length, the
// format of a think block, repeated 3-grams) plus a reward model's score of the answer
// (internlm2-1_8b-reward, clipped to [-3, 3]). Here the rules are built in, and the score
// comes from what the user names: a JavaScript module (--reward_fn file.mjs exporting
// `(messages, answer, info) => number | Promise<number>`), an HTTP endpoint (--reward_url,
// batched JSON), or any model here by its own likelihood of the answer (--reward_model). A failing sample is reported with its error (a module's own stack) and
// gets no advantage; it never stops the run silently: a step in which every sample fails
// stops it with the first error.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModelDir } from '../io/model-dir.js';
import { Scorer } from '../model/score.js';
import { SessionOptions } from '../runtime/session.js';
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';

/** What a score source sees of one completion. */
export interface RewardSample {
  /** the conversation before the completion (with any system prompt that was drawn) */
  messages: ChatMessage[];
  /** what the reward model scores: the completion after its think block, or the whole completion */
  answer: string;
  /** the whole completion, as decoded */
  response: string;
  /** the data record's answer (its last assistant turn), for verifiable rewards; null when it has none */
  reference: string | null;
}

/** A score per sample, or the error that sample's scoring raised. */
export type Scored = { score: number } | { error: string };

export interface ScoreSource {
  readonly name: string;
  score(samples: RewardSample[]): Promise<Scored[]>;
}

/** train_grpo.py's rep_penalty: the share of repeated 3-grams of word and punctuation tokens, doubled and capped at 0.5. */
export function repetitionPenalty(text: string, n = 3, cap = 0.5): number {
  // Python's re \w+|[^\w\s] on text.lower(): \w is Unicode letters, digits and _
  const toks = text.toLowerCase().match(/[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]/gu) ?? [];
  const grams: string[] = [];
  for (let i = 0; i + n <= toks.length; i++) grams.push(JSON.stringify(toks.slice(i, i + n)));
  return grams.length ? Math.min(cap, ((grams.length - new Set(grams).size) * cap * 2) / grams.length) : 0;
}

/** Python's str.strip(): the characters str.isspace() accepts (JavaScript's trim() differs in U+FEFF, U+001C..U+001F, U+0085) */
const PY_SPACE = '[\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'gu');
export const stripPy = (s: string) => s.replace(STRIP, '');

/**
 * MiniMind's rule rewards of a completion and the answer its reward model scores
 * (calculate_rewards), summed in float32 as its reward tensor is.
 */
export function ruleReward(response: string): { reward: number; answer: string } {
  const f = Math.fround, len = (s: string) => [...stripPy(s)].length; // Python's len: code points
  let reward = f(len(response) >= 20 && len(response) <= 800 ? 0.5 : -0.5);
  let answer = response;
  const at = response.indexOf('</think>');
  if (at >= 0) {
    const thinking = response.slice(0, at);
    reward = f(reward + (len(thinking) >= 20 && len(thinking) <= 300 ? 1.0 : -0.5));
    reward = f(reward + (response.split('</think>').length - 1 === 1 ? 0.25 : -0.25));
    answer = stripPy(response.slice(at + '</think>'.length));
  }
  return { reward: f(reward - f(repetitionPenalty(answer))), answer };
}

export interface RewardOptions {
  /** MiniMind's rule rewards (length, think format, repetition) */
  rules: boolean;
  /** the reward model's part, or none */
  source: ScoreSource | null;
}

export interface Rewards {
  /** per sample: the total, NaN where its scoring failed */
  rewards: number[];
  /** per sample: the score source's part (0 without one), NaN where it failed */
  scores: number[];
  errors: { sample: number; error: string }[];
}

/**
 * Rewards of completions: MiniMind's rules on each response plus the source's score of its
 * answer. `messages[i]` is the conversation of sample i.
 */
export async function computeRewards(o: RewardOptions, samples: Omit<RewardSample, 'answer'>[]): Promise<Rewards> {
  const ruled = samples.map((s) => ruleReward(s.response));
  const full: RewardSample[] = samples.map((s, i) => ({ ...s, messages: s.messages.map((m) => ({ ...m, content: stripPy(m.content) })), answer: ruled[i].answer }));
  const scored: Scored[] = o.source ? await o.source.score(full) : full.map(() => ({ score: 0 }));
  const errors: Rewards['errors'] = [];
  const scores = scored.map((s, i) => {
    if ('error' in s) { errors.push({ sample: i, error: s.error }); return NaN; }
    return s.score;
  });
  return { rewards: scores.map((s, i) => Math.fround((o.rules ? ruled[i].reward : 0) + Math.fround(s))), scores, errors };
}

/**
 * GRPO's group-normalised advantages (train_grpo.py): (r - mean) / (std + 1e-4) within each
 * prompt's numGenerations completions, std without Bessel's correction. A sample whose reward
 * failed (NaN) gets 0, and the group's statistics are those of the others.
 */
export function groupAdvantages(rewards: number[], numGenerations: number): number[] {
  const out = new Array<number>(rewards.length).fill(0);
  for (let g0 = 0; g0 < rewards.length; g0 += numGenerations) {
    const idx = Array.from({ length: numGenerations }, (_, j) => g0 + j).filter((i) => Number.isFinite(rewards[i]));
    if (!idx.length) continue;
    const mean = idx.reduce((a, i) => a + rewards[i], 0) / idx.length;
    const std = Math.sqrt(idx.reduce((a, i) => a + (rewards[i] - mean) ** 2, 0) / idx.length);
    for (const i of idx) out[i] = Math.fround((rewards[i] - mean) / (std + 1e-4));
  }
  return out;
}

/** --reward_fn: a module whose default export (or `reward`) scores one sample. */
export async function moduleSource(file: string, timeoutMs = 60_000): Promise<ScoreSource> {
  const abs = path.resolve(file);
  let mod: Record<string, unknown>;
  try { mod = await import(pathToFileURL(abs).href); } catch (e) {
    throw new UserError(`--reward_fn ${file}: cannot load the module: ${errorText(e, abs)}`);
  }
  const fn = (mod.default ?? mod.reward) as ((messages: ChatMessage[], answer: string, info: object) => unknown) | undefined;
  if (typeof fn !== 'function') throw new UserError(`--reward_fn ${file}: the module exports no function (export default (messages, answer) => number, or export function reward)`);
  return {
    name: path.basename(file),
    score: (samples) => Promise.all(samples.map(async (s): Promise<Scored> => {
      try {
        const v = await withTimeout(Promise.resolve(fn(s.messages, s.answer, { response: s.response, reference: s.reference })), timeoutMs);
        return typeof v === 'number' && Number.isFinite(v) ? { score: v } : { error: `returned ${describe(v)}, not a finite number` };
      } catch (e) { return { error: errorText(e, abs) }; }
    })),
  };
}

/**
 * --reward_url: POST {"samples": [{messages, answer, response, reference}, ...]} as JSON; the
 * reply is {"scores": [number | null, ...]} (or the bare list), one per sample (null: that
 * sample failed). A request that fails is tried `attempts` times.
 */
export function urlSource(url: string, o: { timeoutMs?: number; attempts?: number } = {}): ScoreSource {
  const attempts = o.attempts ?? 3;
  return {
    name: url,
    async score(samples) {
      let last = '';
      for (let k = 0; k < attempts; k++) {
        if (k) await new Promise((r) => setTimeout(r, 200 * 2 ** k));
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ samples }), signal: AbortSignal.timeout(o.timeoutMs ?? 60_000) });
          const text = await res.text();
          if (!res.ok) { last = `HTTP ${res.status}: ${text.slice(0, 200)}`; if (res.status < 500) break; continue; }
          let body: unknown;
          try { body = JSON.parse(text); } catch { last = `the reply is not JSON: ${text.slice(0, 200)}`; break; }
          const scores = Array.isArray(body) ? body : (body as { scores?: unknown } | null)?.scores;
          if (!Array.isArray(scores) || scores.length !== samples.length) { last = `expected {"scores": [...]} with ${samples.length} entries, got ${text.slice(0, 200)}`; break; }
          return scores.map((v): Scored => (typeof v === 'number' && Number.isFinite(v) ? { score: v } : { error: `the server scored it ${describe(v)}` }));
        } catch (e) { last = (e as Error).message + ((e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''); }
      }
      return samples.map(() => ({ error: `${url}: ${last}` }));
    },
  };
}

/**
 * --reward_model: a model directory scores an answer by its own likelihood: the mean log-
 * probability per token it gives the answer and its end of turn after the conversation (its
 * chat template), clipped to [-3, 3] as MiniMind clips its reward model's scores. A bigger
 * or better-trained model so judges how likely it would have answered the same way.
 */
export async function modelSource(dir: string, so: SessionOptions): Promise<ScoreSource> {
  const { config, params } = loadModelDir(dir), tok = MiniTokenizer.load(dir);
  if (!tok.hasChatTemplate) throw new UserError(`--reward_model ${dir}: its tokenizer has no chat template`);
  const scorer = await Scorer.create(config, params, so);
  return {
    name: dir,
    score: async (samples) => {
      const out: Scored[] = [];
      for (const s of samples) { // one forward pass each, in turn
        const prompt = await tok.encode(tok.applyChatTemplate(s.messages, { addGenerationPrompt: true }));
        const answer = [...await tok.encode(s.answer), tok.eosId];
        if (prompt.length + answer.length > config.max_position_embeddings) { out.push({ error: `prompt and answer exceed the reward model's ${config.max_position_embeddings} positions` }); continue; }
        out.push({ score: Math.max(-3, Math.min(3, (await scorer.logLikelihood(prompt, answer)) / answer.length)) });
      }
      return out;
    },
  };
}

const describe = (v: unknown) => (typeof v === 'number' ? String(v) : v === undefined ? 'undefined' : JSON.stringify(v)?.slice(0, 80) ?? String(v));

/** An error's message and the stack frames in the user's file (its own stack, without ours). */
function errorText(e: unknown, file: string): string {
  if (!(e instanceof Error)) return `threw ${describe(e)}`;
  const url = pathToFileURL(file).href;
  const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l) && (l.includes(url) || l.includes(file)));
  return `${e.name}: ${e.message}${frames.length ? '\n' + frames.join('\n') : ''}`;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms); })]).finally(() => clearTimeout(timer));
}
