// The CPU backend: ranks on one machine (or a network) over the rendezvous TCP sockets, in a
// star through rank 0. Rank 0 streams every other rank's values in chunks, sums them in rank
// order ((x0 + x1) + x2 ... in float32, then / world) into its own buffers and streams the
// result back; since one process computes it, every rank gets the same bits. The other ranks
// receive the result straight into their buffers.
import { CollectiveError, type Collective, type WorldEnv } from './collective.js';
import { disconnected, rendezvous, withTimeout, type Link } from './rendezvous.js';
import { bytesOf, decodeOp, encodeOp, Op, OP_HEADER_BYTES, OP_NAMES, writeAll } from './wire.js';

const CHUNK = 1 << 20; // values per reduction step (4 MB): bounds rank 0's staging memory

/** A run of values inside one caller buffer, placed at `at` in the current chunk. */
interface Piece { buf: Float32Array; start: number; n: number; at: number }

/** Split the buffers, as one stream of values, into chunks of at most CHUNK values. */
function* chunks(buffers: Float32Array[]): Generator<{ pieces: Piece[]; n: number }> {
  let pieces: Piece[] = [];
  let n = 0;
  for (const buf of buffers) {
    for (let start = 0; start < buf.length;) {
      const take = Math.min(buf.length - start, CHUNK - n);
      pieces.push({ buf, start, n: take, at: n });
      n += take;
      start += take;
      if (n === CHUNK) { yield { pieces, n }; pieces = []; n = 0; }
    }
  }
  if (n > 0) yield { pieces, n };
}

/** Sum the staged values of ranks 1.. into rank 0's values in rank order, then divide. */
function reduce(p: Piece, staged: Float32Array[], world: number): void {
  const d = p.buf;
  const end = p.start + p.n;
  if (staged.length === 1) {
    // world 2: times 0.5 is the same exact operation as / 2, and about twice as fast
    const a = staged[0];
    for (let i = p.start, j = p.at; i < end; i++, j++) d[i] = Math.fround(d[i] + a[j]) * 0.5;
    return;
  }
  for (let i = p.start, j = p.at; i < end; i++, j++) {
    let s = d[i];
    for (const a of staged) s = Math.fround(s + a[j]);
    d[i] = s / world;
  }
}

class CpuCollective implements Collective {
  readonly backend = 'cpu' as const;
  private seq = 0;
  private broken: Error | null = null;
  /** A rank that left while no collective needed it: the next collective fails with this. */
  private lost: Error | null = null;
  /** Ranks whose part in the running collective is not finished yet. */
  private pending = new Set<number>();
  private closed = false;
  private tail: Promise<unknown> = Promise.resolve();
  private staging: Float32Array[] = [];

  constructor(readonly rank: number, readonly world: number, private readonly links: Link[], private readonly timeoutMs: number) {
    // A rank that exits right after its last collective is normal (rank 0 may still be
    // sending to slower ranks); one that leaves while still needed fails the collective now.
    for (const l of links) {
      l.sock.on('close', () => {
        if (this.pending.has(l.rank)) this.fail(disconnected(l.rank));
        else this.lost ??= disconnected(l.rank);
      });
    }
  }

  allReduceMean(buffers: Float32Array[]): Promise<void> {
    return this.run(Op.AllReduceMean, buffers, () => (this.rank === 0 ? this.reduceRoot(buffers) : this.exchange(buffers, true)));
  }

  broadcast(buffers: Float32Array[]): Promise<void> {
    return this.run(Op.Broadcast, buffers, () => (this.rank === 0 ? this.broadcastRoot(buffers) : this.exchange(buffers, false)));
  }

  barrier(): Promise<void> {
    return this.run(Op.Barrier, [], async () => {
      if (this.rank !== 0) { await this.links[0].reader.read(OP_HEADER_BYTES); return; }
      const ack = encodeOp({ op: Op.Barrier, seq: 0, buffers: 0, elements: 0 });
      await Promise.all(this.links.map((l) => this.finish(l, [writeAll(l.sock, ack)])));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    for (const l of this.links) { l.sock.removeAllListeners('close'); l.sock.destroy(); }
  }

  /** One collective at a time, in call order, under the timeout; any failure breaks the world. */
  private run(op: Op, buffers: Float32Array[], body: () => Promise<void>): Promise<void> {
    const name = OP_NAMES[op];
    const p = this.tail.then(async () => {
      if (this.closed) throw new CollectiveError(`data parallel: ${name} called after close()`);
      if (this.broken) throw this.broken;
      if (this.lost) throw this.fail(this.lost);
      const seq = this.seq++;
      for (const l of this.links) this.pending.add(l.rank);
      const elements = buffers.reduce((s, b) => s + b.length, 0);
      const header = encodeOp({ op, seq, buffers: buffers.length, elements });
      const work = (async () => {
        if (this.rank === 0) await this.checkHeaders(header, name, buffers.length, elements);
        else await writeAll(this.links[0].sock, header);
        await body();
      })();
      try {
        await withTimeout(work, this.timeoutMs, () => this.fail(new CollectiveError(
          `data parallel: ${name} timed out after ${this.timeoutMs / 1000} s on rank ${this.rank} (another rank stopped or fell behind; MINIMIND_DIST_TIMEOUT sets the limit in seconds)`)));
      } catch (e) {
        throw this.fail(e as Error);
      } finally {
        this.pending.clear();
      }
    });
    this.tail = p.catch(() => {});
    return p;
  }

  /** Record the first failure, wake every pending read with it, and drop the sockets so the
   * other ranks learn at once instead of waiting for their timeout. */
  private fail(err: Error): Error {
    if (this.broken) return this.broken;
    this.broken = err instanceof CollectiveError ? err : new CollectiveError(`data parallel: ${err.message}`);
    for (const l of this.links) { l.reader.fail(this.broken); l.sock.destroy(); }
    return this.broken;
  }

  /** Rank 0: every rank must be in the same collective with the same shapes. */
  private async checkHeaders(mine: Buffer, name: string, buffers: number, elements: number): Promise<void> {
    const expect = decodeOp(mine)!;
    for (const l of this.links) {
      const h = decodeOp(await l.reader.read(OP_HEADER_BYTES));
      if (!h) throw new CollectiveError(`data parallel: rank ${l.rank} sent garbage (protocol out of step)`);
      if (h.op !== expect.op || h.seq !== expect.seq || h.buffers !== buffers || h.elements !== elements) {
        throw new CollectiveError(`data parallel: rank ${l.rank} called ${OP_NAMES[h.op] ?? '?'} #${h.seq} on ${h.buffers} buffers (${h.elements} values) ` +
          `while rank 0 called ${name} #${expect.seq} on ${buffers} buffers (${elements} values); every rank must make the same calls`);
      }
    }
  }

  private async reduceRoot(buffers: Float32Array[]): Promise<void> {
    if (this.links.length === 0) return; // world 1: the mean is the values
    const staged = this.links.map((_, i) => (this.staging[i] ??= new Float32Array(Math.min(CHUNK, buffers.reduce((s, b) => s + b.length, 0)))));
    const sent: Promise<void>[][] = this.links.map(() => []);
    for (const { pieces, n } of chunks(buffers)) {
      for (let i = 0; i < this.links.length; i++) {
        if (staged[i].length < n) staged[i] = this.staging[i] = new Float32Array(CHUNK);
        await this.links[i].reader.readInto(bytesOf(staged[i].subarray(0, n)));
      }
      for (const p of pieces) reduce(p, staged, this.world);
      this.links.forEach((l, i) => sent[i].push(...this.send(l, pieces.map((p) => p.buf.subarray(p.start, p.start + p.n)))));
    }
    await Promise.all(this.links.map((l, i) => this.finish(l, sent[i])));
  }

  private async broadcastRoot(buffers: Float32Array[]): Promise<void> {
    await Promise.all(this.links.map((l) => this.finish(l, this.send(l, buffers))));
  }

  /** Rank 0: once its writes to a rank are with the kernel, that rank may leave. */
  private async finish(l: Link, writes: Promise<void>[]): Promise<void> {
    await Promise.all(writes);
    this.pending.delete(l.rank);
  }

  /** Other ranks: send this rank's values (allReduceMean), then take the result in place. The
   * result of a region comes back only after rank 0 has received that region from this rank,
   * so overwriting it cannot race the send. */
  private async exchange(buffers: Float32Array[], contribute: boolean): Promise<void> {
    const l = this.links[0];
    const sent = contribute ? this.send(l, buffers) : [];
    for (const b of buffers) await l.reader.readInto(bytesOf(b));
    await this.finish(l, sent);
  }

  /** Queue views of the buffers (no copies) as one writev; resolves when the kernel has them. */
  private send(l: Link, views: Float32Array[]): Promise<void>[] {
    l.sock.cork();
    const done = views.filter((v) => v.length > 0).map((v) => writeAll(l.sock, bytesOf(v)));
    l.sock.uncork();
    return done;
  }
}

export async function connectCpu(w: WorldEnv, timeoutMs: number): Promise<Collective> {
  const links = w.world === 1 ? [] : (await rendezvous(w, timeoutMs)).links;
  return new CpuCollective(w.rank, w.world, links, timeoutMs);
}

/** For backends that reduce elsewhere but keep the rendezvous sockets (barrier, disconnects). */
export function cpuOverLinks(w: WorldEnv, links: Link[], timeoutMs: number): Collective {
  return new CpuCollective(w.rank, w.world, links, timeoutMs);
}
