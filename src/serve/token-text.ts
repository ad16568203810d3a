// Tokens as the `logprobs` fields show them. A token's text is its decoded string, or, where
// it holds only part of a UTF-8 character (byte-level BPE splits them), "bytes:\xe4\xbd" as
// OpenAI writes such tokens, so that no two tokens share a key in a top_logprobs map; its
// bytes are the raw ones. Completions (vLLM's format) also give each token's offset in the
// returned text, in characters (code points, as Python counts them).
import { bytesToUnicode } from '../tokenizer/bytes.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { Alternative } from './logprobs.js';

export interface TokenInfo {
  text: string;
  bytes: number[];
  /** false for special tokens, which answers' text leaves out */
  shown: boolean;
}

/** GPT-2's byte-level alphabet, reversed: the byte each character of a byte-level BPE token stands for. */
const BYTE_OF = new Map(bytesToUnicode().map((ch, b) => [ch, b]));

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class TokenTexts {
  private constructor(private infos: TokenInfo[]) {}

  static async load(tok: MiniTokenizer): Promise<TokenTexts> {
    const ids = Array.from({ length: tok.vocabSize }, (_, i) => i);
    const infos = await Promise.all(ids.map(async (id): Promise<TokenInfo> => {
      const [text, kept] = await Promise.all([tok.decode([id], false), tok.decode([id], true)]);
      let bytes = [...Buffer.from(text, 'utf8')];
      if (text.includes('\uFFFD')) {
        // part of a character: the token's own bytes, where its vocabulary entry is byte-level
        const raw = [...(tok.idToToken(id) ?? '')].map((ch) => BYTE_OF.get(ch));
        if (raw.length && raw.every((b) => b !== undefined)) bytes = raw as number[];
      }
      let shown: string;
      try { shown = utf8.decode(Uint8Array.from(bytes)); } catch { shown = `bytes:${bytes.map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`; }
      return { text: shown, bytes, shown: kept !== '' || text === '' };
    }));
    return new TokenTexts(infos);
  }

  info(id: number): TokenInfo { return this.infos[id] ?? { text: '', bytes: [], shown: false }; }
}

/** Offsets of tokens in the text they make, in code points: each call gives the next token's and moves past it. */
export class TextOffsets {
  constructor(private chars = 0) {}

  next(t: TokenInfo, inText = t.shown): number {
    if (!t.bytes.length) return this.chars;
    // a token that continues a character starts where that character does
    const at = (t.bytes[0] & 0xc0) === 0x80 ? Math.max(0, this.chars - 1) : this.chars;
    if (inText) for (const b of t.bytes) if ((b & 0xc0) !== 0x80) this.chars++;
    return at;
  }
}

/** A token with its log-probability (null for a prompt's first token) and the alternatives asked for. */
export interface ScoredToken { id: number; logprob: number | null; top: Alternative[] | null; offset: number }

/** vLLM's (and OpenAI's legacy) completions form; each top map also holds the token itself. */
export function completionLogprobs(texts: TokenTexts, toks: ScoredToken[]) {
  return {
    tokens: toks.map((t) => texts.info(t.id).text),
    token_logprobs: toks.map((t) => t.logprob),
    top_logprobs: toks.map((t) => t.top && Object.fromEntries([...t.top, { id: t.id, logprob: t.logprob! }].map((a) => [texts.info(a.id).text, a.logprob]))),
    text_offset: toks.map((t) => t.offset),
  };
}

/** OpenAI's chat form. */
export function chatLogprobs(texts: TokenTexts, toks: ScoredToken[]) {
  const one = (a: Alternative) => ({ token: texts.info(a.id).text, logprob: a.logprob, bytes: texts.info(a.id).bytes });
  return { content: toks.map((t) => ({ ...one({ id: t.id, logprob: t.logprob! }), top_logprobs: (t.top ?? []).map(one) })), refusal: null };
}
