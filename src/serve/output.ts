// Splits a model's streamed text the way OpenAI clients expect it: reasoning (a <think>
// block) apart from content, stop sequences cut, <tool_call> blocks held back from the
// content and parsed into tool_calls at the end. Text that could still turn out to be a
// tag or a stop sequence is held back until it is known not to be.
import { randomUUID } from 'node:crypto';

export interface Delta { reasoning_content?: string; content?: string }
export interface ToolCall { id: string; type: 'function'; function: { name: string; arguments: string } }

const THINK = '<think>', END_THINK = '</think>', TOOL = '<tool_call>';

/** Length of the longest suffix of `s` that is a proper prefix of one of `tags`. */
function partialTail(s: string, tags: string[]): number {
  let best = 0;
  for (const t of tags) for (let k = Math.min(t.length - 1, s.length); k > best; k--) if (s.endsWith(t.slice(0, k))) { best = k; break; }
  return best;
}

export class OutputParser {
  private raw = '';
  private sentReasoning = 0;
  private sentContent = 0;
  /** a stop sequence was seen: the caller stops generating */
  stopped = false;

  /** thinking: the prompt opened a <think> block; tools: the request offered tools. */
  constructor(private o: { thinking: boolean; stops: string[]; tools: boolean }) {}

  push(text: string): Delta[] { this.raw += text; return this.deltas(false); }

  /** The last deltas, and the final reasoning/content/tool calls. */
  end(): { deltas: Delta[]; reasoning: string; content: string; toolCalls: ToolCall[] } {
    const deltas = this.deltas(true);
    const { reasoning, content } = this.view(true);
    if (!this.o.tools) return { deltas, reasoning, content, toolCalls: [] };
    const toolCalls: ToolCall[] = [];
    for (const m of content.matchAll(/<tool_call>([\s\S]*?)<\/tool_call>/g)) {
      try {
        const call = JSON.parse(m[1].trim()) as { name?: unknown; arguments?: unknown };
        if (typeof call.name !== 'string') continue;
        toolCalls.push({ id: `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`, type: 'function',
          function: { name: call.name, arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}) } });
      } catch { /* not JSON: left as text */ }
    }
    const cleaned = toolCalls.length ? content.replace(/<tool_call>[\s\S]*?<\/tool_call>/g, '').trim() : content;
    // text after a tool call that was held back and is not a call goes out now
    if (!toolCalls.length && cleaned.length > this.sentContent) deltas.push({ content: cleaned.slice(this.sentContent) });
    return { deltas, reasoning, content: cleaned, toolCalls };
  }

  /** Reasoning and content as far as they are certain. */
  private view(final: boolean): { reasoning: string; content: string } {
    let text = this.raw;
    let cut = -1;
    for (const s of this.o.stops) { const i = text.indexOf(s); if (i >= 0 && (cut < 0 || i < cut)) cut = i; }
    if (cut >= 0) { text = text.slice(0, cut); this.stopped = true; }
    else if (!final) text = text.slice(0, text.length - partialTail(text, this.o.stops));
    let reasoning = '', content = text;
    const lead = text.trimStart();
    if (!this.o.thinking && !final && THINK.startsWith(lead) && lead.length) return { reasoning: '', content: '' }; // maybe a <think> tag
    if (this.o.thinking || lead.startsWith(THINK)) {
      const body = this.o.thinking && !lead.startsWith(THINK) ? text : lead.slice(THINK.length);
      const e = body.indexOf(END_THINK);
      if (e < 0) {
        reasoning = body.slice(0, final ? body.length : body.length - partialTail(body, [END_THINK]));
        content = '';
      } else {
        reasoning = body.slice(0, e);
        content = body.slice(e + END_THINK.length).replace(/^\s+/, '');
      }
      reasoning = reasoning.replace(/^\s+/, '');
      if (final) reasoning = reasoning.trimEnd();
    }
    if (this.o.tools && !final) {
      const t = content.indexOf(TOOL);
      content = t >= 0 ? content.slice(0, t) : content.slice(0, content.length - partialTail(content, [TOOL]));
    }
    if (final && !this.o.tools) content = content.trimEnd();
    return { reasoning, content };
  }

  private deltas(final: boolean): Delta[] {
    const { reasoning, content } = this.view(final);
    const out: Delta[] = [];
    if (reasoning.length > this.sentReasoning) { out.push({ reasoning_content: reasoning.slice(this.sentReasoning) }); this.sentReasoning = reasoning.length; }
    const c = this.o.tools && final ? content.slice(0, content.search(/<tool_call>|$/)) : content;
    if (c.length > this.sentContent) { out.push({ content: c.slice(this.sentContent) }); this.sentContent = c.length; }
    return out;
  }
}

/**
 * Streamed tool calls in OpenAI's shape: per call, a delta with its index, id, type and name
 * and empty arguments, then one with the arguments (clients append argument deltas).
 */
export function toolCallDeltas(calls: ToolCall[]): { tool_calls: Record<string, unknown>[] }[] {
  return calls.flatMap((t, index) => [
    { tool_calls: [{ index, id: t.id, type: t.type, function: { name: t.function.name, arguments: '' } }] },
    { tool_calls: [{ index, function: { arguments: t.function.arguments } }] },
  ]);
}
