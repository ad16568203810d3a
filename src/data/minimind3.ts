// SFT records as MiniMind-3's SFTDataset reads them (lm_dataset.py): `tools` on a system
// message and `tool_calls` on assistant messages may be JSON strings, parsed before the
// chat template renders them; `reasoning_content` goes through to the template's <think>
// block. The two random choices MiniMind makes per sample (a system prompt, dropping the
// empty think block) are not made here: a record is rendered once without them, and the
// alternatives are kept for training to draw per epoch (see variants.ts).
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';
import { checkMessages, Problem } from './chat.js';

/**
 * MiniMind's own system prompts, verbatim from pre_processing_chat in MiniMind-3's
 * dataset/lm_dataset.py (github.com/jingyaogong/minimind, Apache-2.0).
 */
export const SYSTEM_PROMPTS = [
  '你是一个知识丰富的AI，尽力为用户提供准确的信息。',
  '你是minimind，一个小巧但有用的语言模型。',
  '你是一个专业的AI助手，请提供有价值的回答。',
  '你是minimind，请尽力帮助用户解决问题。',
  '你是一个可靠的AI，请给出准确的回答。',
  'You are a helpful AI assistant.',
  'You are minimind, a lightweight intelligent assistant.',
  "You are a friendly chatbot. Please answer the user's questions carefully.",
  'You are a knowledgeable AI. Try your best to provide accurate information.',
  'You are minimind, a small but useful language model.',
];

/** pre_processing_chat's add_system_ratio: share of conversations given a system prompt */
export const ADD_SYSTEM_RATIO = 0.2;
/** post_processing_chat's empty_think_ratio: share of samples that keep the empty think block */
export const EMPTY_THINK_RATIO = 0.2;
/** what post_processing_chat removes, every occurrence in the rendered text */
export const EMPTY_THINK = '<think>\n\n</think>\n\n';

/** `text` without its empty think blocks (post_processing_chat's replace), or null when it has none. */
export const withoutEmptyThink = (text: string): string | null => (text.includes(EMPTY_THINK) ? text.split(EMPTY_THINK).join('') : null);

export interface SftText {
  /** rendered without an added system prompt, empty think blocks kept */
  text: string;
  /** `text` without its empty think blocks, or null when it has none */
  stripped: string | null;
  /** MiniMind may add a system prompt: no message has tools and the first is not a system message */
  systemPrompt: boolean;
}

/** Python truthiness of a field as MiniMind tests it (`conv.get('tools')`). */
const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === '' || v === 0 || (Array.isArray(v) && !v.length));

function parseJsonField(v: unknown, where: string): unknown[] | Problem {
  if (typeof v !== 'string') return Array.isArray(v) ? v : { error: `${where} must be a JSON list (or a string holding one)` };
  let parsed: unknown;
  try { parsed = JSON.parse(v); } catch (e) { return { error: `${where} is not valid JSON (${(e as Error).message.replace(/^.*?: /, '')})` }; }
  return Array.isArray(parsed) ? parsed : { error: `${where} must hold a JSON list, got ${parsed === null ? 'null' : typeof parsed}` };
}

/**
 * Messages and tools as create_chat_prompt passes them to the template: tools come from a
 * system message, JSON strings are parsed. (JSON numbers like 1.0 come back as 1 in
 * JavaScript, so a tool schema with such a literal renders "1" where Python writes "1.0".)
 */
export function chatPrompt(conv: ChatMessage[], field = 'conversations'): { messages: ChatMessage[]; tools: unknown[] | undefined } | Problem {
  let tools: unknown[] | undefined;
  const messages: ChatMessage[] = [];
  for (const [i, m] of conv.entries()) {
    const msg = { ...m };
    if (msg.role === 'system' && truthy(msg.tools)) {
      const t = parseJsonField(msg.tools, `${field}[${i}].tools`);
      if ('error' in t) return t;
      tools = t;
    }
    if (truthy(msg.tool_calls) && typeof msg.tool_calls === 'string') {
      const t = parseJsonField(msg.tool_calls, `${field}[${i}].tool_calls`);
      if ('error' in t) return t;
      msg.tool_calls = t;
    }
    messages.push(msg);
  }
  return { messages, tools };
}

/** A MiniMind SFT record's conversation rendered by the tokenizer's chat template. */
export function renderSft(tok: MiniTokenizer, conversations: unknown): SftText | Problem {
  const conv = checkMessages(conversations, 'conversations');
  if ('error' in conv) return conv;
  const p = chatPrompt(conv);
  if ('error' in p) return p;
  let text: string;
  try {
    text = tok.applyChatTemplate(p.messages, p.tools && p.tools.length ? { tools: p.tools } : {});
  } catch (e) { return { error: `chat template: ${(e as Error).message}` }; }
  return { text, stripped: withoutEmptyThink(text), systemPrompt: !conv.some((m) => truthy(m.tools)) && conv[0].role !== 'system' };
}

/**
 * Token ids of the block each system prompt adds, checked to be a clean prefix: the
 * conversation rendered with it is the block followed by the conversation without it,
 * and the block's tokens followed by the rest's are the tokens of the whole. Where that
 * does not hold (another chat template), the reason, and no system prompts are added.
 */
export async function systemPromptBlocks(tok: MiniTokenizer): Promise<number[][] | Problem> {
  const probe: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }];
  const rest = tok.applyChatTemplate(probe), restIds = await tok.encode(rest);
  const blocks: number[][] = [];
  for (const content of SYSTEM_PROMPTS) {
    const full = tok.applyChatTemplate([{ role: 'system', content }, ...probe]);
    if (!full.endsWith(rest) || !rest.startsWith('<|im_start|>')) return { error: `${tok.dir}: the chat template does not render a system prompt as a prefix of the conversation` };
    const ids = await tok.encode(full.slice(0, full.length - rest.length));
    if ((await tok.encode(full)).join() !== [...ids, ...restIds].join()) return { error: `${tok.dir}: the tokenizer does not split at "<|im_start|>"` };
    blocks.push(ids);
  }
  return blocks;
}
