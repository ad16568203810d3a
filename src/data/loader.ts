// Batches in a per-epoch shuffled order derived from a seed, addressed by (epoch, batch):
// a run resumed at a stored position sees exactly the batches an uninterrupted run sees.
import { Rng } from '../util/rng.js';
import { PairSamples, Sample, SampleSource } from './samples.js';

export interface Batch { ids: BigInt64Array; labels: BigInt64Array; B: number; T: number; /** positions with a label */ labelTokens: number }

export class Loader {
  readonly batchesPerEpoch: number;
  private perm: { epoch: number; order: Uint32Array } | null = null;

  constructor(readonly source: SampleSource, readonly batchSize: number, readonly seed: number, readonly shuffle = true) {
    this.batchesPerEpoch = Math.ceil(source.length / batchSize);
  }

  order(epoch: number): Uint32Array {
    if (this.perm?.epoch !== epoch) {
      const n = this.source.length;
      const order = this.shuffle ? new Rng(this.seed * 1000003 + epoch).permutation(n) : Uint32Array.from({ length: n }, (_, i) => i);
      this.perm = { epoch, order };
    }
    return this.perm.order;
  }

  /** sample indices of batch b of an epoch */
  indices(epoch: number, b: number): Uint32Array {
    const order = this.order(epoch);
    return order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
  }

  batch(epoch: number, b: number): Batch {
    return toBatch([...this.indices(epoch, b)].map((i) => this.source.get(i, epoch)), this.source.seqLen);
  }
}

/** Stack samples into a batch [B, T]. */
export function toBatch(samples: Sample[], T: number): Batch {
  const B = samples.length;
  const ids = new BigInt64Array(B * T), labels = new BigInt64Array(B * T);
  let labelTokens = 0;
  samples.forEach((smp, k) => {
    for (let t = 0; t < T; t++) {
      ids[k * T + t] = BigInt(smp.ids[t]);
      labels[k * T + t] = BigInt(smp.labels[t]);
      if (smp.labels[t] !== -100) labelTokens++;
    }
  });
  return { ids, labels, B, T, labelTokens };
}

/** Batches of DPO pairs: rows [chosen of each pair; rejected of each pair]. */
export function pairBatches(p: PairSamples, batchSize: number, seed: number): { batchesPerEpoch: number; batch(e: number, b: number): Batch } {
  const l = new Loader({ length: p.length, seqLen: p.seqLen, get: (i) => p.chosen(i), paddingShare: () => p.paddingShare() }, batchSize, seed);
  return {
    batchesPerEpoch: l.batchesPerEpoch,
    batch: (e, b) => { const idx = [...l.indices(e, b)]; return toBatch([...idx.map((i) => p.chosen(i, e)), ...idx.map((i) => p.rejected(i, e))], p.seqLen); },
  };
}
