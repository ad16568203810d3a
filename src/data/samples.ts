// Training samples from token shards: each is `ids` [T] and `labels` [T] (the next token,
// or -100 where no loss is taken).
import { assistantMask } from './chat.js';
import { DataError } from './lines.js';
import { ShardReader } from './shards.js';
import { assemble, ChatChoice, ChatSampling, drawChoice, VariantReader } from './variants.js';

export interface Sample { ids: Int32Array; labels: Int32Array }
export interface SampleSource { readonly length: number; readonly seqLen: number; get(i: number, epoch?: number): Sample; /** share of positions that are padding */ paddingShare(): number }

export interface SampleOptions {
  /**
   * Pretraining, as MiniMind's PretrainDataset: a truncated document keeps its final eos
   * (bos + the first tokens + eos), and a target that is the pad token gets no label.
   */
  pretrain?: boolean;
  /**
   * Tokens a padded sample holds: MiniMind's max_length. By default `seqLen`, as MiniMind's
   * pretraining and SFT run the model over all max_length tokens (the last one has no next
   * token to predict); DPO passes seqLen + 1 (MiniMind feeds ids[:-1] and predicts ids[1:]).
   */
  window?: number;
  /** SFT/DPO records: MiniMind's random system prompt and empty-think dropping, drawn per epoch */
  chat?: ChatSampling;
}

/**
 * Samples of token shards. `pad` (MiniMind's way): one sequence per sample truncated to
 * the window and padded. `pack`: the token stream cut into windows of T+1 tokens (T inputs,
 * T targets), so no compute is spent on padding. Where the shards carry a loss mask
 * (SFT, DPO), only masked tokens are labels. With `chat` sampling, records get MiniMind's
 * random system prompt and empty-think stripping, drawn per epoch (variants.ts), and the
 * loss mask of the assembled tokens.
 */
export class TokenSamples implements SampleSource {
  readonly length: number;
  /** tokens a padded sample holds (MiniMind's max_length) */
  readonly window: number;
  private variants: VariantReader | null = null;
  constructor(private r: ShardReader, readonly seqLen: number, readonly mode: 'pad' | 'pack', private padId: number, private o: SampleOptions = {}) {
    this.window = o.window ?? seqLen;
    if (this.window < 2 || this.window > seqLen + 1) throw new RangeError(`TokenSamples: a window of ${this.window} tokens does not fit ${seqLen} positions`);
    this.length = mode === 'pad' ? r.length : Math.max(0, Math.floor((r.meta.tokens - 1) / seqLen));
    if (o.chat && mode === 'pad') {
      if (!r.meta.chat || !VariantReader.exists(r.dir)) throw new DataError(`${r.dir} was processed by an older version (no variants.bin): run \`minimind data-process --stage ${r.meta.stage}\` again`);
      this.variants = new VariantReader(r.dir, r.length);
    }
  }

  /** the choice sample i gets in an epoch (null without chat sampling) */
  choice(i: number, epoch: number): ChatChoice | null {
    if (!this.variants || !this.o.chat) return null;
    return drawChoice(this.o.chat, epoch, i, this.variants.record(i).flags, this.r.meta.chat!.system_prompts.length);
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
      // MiniMind's generate_labels on the assembled tokens (cutting to the window first leaves the mask of the prefix unchanged)
      mask = Uint8Array.from(assistantMask(Array.from(tokens.subarray(0, this.window)), chat));
    }
    const n = Math.min(tokens.length, this.window);
    const toks = tokens.slice(0, n);
    if (this.o.pretrain && tokens.length > n) toks[n - 1] = tokens[tokens.length - 1]; // PretrainDataset's bos + text[:max_length-2] + eos
    for (let t = 0; t < Math.min(n, T); t++) ids[t] = toks[t];
    for (let t = 0; t + 1 < n; t++) {
      const next = toks[t + 1];
      // PretrainDataset labels every pad token -100 (labels[input_ids == pad_token_id] = -100)
      labels[t] = (mask && !mask[t + 1]) || (this.o.pretrain && next === this.padId) ? -100 : next;
    }
    return { ids, labels };
  }

  /** share of the positions without a token of the sample (padding, or no next token) */
  paddingShare(): number {
    if (this.mode === 'pack' || this.r.length === 0) return 0;
    let pad = 0;
    for (let i = 0; i < this.r.length; i++) pad += this.seqLen - (Math.min(this.r.sampleLength(i), this.window) - 1);
    return pad / (this.r.length * this.seqLen);
  }

  /** samples longer than the window (cut) */
  truncated(): number {
    if (this.mode === 'pack') return 0;
    let n = 0;
    for (let i = 0; i < this.r.length; i++) if (this.r.sampleLength(i) > this.window) n++;
    return n;
  }
}

/**
 * DPO pairs: shards hold chosen (2i) and rejected (2i+1) sequences with response masks.
 * As MiniMind's DPODataset, a sequence holds `maxLength` tokens and the model sees the
 * first maxLength - 1 (seqLen); with `chat` sampling each of the two drops its empty think
 * blocks on its own draw.
 */
export class PairSamples {
  readonly length: number;
  readonly seqLen: number;
  private inner: TokenSamples;
  constructor(r: ShardReader, maxLength: number, padId: number, chat?: ChatSampling) {
    this.seqLen = maxLength - 1;
    this.inner = new TokenSamples(r, this.seqLen, 'pad', padId, { window: maxLength, chat });
    this.length = Math.floor(r.length / 2);
  }
  chosen(i: number, epoch = 0): Sample { return this.inner.get(2 * i, epoch); }
  rejected(i: number, epoch = 0): Sample { return this.inner.get(2 * i + 1, epoch); }
  /** pair i with given choices for its chosen and rejected sequences (null: as stored) */
  getWith(i: number, chosen: ChatChoice | null, rejected: ChatChoice | null): [Sample, Sample] {
    return [this.inner.getWith(2 * i, chosen), this.inner.getWith(2 * i + 1, rejected)];
  }
  /** the choices pair i gets in an epoch */
  choices(i: number, epoch: number): [ChatChoice | null, ChatChoice | null] { return [this.inner.choice(2 * i, epoch), this.inner.choice(2 * i + 1, epoch)]; }
  paddingShare(): number { return this.inner.paddingShare(); }
}
