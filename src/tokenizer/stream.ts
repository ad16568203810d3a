// Streaming detokenization: byte-level BPE splits multi-byte characters across tokens, so
// text is emitted only once it decodes without a trailing replacement character. Each push
// decodes a short window, not the whole answer (which would cost O(n^2) over a long
// answer): the tokens from `prefix` on, where ids[prefix, read) were emitted last time and
// serve as context, so that a decoder's rule at the start of a text (a stripped leading
// space) applies to both decodes alike and the new text is the difference.
import { MiniTokenizer } from './tokenizer.js';

export class TextStream {
  private ids: number[] = [];
  private prefix = 0;
  private read = 0;
  constructor(private tok: MiniTokenizer, private skipSpecial = true) {}

  /** Add one token; returns the newly completed text (possibly ''). */
  async push(id: number): Promise<string> {
    this.ids.push(id);
    const text = await this.tok.decode(this.ids.slice(this.prefix), this.skipSpecial);
    if (text.endsWith('\uFFFD')) return '';
    return this.advance(text);
  }

  /** Whatever is left (an incomplete character at the very end is dropped). */
  async flush(): Promise<string> {
    return this.advance((await this.tok.decode(this.ids.slice(this.prefix), this.skipSpecial)).replace(/\uFFFD+$/, ''));
  }

  /** The part of `text` (the window decoded) past what was emitted; moves the window on. */
  private async advance(text: string): Promise<string> {
    const before = this.read > this.prefix ? await this.tok.decode(this.ids.slice(this.prefix, this.read), this.skipSpecial) : '';
    if (text.length <= before.length) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return text.slice(before.length);
  }
}
