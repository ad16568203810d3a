// Streaming detokenization: byte-level BPE splits multi-byte characters across tokens, so
// text is emitted only once it decodes without a trailing replacement character. Each push
// decodes one short window, not the whole answer (which costs O(n^2) over a long answer):
// the tokens from `start` on, of which the first `shown` characters went out already. When
// the window grows long it moves up, keeping a few tokens of context so that a decoder's
// rules at the start of a text (a stripped leading space) see the same start as before.
import { MiniTokenizer } from './tokenizer.js';

const WINDOW = 16;   // tokens a window may grow to before it moves
const CONTEXT = 4;   // tokens it keeps when it moves

export class TextStream {
  private ids: number[] = [];
  private start = 0;
  private shown = 0;
  constructor(private tok: MiniTokenizer, private skipSpecial = true) {}

  /** Add one token; returns the newly completed text (possibly ''). */
  async push(id: number): Promise<string> {
    this.ids.push(id);
    const text = await this.tok.decode(this.ids.slice(this.start), this.skipSpecial);
    if (text.endsWith('\uFFFD')) return '';
    const fresh = text.slice(this.shown);
    this.shown = text.length;
    if (this.ids.length - this.start > WINDOW) {
      // everything so far is out and ends on a whole character: the context's text is the new offset
      this.start = this.ids.length - CONTEXT;
      this.shown = (await this.tok.decode(this.ids.slice(this.start), this.skipSpecial)).length;
    }
    return fresh;
  }

  /** Whatever is left (an incomplete character at the very end is dropped). */
  async flush(): Promise<string> {
    const text = (await this.tok.decode(this.ids.slice(this.start), this.skipSpecial)).replace(/\uFFFD+$/, '');
    const fresh = text.slice(this.shown);
    this.shown = Math.max(this.shown, text.length);
    return fresh;
  }
}
