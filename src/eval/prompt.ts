// Prompts for 4-way multiple choice. `chat` is MiniMind v1's eval_ceval.py: system message
// "开始回答问题", the user turn `{question}。选择 A: .., B: .., C: .., D: ..`, the chat template
// with its generation prompt; the model's next token is read. Few-shot examples are earlier
// user/assistant turns answered with their letter. `plain` is for pretrained-only models: the
// same question text after BOS, ending in "答案：".
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { UserError } from '../util/errors.js';
import { LETTERS, Question } from './mcq-data.js';

export type PromptStyle = 'chat' | 'plain';
export const SYSTEM_PROMPT = '开始回答问题';

export const questionText = (q: Question) => `${q.question}。选择 A: ${q.options[0]}, B: ${q.options[1]}, C: ${q.options[2]}, D: ${q.options[3]}`;

export function promptText(tok: MiniTokenizer, q: Question, shots: Question[], style: PromptStyle): string {
  if (style === 'plain') return shots.map((s) => `${questionText(s)}\n答案：${s.answer}\n\n`).join('') + `${questionText(q)}\n答案：`;
  const messages = [{ role: 'system', content: SYSTEM_PROMPT }];
  for (const s of shots) messages.push({ role: 'user', content: questionText(s) }, { role: 'assistant', content: s.answer ?? '' });
  messages.push({ role: 'user', content: questionText(q) });
  return tok.applyChatTemplate(messages, { addGenerationPrompt: true });
}

/**
 * Token ids of every question's prompt, cut to the model's last `maxLen` tokens as v1's
 * eval_answer does (idx[:, -max_seq_len:]).
 */
export async function promptIds(tok: MiniTokenizer, qs: Question[], shotsOf: (q: Question) => Question[], style: PromptStyle, maxLen: number): Promise<number[][]> {
  if (style === 'chat' && !tok.hasChatTemplate) throw new UserError(`${tok.dir}: the tokenizer has no chat_template; score a pretrained model with --prompt plain`);
  const texts = qs.map((q) => promptText(tok, q, shotsOf(q), style));
  const ids = await tok.encodeBatch(texts);
  return ids.map((x) => {
    const full = style === 'plain' ? [tok.bosId, ...x] : x;
    return full.length > maxLen ? full.slice(full.length - maxLen) : full;
  });
}

/** The ids of the four letter tokens (each letter must be one token, as v1's scorer assumes). */
export async function letterIds(tok: MiniTokenizer): Promise<number[]> {
  return Promise.all(LETTERS.map(async (l) => {
    const ids = await tok.encode(l);
    if (ids.length !== 1) throw new UserError(`${tok.dir}: "${l}" is ${ids.length} tokens in this tokenizer; the choice letters must be single tokens`);
    return ids[0];
  }));
}
