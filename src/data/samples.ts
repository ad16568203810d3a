// Training samples from token shards: each is `ids` [T] and `labels` [T] (the next token,
// or -100 where no loss is taken).
import { assistantMask } from './chat.js';
import { DataError } from './lines.js';
import { ShardReader } from './shards.js';
import { assemble, ChatChoice, ChatSampling, drawChoice, VariantReader } from './variants.js';

export interface Sample { ids: Int32Array; labels: Int32Array }
export interface SampleSource { readonly length: number; readonly seqLen: number; get(i: number, epoch?: number): Sample; /** share of positions that are padding */ paddingShare(): number }

/**
 * Samples of token shards. `pad` (MiniMind's way): one sequence per sample truncated to
 * T+1 tokens and padded; pretraining keeps the final eos when truncating. `pack`: the
 * token stream cut into windows of T+1, so no compute is spent on padding. Where the
 * shards carry a loss mask (SFT), only masked tokens are labels. With `chat` sampling,
 * SFT records get MiniMind's random system prompt and empty-think stripping, drawn per
 * epoch (variants.ts), and the loss mask of the assembled tokens.
 */
export class TokenSamples implements SampleSource {
  readonly length: number;
  private variants: VariantReader | null = null;
  constructor(private r: ShardReader, readonly seqLen: number, readonly mode: 'pad' | 'pack', private padId: number, private keepEos = true, private chat?: ChatSampling) {
    this.length = mode === 'pad' ? r.length : Math.max(0, Math.floor((r.meta.tokens - 1) / seqLen));
    if (chat && mode === 'pad') {
      if (!r.meta.chat || !VariantReader.exists(r.dir)) throw new DataError(`${r.dir} was processed by an older version (no variants.bin): run \`minimind data-process --stage sft\` again`);
      this.variants = new VariantReader(r.dir, r.length);
    }
  }

  /** the choice sample i gets in an epoch (null without chat sampling) */
  choice(i: number, epoch: number): ChatChoice | null {
    if (!this.variants || !this.chat) return null;
    return drawChoice(this.chat, epoch, i, this.variants.record(i).flags, this.r.meta.chat!.system_prompts.length);
  }

  get(i: number, epoch = 0): Sample {
    return this.getWith(i, this.mode === 'pad' ? this.choice(i, epoch) : null);
  }

  /** sample i under a given choice (null: the record as stored) */
  getWith(i: number, choice: ChatChoice | null): Sample {
    const T = this.seqLen;
    const ids = new Int32Array(T).fill(this.padId), labels = new Int32Array(T).fill(-100);
    if (this.mode === 'pack') {
      const { tokens } = this.r.readRange(i * T, T + 1);
      for (let t = 0; t < T; t++) { ids[t] = tokens[t]; labels[t] = tokens[t + 1]; }
      return { ids, labels };
    }
    let { tokens, mask } = this.r.read(i);
    if (choice && this.variants) {
      const chat = this.r.meta.chat!;
      tokens = assemble(tokens, this.variants.record(i), choice, chat);
      // MiniMind's generate_labels on the assembled tokens (a prefix is cut to T+1 first, which leaves the mask of the prefix unchanged)
      mask = Uint8Array.from(assistantMask(Array.from(tokens.subarray(0, this.seqLen + 1)), chat));
    }
    const n = Math.min(tokens.length, T + 1);
    const toks = tokens.subarray(0, n);
    if (this.keepEos && tokens.length > T + 1) toks[n - 1] = tokens[tokens.length - 1]; // keep eos when truncating, as MiniMind's pretraining
    for (let t = 0; t < n; t++) ids[t] = toks[t];
    for (let t = 0; t + 1 < n; t++) labels[t] = mask && !mask[t + 1] ? -100 : toks[t + 1];
    return { ids, labels };
  }

  paddingShare(): number {
    if (this.mode === 'pack' || this.r.length === 0) return 0;
    let pad = 0;
    for (let i = 0; i < this.r.length; i++) pad += Math.max(0, this.seqLen - (Math.min(this.r.sampleLength(i), this.seqLen + 1) - 1));
    return pad / (this.r.length * this.seqLen);
  }

  truncated(): number {
    if (this.mode === 'pack') return 0;
    let n = 0;
    for (let i = 0; i < this.r.length; i++) if (this.r.sampleLength(i) > this.seqLen + 1) n++;
    return n;
  }
}

/** DPO pairs: shards hold chosen (2i) and rejected (2i+1) sequences with response masks. */
export class PairSamples {
  readonly length: number;
  private inner: TokenSamples;
  constructor(r: ShardReader, readonly seqLen: number, padId: number) {
    this.inner = new TokenSamples(r, seqLen, 'pad', padId, false);
    this.length = Math.floor(r.length / 2);
  }
  chosen(i: number): Sample { return this.inner.get(2 * i); }
  rejected(i: number): Sample { return this.inner.get(2 * i + 1); }
  paddingShare(): number { return this.inner.paddingShare(); }
}
