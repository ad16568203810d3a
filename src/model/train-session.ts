// One training graph run per micro-batch. Its backward pass ends in one of three ways
// (BuildOptions.update): `adamw`, the whole optimizer step in the graph (weights, moments
// and gradients never leave ONNX Runtime); `accumulate`, gradients summed into resident
// accumulators that a small apply graph turns into the AdamW step (accumulation, data
// parallel); or `gradients`, returned to the caller (tests, tools).
import { AdamWScalars, ADAMW_SCALARS, moment } from '../graph/adamw.js';
import { ResidentState } from '../runtime/resident.js';
import { createSession, ort, resolveProvider, Session, SessionOptions } from '../runtime/session.js';
import { MiniMindConfig } from './config.js';
import { PositionInputs, trainIndexTensor } from './feeds.js';
import { accumulator, buildApplyGraph, buildTrainGraph, BuildOptions, targetFor } from './minimind.js';
import { numel, Params } from './params.js';

import type { Batch } from '../data/loader.js';
export type { Batch };
export interface StepResult {
  loss: number; lmLoss: number; auxLoss: number;
  /** global gradient norm before clipping (adamw) */
  gradNorm?: number;
  /** `gradients` mode only */
  grads: Map<string, Float32Array>; gradSumSq: number; logits?: Float32Array;
  /** every other output by name (metrics, seq_logps) */
  values: Record<string, Float32Array>;
}

export type Update = NonNullable<BuildOptions['update']>;

export class TrainSession {
  private weightFeeds: Record<string, ort.Tensor> = {};
  private positions: PositionInputs;
  readonly state: ResidentState;
  private constructor(readonly session: Session, private applier: Session | null, readonly trainable: string[],
    readonly shapes: Map<string, number[]>, readonly update: Update, c: MiniMindConfig) {
    this.positions = new PositionInputs(c);
    this.state = new ResidentState(session.provider);
  }

  /** whether the graph takes `loss_scale` */
  get lossScaled(): boolean { return this.session.ort.inputNames.includes('loss_scale'); }

  static async create(c: MiniMindConfig, build: BuildOptions = {}, so: SessionOptions = {}): Promise<TrainSession> {
    const update = build.update ?? 'gradients';
    const tg = buildTrainGraph(c, { target: targetFor(await resolveProvider(so.provider)), ...build });
    const shapes = new Map([...tg.params].map(([n, t]) => [n, t.shape as number[]]));
    const keep = (g: { outputs: { name: string }[] }) => g.outputs.map((o) => o.name).filter((n) => n.startsWith('new.'));
    // the arena: the same shapes every step, so it stops growing after the first, and the
    // step's big temporaries are not page-faulted in again on each run. The CLI gets most of
    // that from malloc's parameters already (cli/startup.ts); without them (the library used
    // directly, MINIMIND_MALLOC=default) a step took 19k-378k page faults, and the arena made
    // v1-small 4x512 ~4% faster with peak RSS 1.9 -> 1.7 GB
    so = { memArena: true, ...so };
    const session = await createSession(tg.graph, { ...so, deviceOutputs: keep(tg.graph) });
    let applier: Session | null = null;
    if (update === 'accumulate') {
      const ag = buildApplyGraph(new Map(tg.trainable.map((n) => [n, shapes.get(n)!])), tg.graph.floatType, build.lossScaling, session.provider === 'webgpu');
      applier = await createSession(ag, { ...so, provider: session.provider, quiet: true, deviceOutputs: keep(ag) });
    }
    return new TrainSession(session, applier, tg.trainable, shapes, update, c);
  }

  /**
   * Point the session at these weight arrays. Weights the session updates (and the optimizer
   * moments, zero, or accumulators) become resident state: on the CPU updated in place in
   * these very arrays.
   */
  bind(params: Params): void {
    this.weightFeeds = {};
    const updated = new Set(this.update === 'gradients' ? [] : this.trainable);
    for (const [name, shape] of this.shapes) {
      const a = params.get(name);
      if (!a) throw new Error(`missing weight "${name}"`);
      if (updated.has(name)) this.state.add(name, a, shape);
      else this.weightFeeds[name] = new ort.Tensor('float32', a, shape);
    }
    for (const name of updated) {
      const shape = this.shapes.get(name)!;
      const zeroed = [moment('m', name), moment('v', name), ...(this.update === 'accumulate' ? [accumulator(name)] : [])];
      for (const k of zeroed) this.state.add(k, new Float32Array(numel(shape)), shape);
    }
  }

  /**
   * Forward and backward of one micro-batch; with `adamw`, also the optimizer step (scalars
   * required). `lossScale` feeds a loss-scaling graph (BuildOptions.lossScaling).
   */
  async step(b: Pick<Batch, 'ids' | 'labels' | 'B' | 'T'>, extra: Record<string, ort.Tensor> = {}, scalars?: AdamWScalars, lossScale = 1): Promise<StepResult> {
    if (this.update === 'adamw' && !scalars) throw new Error('TrainSession.step: this graph updates the weights and needs the AdamW scalars');
    const feeds = { ...this.weightFeeds, ...this.positions.get(b.T), input_ids: trainIndexTensor(b.ids, [b.B, b.T]), labels: trainIndexTensor(b.labels, [b.B, b.T]), ...extra,
      ...(this.update === 'adamw' ? scalarFeeds(scalars!) : {}), ...(this.lossScaled ? { loss_scale: scalarTensor(lossScale) } : {}) };
    const out = await this.state.run(this.session, feeds);
    const grads = new Map<string, Float32Array>();
    if (this.update === 'gradients') for (const n of this.trainable) grads.set(n, out[`grad.${n}`].data as Float32Array);
    const num = (k: string) => (out[k] ? (out[k].data as Float32Array)[0] : 0);
    const values: Record<string, Float32Array> = {};
    for (const [k, v] of Object.entries(out)) if (!k.startsWith('grad.') && !k.startsWith('new.') && v.location === 'cpu') values[k] = v.data as Float32Array;
    return { loss: num('loss'), lmLoss: num('lm_loss'), auxLoss: num('aux_loss'), gradNorm: out.grad_norm ? num('grad_norm') : undefined,
      grads, gradSumSq: num('grad_sumsq'), logits: out.logits?.data as Float32Array | undefined, values };
  }

  /** `accumulate`: the summed gradients on the host, in `trainable` order (for the all-reduce). */
  async accumulators(): Promise<Float32Array[]> {
    return Promise.all(this.trainable.map((n) => this.state.read(accumulator(n))));
  }

  /** `accumulate`: replace the sums (after an all-reduce on a GPU provider's downloaded copies). */
  async setAccumulators(sums: Float32Array[]): Promise<void> {
    await Promise.all(this.trainable.map((n, i) => this.state.write(accumulator(n), sums[i])));
  }

  /** `accumulate`: the AdamW step from the summed gradients (scalars.grad_scale makes them a mean); zeroes the sums. Returns the gradient norm. */
  async apply(scalars: AdamWScalars): Promise<number> {
    if (!this.applier) throw new Error('TrainSession.apply: this graph does not accumulate gradients');
    const out = await this.state.run(this.applier, scalarFeeds(scalars));
    // the apply graph resets device-resident sums itself (buildApplyGraph's zeroSums)
    if (!this.state.onDevice) for (const n of this.trainable) this.state.zero(accumulator(n));
    return (out.grad_norm.data as Float32Array)[0];
  }

  /** The trained weights on the host (the CPU: the live arrays, updated in place by each step; a GPU: a download). */
  weights(): Promise<Map<string, Float32Array>> { return this.readAll((n) => n); }

  /** The trained weights and the optimizer's moments, on the host. */
  async snapshot(): Promise<{ weights: Map<string, Float32Array>; m: Map<string, Float32Array>; v: Map<string, Float32Array> }> {
    if (this.update === 'gradients') throw new Error('TrainSession.snapshot: this graph keeps no optimizer state');
    return { weights: await this.weights(), m: await this.readAll((n) => moment('m', n)), v: await this.readAll((n) => moment('v', n)) };
  }

  /** The resident tensor `name(w)` of each trained weight w, on the host. */
  private async readAll(name: (w: string) => string): Promise<Map<string, Float32Array>> {
    return new Map(await Promise.all(this.trainable.map(async (n) => [n, await this.state.read(name(n))] as const)));
  }

  /** Resume: overwrite weights and moments (absent moments stay zero). */
  async restore(weights: Map<string, Float32Array>, m: Map<string, Float32Array>, v: Map<string, Float32Array>): Promise<void> {
    for (const n of this.trainable) {
      await this.state.write(n, weights.get(n)!);
      const mn = m.get(n), vn = v.get(n);
      if (mn && vn) { await this.state.write(moment('m', n), mn); await this.state.write(moment('v', n), vn); }
    }
  }

  async release(): Promise<void> { await this.state.dispose(); await this.session.release(); await this.applier?.release(); }
}

const scalarTensor = (x: number) => new ort.Tensor('float32', new Float32Array([x]), []);
const scalarFeeds = (s: AdamWScalars) => Object.fromEntries(ADAMW_SCALARS.map((k) => [k, scalarTensor(s[k])]));
