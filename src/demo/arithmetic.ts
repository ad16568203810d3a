// The demo's arithmetic in chat form: questions about single-digit sums (`9加8等于几？`)
// answered as the demo's corpus writes them (`9加8等于17。`). The 100 sums are split once:
// SFT and GRPO see the training ones, the held-out ones measure what carries over.
import { ChatProbe } from './corpus.js';
import { Rng } from '../util/rng.js';

export type Sum = [number, number];

export interface ArithmeticTask { train: Sum[]; heldOut: Sum[] }

export function arithmeticTask(seed = 99, heldOut = 30): ArithmeticTask {
  const all: Sum[] = [];
  for (let a = 0; a < 10; a++) for (let b = 0; b < 10; b++) all.push([a, b]);
  const order = [...new Rng(seed).permutation(all.length)].map((i) => all[i]);
  return { heldOut: order.slice(0, heldOut), train: order.slice(heldOut) };
}

export const sumQuestion = ([a, b]: Sum) => `${a}加${b}等于几？`;
export const sumAnswer = ([a, b]: Sum) => `${a}加${b}等于${a + b}。`;

/** SFT records: question and answer. */
export const sumChats = (sums: Sum[]) => sums.map((s) => ({ conversations: [{ role: 'user', content: sumQuestion(s) }, { role: 'assistant', content: sumAnswer(s) }] }));

/** RLAIF records: the question, and the sum as the reference answer a verifiable reward checks. */
export const sumPrompts = (sums: Sum[]) => sums.map(([a, b]) => ({ conversations: [{ role: 'user', content: sumQuestion([a, b]) }, { role: 'assistant', content: String(a + b) }] }));

/** Held-out probes for exact-answer accuracy (heldOutChatExactMatch). */
export const sumProbes = (sums: Sum[]): ChatProbe[] => sums.map((s) => ({ messages: [{ role: 'user', content: sumQuestion(s) }], answer: sumAnswer(s), distractors: [] }));

/** The verifiable reward: 1 when the last number in the answer is the sum (the reference), else 0. */
export function sumReward(answer: string, reference: string | null): number {
  const numbers = answer.match(/\d+/g);
  return numbers !== null && reference !== null && numbers[numbers.length - 1] === reference ? 1 : 0;
}
