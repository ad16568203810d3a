// OpenAI request bodies: field types checked one by one (unknown fields are ignored, as
// OpenAI-compatible servers do), errors in OpenAI's shape with the field as `param`.
import { ChatMessage } from '../tokenizer/tokenizer.js';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null,
    readonly type = status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error') {
    super(message);
  }
  /** headers the answer carries (Allow on a 405) */
  headers: Record<string, string> = {};
  with(headers: Record<string, string>): this { Object.assign(this.headers, headers); return this; }
  get body() { return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }; }
}

type Body = Record<string, unknown>;

const MAX_STOPS = 16;
/** alternatives per token at most (OpenAI's chat limit; vLLM's default --max-logprobs) */
export const MAX_LOGPROBS = 20;

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const bad = (param: string, want: string, v: unknown) => new ApiError(400, `Invalid type for '${param}': expected ${want}, but got ${typeName(v)}.`, param, 'invalid_type');

function num(b: Body, k: string, lo: number, hi: number, int = false): number | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw bad(k, int ? 'an integer' : 'a number', v);
  // JSON numbers past float64's range (1e400) parse as Infinity
  if (!Number.isFinite(v)) throw new ApiError(400, `'${k}' must be between ${lo} and ${hi}; the number given is too large to represent.`, k, 'invalid_value');
  if (int && !Number.isInteger(v)) throw new ApiError(400, `'${k}' must be an integer, got ${v}.`, k, 'invalid_type');
  if (v < lo || v > hi) throw new ApiError(400, `'${k}' must be between ${lo} and ${hi}, got ${v}.`, k, 'invalid_value');
  return v;
}

function bool(b: Body, k: string): boolean | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(k, 'a boolean', v);
  return v;
}

function str(b: Body, k: string): string | undefined {
  const v = b[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(k, 'a string', v);
  return v;
}

export interface Sampling {
  model?: string; stream: boolean; includeUsage: boolean; temperature: number; topP: number; topK: number;
  repetitionPenalty: number; maxTokens: number | null; stop: string[]; seed: number;
  /** vLLM's extension: generate max_tokens even past the end-of-text token (benchmarks) */
  ignoreEos: boolean;
}

function sampling(b: Body): Sampling {
  const stopV = b.stop;
  let stop: string[] = [];
  if (typeof stopV === 'string') stop = [stopV];
  else if (Array.isArray(stopV)) {
    // OpenAI takes 4; vLLM any number, and evaluation harnesses send their stop lists and the EOS string
    if (stopV.length > MAX_STOPS || stopV.some((s) => typeof s !== 'string')) throw new ApiError(400, `'stop' must be a string or an array of at most ${MAX_STOPS} strings.`, 'stop', 'invalid_value');
    stop = stopV as string[];
  } else if (stopV !== undefined && stopV !== null) throw bad('stop', 'a string or an array of strings', stopV);
  stop = stop.filter((s) => s.length);
  const so = b.stream_options;
  if (so !== undefined && so !== null && (typeof so !== 'object' || Array.isArray(so))) throw bad('stream_options', 'an object', so);
  const includeUsage = so ? bool(so as Body, 'include_usage') ?? false : false;
  const n = num(b, 'n', 1, 1, true);
  void n; // one choice per request
  const max = num(b, 'max_tokens', -1, 2 ** 31, true) ?? num(b, 'max_completion_tokens', -1, 2 ** 31, true);
  return {
    model: str(b, 'model'), stream: bool(b, 'stream') ?? false, includeUsage,
    temperature: num(b, 'temperature', 0, 2) ?? 0.7, topP: num(b, 'top_p', 0, 1) ?? 0.92, topK: num(b, 'top_k', 0, 1e9, true) ?? 0,
    repetitionPenalty: num(b, 'repetition_penalty', 0.01, 100) ?? 1,
    maxTokens: max === undefined || max === -1 ? null : max, stop, ignoreEos: bool(b, 'ignore_eos') ?? false,
    seed: num(b, 'seed', -(2 ** 53), 2 ** 53, true) ?? Math.floor(Math.random() * 2 ** 32),
  };
}

export interface ChatRequest extends Sampling {
  messages: ChatMessage[]; tools: unknown[]; thinking: boolean;
  /** alternatives per generated token; undefined: no logprobs */
  logprobs?: number;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

/** Message content: a string, null (assistant with tool calls) or text parts. */
function content(v: unknown, i: number): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    return v.map((p, j) => {
      const part = p as Body;
      if (!part || typeof part !== 'object' || part.type !== 'text' || typeof part.text !== 'string') {
        throw new ApiError(400, `messages[${i}].content[${j}]: only text parts ({"type": "text", "text": ...}) are supported.`, `messages[${i}].content`, 'invalid_value');
      }
      return part.text;
    }).join('');
  }
  throw bad(`messages[${i}].content`, 'a string or an array of text parts', v);
}

export function parseChatRequest(b: Body): ChatRequest {
  const msgs = b.messages;
  if (msgs === undefined) throw new ApiError(400, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  if (!Array.isArray(msgs)) throw bad('messages', 'an array', msgs);
  if (!msgs.length) throw new ApiError(400, "'messages' must contain at least one message.", 'messages', 'empty_array');
  const messages = msgs.map((m, i): ChatMessage => {
    if (!m || typeof m !== 'object' || Array.isArray(m)) throw bad(`messages[${i}]`, 'an object', m);
    const r = (m as Body).role;
    if (typeof r !== 'string' || !ROLES.has(r)) throw new ApiError(400, `messages[${i}].role must be one of system, user, assistant, tool (got ${JSON.stringify(r)}).`, `messages[${i}].role`, 'invalid_value');
    const out: ChatMessage = { role: r === 'developer' ? 'system' : r, content: content((m as Body).content, i) };
    const rc = (m as Body).reasoning_content;
    if (typeof rc === 'string') out.reasoning_content = rc;
    const tc = (m as Body).tool_calls;
    if (tc !== undefined && tc !== null) { if (!Array.isArray(tc)) throw bad(`messages[${i}].tool_calls`, 'an array', tc); out.tool_calls = tc; }
    return out;
  });
  const tools = b.tools;
  if (tools !== undefined && tools !== null && !Array.isArray(tools)) throw bad('tools', 'an array', tools);
  const kw = b.chat_template_kwargs;
  if (kw !== undefined && kw !== null && (typeof kw !== 'object' || Array.isArray(kw))) throw bad('chat_template_kwargs', 'an object', kw);
  const thinking = bool(b, 'enable_thinking') ?? bool(b, 'open_thinking')
    ?? (kw ? bool(kw as Body, 'enable_thinking') ?? bool(kw as Body, 'open_thinking') : undefined) ?? false;
  // OpenAI tools are {type: 'function', function: {...}}; the template lists the functions
  const fns = ((tools as unknown[] | undefined) ?? []).map((t) => ((t as Body)?.function ?? t));
  const s = sampling(b);
  if (s.maxTokens === 0) throw new ApiError(400, "'max_tokens' must be at least 1 (or -1 for the context window).", 'max_tokens', 'invalid_value');
  const top = num(b, 'top_logprobs', 0, MAX_LOGPROBS, true);
  const want = bool(b, 'logprobs') ?? false;
  if (top !== undefined && !want) throw new ApiError(400, "'top_logprobs' needs 'logprobs' set to true.", 'top_logprobs', 'invalid_value');
  return { ...s, messages, tools: fns, thinking, logprobs: want ? top ?? 0 : undefined };
}

/** A prompt as text (the server puts BOS before it) or as token ids (taken as given). */
export type Prompt = string | number[];

export interface CompletionRequest extends Sampling {
  prompts: Prompt[];
  /** alternatives per token; undefined: no logprobs */
  logprobs?: number;
  /** the answer's text and logprobs start with the prompt's */
  echo: boolean;
}

const isIds = (v: unknown): v is unknown[] => Array.isArray(v) && v.length > 0 && typeof v[0] !== 'string' && !Array.isArray(v[0]);

/** OpenAI's prompt forms: a string, token ids, or a batch of either. */
function prompts(p: unknown): Prompt[] {
  if (p === undefined || p === null) throw new ApiError(400, "Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  const list = typeof p === 'string' || isIds(p) ? [p] : p;
  if (!Array.isArray(list)) throw bad('prompt', 'a string, an array of token ids, or an array of either', p);
  if (!list.length) throw new ApiError(400, "'prompt' must not be empty.", 'prompt', 'empty_array');
  return list.map((q, i) => {
    if (typeof q === 'string') return q;
    const param = list === p ? `prompt[${i}]` : 'prompt';
    if (!Array.isArray(q)) throw bad(param, 'a string or an array of token ids', q);
    if (!q.length) throw new ApiError(400, `'${param}' must not be an empty list of tokens.`, param, 'empty_array');
    const j = q.findIndex((t) => typeof t !== 'number' || !Number.isInteger(t) || t < 0);
    if (j >= 0) throw new ApiError(400, `'${param}[${j}]' must be a token id (an integer >= 0), got ${JSON.stringify(q[j])}.`, param, 'invalid_value');
    return q as number[];
  });
}

export function parseCompletionRequest(b: Body): CompletionRequest {
  const ps = prompts(b.prompt);
  const s = sampling(b), echo = bool(b, 'echo') ?? false;
  if (s.maxTokens === 0 && !echo) throw new ApiError(400, "'max_tokens' must be at least 1 (or -1 for the context window); 0 only with 'echo' (scoring the prompt).", 'max_tokens', 'invalid_value');
  return { ...s, prompts: ps, logprobs: num(b, 'logprobs', 0, MAX_LOGPROBS, true), echo };
}
