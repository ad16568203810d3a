// Rollouts as a training batch: row i = prompt + completion, right-padded to the longest.
// Position t's label is the token after it where that is a sampled completion token (its
// log-probability trains), -100 elsewhere (prompt, interjected tokens, padding). So every
// per-token quantity of the RL losses (old, reference log-probs, values, advantages) sits
// at position prompt.length - 1 + k for completion token k, aligned with the labels, as
// MiniMind's logp_pos = prompt_lens - 1 + arange(R) gathers them. Rows are filled up with
// `fillId`: eos, as MiniMind's generate() fills finished rows (nothing reads those positions
// but a MoE layer's aux loss, which counts every position of the batch).
import { Batch } from '../data/loader.js';
import { RolloutRow } from './rollout.js';

export class RolloutBatch {
  readonly batch: Batch;
  constructor(readonly rows: RolloutRow[], fillId: number) {
    const B = rows.length, T = Math.max(...rows.map((r) => r.prompt.length + r.completion.length));
    const ids = new BigInt64Array(B * T).fill(BigInt(fillId)), labels = new BigInt64Array(B * T).fill(-100n);
    let labelTokens = 0;
    rows.forEach((r, b) => {
      const seq = [...r.prompt, ...r.completion];
      seq.forEach((id, t) => { ids[b * T + t] = BigInt(id); });
      r.completion.forEach((id, k) => { if (r.mask[k]) { labels[b * T + this.pos(b, k)] = BigInt(id); labelTokens++; } });
    });
    this.batch = { ids, labels, B, T, labelTokens };
  }

  /** the position whose label is row b's completion token k */
  pos(b: number, k: number): number { return this.rows[b].prompt.length - 1 + k; }

  /** per-completion-token values (row by row) as a [B, T] array at their positions, 0 elsewhere */
  spread(values: (b: number, k: number) => number): Float32Array {
    const { B, T } = this.batch, out = new Float32Array(B * T);
    for (let b = 0; b < B; b++) for (let k = 0; k < this.rows[b].completion.length; k++) out[b * T + this.pos(b, k)] = values(b, k);
    return out;
  }

  /** row b's completion-token values out of a [B, T] array */
  gather(a: Float32Array, b: number): number[] {
    const T = this.batch.T;
    return this.rows[b].completion.map((_, k) => a[b * T + this.pos(b, k)]);
  }

  /** sampled (trained) tokens of row b */
  trained(b: number): number { return this.rows[b].mask.reduce((s, m) => s + m, 0); }
}
