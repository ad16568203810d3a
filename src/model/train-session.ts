// One forward+backward of a training graph. Weights are wrapped as ORT tensors once and
// read in place, so the optimizer's in-place updates are seen by the next run.
import { createSession, ort, Session, SessionOptions } from '../runtime/session.js';
import { MiniMindConfig } from './config.js';
import { int64Tensor, PositionInputs } from './feeds.js';
import { buildTrainGraph, BuildOptions } from './minimind.js';
import { Params } from './params.js';

import type { Batch } from '../data/loader.js';
export type { Batch };
export interface StepResult {
  loss: number; lmLoss: number; auxLoss: number; grads: Map<string, Float32Array>; gradSumSq: number; logits?: Float32Array;
  /** every other output by name (metrics, seq_logps) */
  values: Record<string, Float32Array>;
}

export class TrainSession {
  private weightFeeds: Record<string, ort.Tensor> = {};
  private positions: PositionInputs;
  private constructor(readonly session: Session, readonly trainable: string[], readonly shapes: Map<string, number[]>, c: MiniMindConfig) {
    this.positions = new PositionInputs(c);
  }

  static async create(c: MiniMindConfig, build: BuildOptions = {}, so: SessionOptions = {}): Promise<TrainSession> {
    const tg = buildTrainGraph(c, build);
    const shapes = new Map([...tg.params].map(([n, t]) => [n, t.shape as number[]]));
    return new TrainSession(await createSession(tg.graph, so), tg.trainable, shapes, c);
  }

  /** Point the session at these weight arrays (call again after replacing an array). */
  bind(params: Params): void {
    this.weightFeeds = {};
    for (const [name, shape] of this.shapes) {
      const a = params.get(name);
      if (!a) throw new Error(`missing weight "${name}"`);
      this.weightFeeds[name] = new ort.Tensor('float32', a, shape);
    }
  }

  async step(b: Pick<Batch, 'ids' | 'labels' | 'B' | 'T'>, extra: Record<string, ort.Tensor> = {}): Promise<StepResult> {
    const feeds = { ...this.weightFeeds, ...this.positions.get(b.T), input_ids: int64Tensor(b.ids, [b.B, b.T]), labels: int64Tensor(b.labels, [b.B, b.T]), ...extra };
    const out = await this.session.run(feeds);
    const grads = new Map<string, Float32Array>();
    for (const n of this.trainable) grads.set(n, out[`grad.${n}`].data as Float32Array);
    const num = (k: string) => (out[k] ? (out[k].data as Float32Array)[0] : 0);
    const values: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(out)) if (!k.startsWith('grad.')) values[k] = v.data as Float32Array;
    return { loss: num('loss'), lmLoss: num('lm_loss'), auxLoss: num('aux_loss'), grads, gradSumSq: num('grad_sumsq'), logits: out.logits?.data as Float32Array | undefined, values };
  }

  release(): Promise<void> { return this.session.release(); }
}
