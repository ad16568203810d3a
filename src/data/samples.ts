// Training samples from token shards: each is `ids` [T] and `labels` [T] (the next token,
// or -100 where no loss is taken).
import { ShardReader } from './shards.js';

export interface Sample { ids: Int32Array; labels: Int32Array }
export interface SampleSource { readonly length: number; readonly seqLen: number; get(i: number): Sample; /** share of positions that are padding */ paddingShare(): number }

/**
 * Pretraining samples. `pad` (MiniMind's way): one document per sample, bos + text + eos
 * truncated to T+1 tokens and padded. `pack`: the documents' token stream cut into
 * windows of T+1, so no compute is spent on padding.
 */
export class PretrainSamples implements SampleSource {
  readonly length: number;
  constructor(private r: ShardReader, readonly seqLen: number, readonly mode: 'pad' | 'pack', private padId: number) {
    this.length = mode === 'pad' ? r.length : Math.max(0, Math.floor((r.meta.tokens - 1) / seqLen));
  }

  get(i: number): Sample {
    const T = this.seqLen;
    const ids = new Int32Array(T).fill(this.padId), labels = new Int32Array(T).fill(-100);
    if (this.mode === 'pack') {
      const { tokens } = this.r.readRange(i * T, T + 1);
      for (let t = 0; t < T; t++) { ids[t] = tokens[t]; labels[t] = tokens[t + 1]; }
      return { ids, labels };
    }
    const { tokens, mask } = this.r.read(i);
    let n = Math.min(tokens.length, T + 1);
    const toks = tokens.subarray(0, n);
    if (tokens.length > T + 1) toks[n - 1] = tokens[tokens.length - 1]; // keep eos when truncating, as MiniMind
    for (let t = 0; t + 1 < n; t++) { ids[t] = toks[t]; labels[t] = mask && !mask[t + 1] ? -100 : toks[t + 1]; }
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
