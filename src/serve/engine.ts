// The serving loop: requests wait in a bounded queue, join the batch between steps (up to
// maxBatch rows), each step samples one token per row, and finished or cancelled rows leave
// before the next step. Consumers read token ids from a channel per request; the loop never
// waits for them. A request may ask for log-probabilities of its tokens and of its prompt
// (scoring), and may generate nothing (max_tokens 0: the prompt is only scored).
import { sample, SamplingOptions } from '../model/generate.js';
import { Rng } from '../util/rng.js';
import { BatchDecoder } from './batch-decoder.js';
import { promptLogprobs, TokenLogprob, tokenLogprob } from './logprobs.js';

export type Finish = 'stop' | 'length' | 'cancelled' | 'error';

export interface GenRequest {
  prompt: number[];
  /** new tokens at most (the context window bounds it too); 0: the prompt is only scored */
  maxTokens: number;
  sampling: SamplingOptions;
  stopIds: number[];
  /** log-probabilities of the generated tokens, with this many alternatives each */
  logprobs?: number;
  /** log-probabilities of the prompt's tokens (after the first), with this many alternatives each */
  promptLogprobs?: number;
}

/** One request's stream of token ids; iterate it, then read `finish`. */
export class Handle implements AsyncIterable<number> {
  private buf: number[] = [];
  /** with req.logprobs: one entry per token pushed, in order */
  readonly logprobs: TokenLogprob[] = [];
  /** with req.promptLogprobs: the prompt's entries, set before the first token */
  prompt: TokenLogprob[] | null = null;
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

  push(id: number, lp?: TokenLogprob): void {
    if (lp) this.logprobs.push(lp);
    this.buf.push(id); this.wake?.();
  }
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
  /** admitted, their prompts being prefilled: they hold batch slots already */
  private joining: Handle[] = [];
  private active = new Map<number, Seq>();
  private running = false;
  /** the loop's current run: release() waits for it (a session must not go while it runs) */
  private loopDone: Promise<void> = Promise.resolve();
  /** counters for /health and the benchmark */
  stats = { steps: 0, tokens: 0, completed: 0, maxBatchSeen: 0 };

  constructor(private dec: BatchDecoder, readonly o: EngineOptions) {}

  private get freeSlots(): number { return Math.max(0, this.o.maxBatch - this.active.size - this.joining.length); }
  /** requests waiting for a slot (those that take a free one at the next step are not) */
  get queued(): number { return Math.max(0, this.pending.length - this.freeSlots); }
  get batch(): number { return this.active.size; }

  /** Queue a request; throws QueueFullError when the queue is at its bound. */
  submit(req: GenRequest): Handle { return this.submitAll([req])[0]; }

  /** Queue requests together (a batch of prompts): all of them, or none when they would pass the queue's bound. */
  submitAll(reqs: GenRequest[]): Handle[] {
    if (this.pending.length + reqs.length - this.freeSlots > this.o.maxQueue) {
      throw new QueueFullError(`the server is busy: ${this.queued} requests queued (--max_queue)${reqs.length > 1 ? `, ${reqs.length} more asked` : ''}`);
    }
    const hs = reqs.map((r) => new Handle(r));
    this.pending.push(...hs);
    if (!this.running) { this.running = true; this.loopDone = this.loop(); }
    return hs;
  }

  private async loop(): Promise<void> {
    // clients that come together (a burst, or all of them after a batch finished at once)
    // reach submit() over a few ms: one prefill run for all of them, not one per client
    const gather = this.o.gatherMs ?? 3;
    if (gather > 0) await new Promise((r) => setTimeout(r, gather));
    try {
      while (this.pending.length || this.active.size) {
        this.dropCancelled();
        const admit = this.joining = this.pending.splice(0, this.freeSlots);
        if (admit.length) {
          const joined = await this.dec.join(admit.map((h) => h.req.prompt), admit.map((h) => h.req.promptLogprobs !== undefined));
          this.joining = [];
          joined.forEach(({ key, logits, positions }, i) => {
            const h = admit[i], { prompt, promptLogprobs: k } = h.req;
            const s: Seq = { h, key, seen: [...prompt], rng: new Rng(h.req.sampling.seed ?? 0), stop: new Set(h.req.stopIds), last: -1 };
            this.active.set(key, s);
            if (k !== undefined && positions) h.prompt = promptLogprobs(prompt, positions, this.dec.c.vocab_size, k, this.o.vocabLimit);
            if (h.req.maxTokens > 0) this.next(s, logits);
            else h.end('length'); // scoring only
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
      for (const h of [...this.joining, ...[...this.active.values()].map((s) => s.h)]) h.end('error', e as Error);
      this.joining = [];
      this.dec.leave([...this.active.keys()]);
      this.active.clear();
      if (this.pending.length) { this.loopDone = this.loop(); return; }
    }
    this.running = false;
  }

  /** Sample a row's next token from its logits. */
  private next(s: Seq, logits: Float32Array): void {
    const { h } = s;
    if (h.cancelled) return;
    const raw = h.req.logprobs !== undefined ? logits.slice() : null; // sampling masks and penalises in place
    for (let i = this.o.vocabLimit; i < logits.length; i++) logits[i] = -Infinity; // ids the tokenizer cannot decode
    const id = sample(logits, s.seen, h.req.sampling, s.rng);
    h.generated++;
    this.stats.tokens++;
    if (s.stop.has(id)) { h.end('stop'); return; }
    h.push(id, raw ? tokenLogprob(raw, id, h.req.logprobs!, this.o.vocabLimit) : undefined);
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

  /** Release the decoder once the loop is idle (cancel what runs first, or this waits for it to finish). */
  async release(): Promise<void> {
    let done;
    while (done !== this.loopDone) { done = this.loopDone; await done; }
    return this.dec.release();
  }
}
