// The demo's held-out facts: multiple-choice accuracy by log-likelihood (plain text and
// chat), and free-form exact match of the greedy chat answers.
import { ChatProbe, Probe } from '../demo/corpus.js';
import { MiniMindConfig } from '../model/config.js';
import { Generator } from '../model/generate.js';
import { streamText } from './generate-text.js';
import { Params } from '../model/params.js';
import { Scorer } from '../model/score.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { RolloutEngine } from '../train/rollout.js';
import { Rng } from '../util/rng.js';

export interface HeldOut { accuracy: number; chance: number; n: number }

/** Share of questions where the right answer's log-likelihood beats every distractor's. */
async function choiceAccuracy(c: MiniMindConfig, params: Params, items: { prompt: number[]; answer: number[]; distractors: number[][] }[], threads: number): Promise<HeldOut> {
  const scorer = await Scorer.create(c, params, { threads });
  let right = 0;
  for (const it of items) {
    const truth = await scorer.logLikelihood(it.prompt, it.answer);
    let best = true;
    for (const d of it.distractors) if ((await scorer.logLikelihood(it.prompt, d)) >= truth) best = false;
    if (best) right++;
  }
  await scorer.release();
  return { accuracy: right / items.length, chance: 1 / (1 + items[0].distractors.length), n: items.length };
}

/** 4-way choice by log-likelihood on facts about countries the model never saw. */
export async function heldOutAccuracy(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: Probe[], threads = 0): Promise<HeldOut> {
  const items = await Promise.all(probes.map(async (p) => ({ prompt: [tok.bosId, ...(await tok.encode(p.prompt))], answer: await tok.encode(p.answer),
    distractors: await Promise.all(p.distractors.map((d) => tok.encode(d))) })));
  return choiceAccuracy(c, params, items, threads);
}

/** The same in chat format: the assistant's answer after the user's question. */
export async function heldOutChatAccuracy(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: ChatProbe[], threads = 0): Promise<HeldOut> {
  const items = await Promise.all(probes.map(async (p) => ({ prompt: await tok.encode(tok.applyChatTemplate(p.messages, { addGenerationPrompt: true })),
    answer: await tok.encode(p.answer + '<|im_end|>'), distractors: await Promise.all(p.distractors.map((d) => tok.encode(d + '<|im_end|>'))) })));
  return choiceAccuracy(c, params, items, threads);
}

export interface ExactMatch { accuracy: number; n: number; answers: string[] }

/**
 * Free-form: the model's greedy chat answer (until end of turn) must equal the expected
 * answer exactly, after trimming whitespace. Harder than the 4-way choice, which only asks
 * that the right answer be likelier than three given wrong ones.
 */
export async function heldOutChatExactMatch(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: ChatProbe[], threads = 0, maxNewTokens = 40): Promise<ExactMatch> {
  const gen = await Generator.create(c, params, { threads });
  const answers: string[] = [];
  for (const p of probes) {
    const ids = await tok.encode(tok.applyChatTemplate(p.messages, { addGenerationPrompt: true }));
    answers.push((await streamText(gen, tok, ids, { temperature: 0, maxNewTokens }, () => {})).text.trim());
  }
  await gen.release();
  return { accuracy: answers.filter((a, i) => a === probes[i].answer).length / probes.length, n: probes.length, answers };
}

/**
 * The same exact match over sampled answers: `samples` per question at `temperature` (all
 * decoded together by the rollout engine), the share that are exactly right. Steadier than
 * one greedy answer per question, and what a policy trained by sampling is measured on.
 */
export async function sampledChatExactMatch(c: MiniMindConfig, params: Params, tok: MiniTokenizer, probes: ChatProbe[], samples: number, temperature: number,
  threads = 0, maxNewTokens = 40, seed = 5): Promise<{ accuracy: number; n: number }> {
  const engine = new RolloutEngine(c, async () => params, 'rebuild', { threads });
  const prompts = await Promise.all(probes.map((p) => tok.encode(tok.applyChatTemplate(p.messages, { addGenerationPrompt: true }))));
  const rows = await engine.rollout(prompts, { numGenerations: samples, maxNewTokens, temperature, topK: 0, topP: 1, stopIds: [tok.eosId], vocabLimit: tok.vocabSize }, new Rng(seed));
  await engine.release();
  const texts = await Promise.all(rows.map((r) => tok.decode(r.completion, true)));
  return { accuracy: texts.filter((t, i) => t.trim() === probes[Math.floor(i / samples)].answer).length / rows.length, n: rows.length };
}
