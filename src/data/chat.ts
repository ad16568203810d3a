// Chat records -> token sequences with loss masks. SFT labels follow MiniMind's
// generate_labels: the tokens after each `<|im_start|>assistant\n` up to and including the
// `<|im_end|>\n` that closes it. DPO pairs are two such sequences.
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';

export type Problem = { error: string };
const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/** Validate a list of messages; names what is wrong. */
export function checkMessages(v: unknown, field: string): ChatMessage[] | Problem {
  if (!Array.isArray(v)) return { error: `field "${field}" must be a list of messages` };
  if (!v.length) return { error: `field "${field}" is empty` };
  for (const [i, m] of v.entries()) {
    if (!m || typeof m !== 'object') return { error: `${field}[${i}] is not an object` };
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) return { error: `${field}[${i}].role must be one of system/user/assistant/tool, got ${JSON.stringify(role)}` };
    if (typeof content !== 'string' && !(role === 'assistant' && (m as ChatMessage).tool_calls)) return { error: `${field}[${i}].content must be a string` };
  }
  if (!v.some((m) => (m as ChatMessage).role === 'assistant')) return { error: `${field} has no assistant turn` };
  return v as ChatMessage[];
}

export interface Encoded { tokens: number[]; mask: number[] }

/** Token id sequences that open and close assistant spans: `<bos>assistant\n` .. `<eos>\n`, as MiniMind's datasets build them from the tokenizer's own bos/eos (v1: `<s>`, `</s>`). */
export async function spanMarkers(tok: MiniTokenizer): Promise<{ open: number[]; close: number[] }> {
  return { open: await tok.encode(`${tok.bosToken}assistant\n`), close: await tok.encode(`${tok.eosToken}\n`) };
}

const at = (ids: number[], i: number, pat: number[]) => pat.every((p, k) => ids[i + k] === p);

/** 1 on assistant tokens (MiniMind's generate_labels), 0 elsewhere. */
export function assistantMask(ids: number[], m: { open: number[]; close: number[] }): number[] {
  const mask = new Array(ids.length).fill(0);
  let i = 0;
  while (i < ids.length) {
    if (!at(ids, i, m.open)) { i++; continue; }
    const start = i + m.open.length;
    let end = start;
    while (end < ids.length && !at(ids, end, m.close)) end++;
    for (let j = start; j < Math.min(end + m.close.length, ids.length); j++) mask[j] = 1;
    i = end < ids.length ? end + m.close.length : ids.length;
  }
  return mask;
}

/** Conversions of other common formats to MiniMind's. */
export function fromAlpaca(v: Record<string, unknown>): { conversations: ChatMessage[] } | Problem {
  const { instruction, input, output } = v;
  if (typeof instruction !== 'string' || typeof output !== 'string') return { error: 'alpaca record needs string fields "instruction" and "output"' };
  const q = typeof input === 'string' && input.trim() ? `${instruction}\n${input}` : instruction;
  return { conversations: [{ role: 'user', content: q }, { role: 'assistant', content: output }] };
}

const SHAREGPT_ROLE: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system', observation: 'tool', function_call: 'assistant' };
function shareTurn(t: unknown): ChatMessage | null {
  const o = t as { from?: string; value?: string } | null;
  if (!o || typeof o.value !== 'string' || !o.from || !SHAREGPT_ROLE[o.from]) return null;
  return { role: SHAREGPT_ROLE[o.from], content: o.value };
}

/** ShareGPT records ({conversations: [{from, value}]}, optionally with chosen/rejected turns for DPO). */
export function fromShareGpt(v: Record<string, unknown>): Record<string, unknown> | Problem {
  if (!Array.isArray(v.conversations)) return { error: 'sharegpt record needs a "conversations" list' };
  const conv = v.conversations.map(shareTurn);
  if (conv.some((m) => !m)) return { error: 'sharegpt turns need "from" (human/gpt/system) and string "value"' };
  if (v.chosen !== undefined || v.rejected !== undefined) {
    const c = shareTurn(v.chosen), r = shareTurn(v.rejected);
    if (!c || !r) return { error: 'sharegpt DPO record needs "chosen" and "rejected" turns' };
    return { chosen: [...conv, c], rejected: [...conv, r] };
  }
  return { conversations: conv };
}
