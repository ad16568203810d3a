// The serving loop: requests wait in a bounded queue, join the batch between steps (up to
// maxBatch rows), each step samples one token per row, and finished or cancelled rows leave
// before the next step. Consumers read token ids from a channel per request; the loop never
// waits for them.
import { sample, SamplingOptions } from '../model/generate.js';
import { Rng } from '../util/rng.js';
import { BatchDecoder } from './batch-decoder.js';

export type Finish = 'stop' | 'length' | 'cancelled' | 'error';

export interface GenRequest {
  prompt: number[];
  /** new tokens at most (the context window bounds it too) */
  maxTokens: number;
  sampling: SamplingOptions;
  stopIds: number[];
}

/** One request's stream of token ids; iterate it, then read `finish`. */
export class Handle implements AsyncIterable<number> {
  private buf: number[] = [];
  private wake: (() => void) | null = null;
  private ended: Finish | null = null;
  private resolveDone!: (f: Finish) => void;
  readonly done: Promise<Finish> = new Promise((r) => { this.resolveDone = r; });
  error: Error | null = null;
  cancelled = false;
  /** tokens sampled so far (the stop token included) */
  generated = 0;
  queuedAt = performance.now();

  constructor(readonly req: GenRequest) {}

  push(id: number): void { this.buf.push(id); this.wake?.(); }
  end(f: Finish, err?: Error): void {
    if (this.ended) return;
    this.ended = f; this.error = err ?? null; this.resolveDone(f); this.wake?.();
  }
  get finish(): Finish | null { return this.ended; }
  /** Stop generating (client gone, or a stop sequence seen): the row leaves before the next step. */
  cancel(): void { this.cancelled = true; }

  async *[Symbol.asyncIterator](): AsyncIterator<number> {
    for (;;) {
      if (this.buf.length) { yield this.buf.shift()!; continue; }
      if (this.ended) return;
      await new Promise<void>((r) => { this.wake = r; });
      this.wake = null;
    }
  }
}

export class QueueFullError extends Error {}

interface Seq { h: Handle; key: number; seen: number[]; rng: Rng; stop: Set<number>; last: number }

export interface EngineOptions {
  maxBatch: number; maxQueue: number; contextWindow: number; vocabLimit: number;
  /** ms an idle engine waits after the first request for others to arrive and share its prefill run (default 3) */
  gatherMs?: number;
}

export class Engine {
  private pending: Handle[] = [];
  private active = new Map<number, Seq>();
  private running = false;
  /** counters for /health and the benchmark */
  stats = { steps: 0, tokens: 0, completed: 0, maxBatchSeen: 0 };

  constructor(private dec: BatchDecoder, readonly o: EngineOptions) {}

  /** requests waiting for a slot (those that take a free one at the next step are not) */
  get queued(): number { return Math.max(0, this.pending.length - Math.max(0, this.o.maxBatch - this.active.size)); }
  get batch(): number { return this.active.size; }

  /** Queue a request; throws QueueFullError when the queue is at its bound. */
  submit(req: GenRequest): Handle {
    if (this.queued >= this.o.maxQueue) throw new QueueFullError(`the server is busy: ${this.queued} requests queued (--max_queue)`);
    const h = new Handle(req);
    this.pending.push(h);
    if (!this.running) { this.running = true; void this.loop(); }
    return h;
  }

  private async loop(): Promise<void> {
    // clients that come together (a burst, or all of them after a batch finished at once)
    // reach submit() over a few ms: one prefill run for all of them, not one per client
    const gather = this.o.gatherMs ?? 3;
    if (gather > 0) await new Promise((r) => setTimeout(r, gather));
    try {
      while (this.pending.length || this.active.size) {
        this.dropCancelled();
        const admit = this.pending.splice(0, Math.max(0, this.o.maxBatch - this.active.size));
        if (admit.length) {
          const joined = await this.dec.join(admit.map((h) => h.req.prompt));
          joined.forEach(({ key, logits }, i) => {
            const h = admit[i];
            const s: Seq = { h, key, seen: [...h.req.prompt], rng: new Rng(h.req.sampling.seed ?? 0), stop: new Set(h.req.stopIds), last: -1 };
            this.active.set(key, s);
            this.next(s, logits);
          });
          this.leaveFinished();
        }
        if (!this.active.size) continue;
        this.stats.maxBatchSeen = Math.max(this.stats.maxBatchSeen, this.active.size);
        const logits = await this.dec.step(new Map([...this.active].map(([k, s]) => [k, s.last])));
        this.stats.steps++;
        for (const [k, l] of logits) this.next(this.active.get(k)!, l);
        this.leaveFinished();
      }
    } catch (e) {
      // a failed run fails the requests in it; the server goes on with a fresh batch
      for (const s of this.active.values()) s.h.end('error', e as Error);
      this.dec.leave([...this.active.keys()]);
      this.active.clear();
      if (this.pending.length) { void this.loop(); return; }
    }
    this.running = false;
  }

  /** Sample a row's next token from its logits. */
  private next(s: Seq, logits: Float32Array): void {
    const { h } = s;
    if (h.cancelled) return;
    for (let i = this.o.vocabLimit; i < logits.length; i++) logits[i] = -Infinity; // ids the tokenizer cannot decode
    const id = sample(logits, s.seen, h.req.sampling, s.rng);
    h.generated++;
    this.stats.tokens++;
    if (s.stop.has(id)) { h.end('stop'); return; }
    h.push(id);
    s.seen.push(id);
    s.last = id;
    if (h.generated >= h.req.maxTokens || h.req.prompt.length + h.generated >= this.o.contextWindow) h.end('length');
  }

  private dropCancelled(): void {
    this.pending = this.pending.filter((h) => { if (h.cancelled) h.end('cancelled'); return !h.cancelled; });
    this.leaveFinished();
  }

  private leaveFinished(): void {
    const gone: number[] = [];
    for (const [k, s] of this.active) {
      if (s.h.cancelled) s.h.end('cancelled');
      if (s.h.finish) { gone.push(k); this.active.delete(k); this.stats.completed++; }
    }
    if (gone.length) this.dec.leave(gone);
  }

  release(): Promise<void> { return this.dec.release(); }
}
