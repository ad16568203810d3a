// Streaming detokenization: byte-level BPE splits multi-byte characters across tokens, so
// text is emitted only once it decodes without a trailing replacement character.
import { MiniTokenizer } from './tokenizer.js';

export class TextStream {
  private ids: number[] = [];
  private emitted = 0;
  constructor(private tok: MiniTokenizer, private skipSpecial = true) {}

  /** Add one token; returns the newly completed text (possibly ''). */
  async push(id: number): Promise<string> {
    this.ids.push(id);
    const text = await this.tok.decode(this.ids, this.skipSpecial);
    if (text.endsWith('\uFFFD')) return '';
    const fresh = text.slice(this.emitted);
    this.emitted = text.length;
    return fresh;
  }

  /** Whatever is left (an incomplete character at the very end is dropped). */
  async flush(): Promise<string> {
    const text = (await this.tok.decode(this.ids, this.skipSpecial)).replace(/\uFFFD+$/, '');
    const fresh = text.slice(this.emitted);
    this.emitted = text.length;
    return fresh;
  }
}
