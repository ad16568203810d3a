// Byte-level plumbing for the TCP backend: a reader that copies socket chunks straight into
// the caller's destination (no reassembly of whole messages), flow-controlled so a fast
// sender cannot queue 100 MB in this process, and the fixed-size headers both sides exchange.
import type net from 'node:net';

const HIGH_WATER = 16 << 20; // pause the socket above this many queued bytes
const LOW_WATER = 4 << 20;

export class SocketReader {
  private queue: Buffer[] = [];
  private queued = 0;
  private wake: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(private readonly sock: net.Socket) {
    sock.on('data', (b: Buffer) => {
      this.queue.push(b);
      this.queued += b.length;
      if (this.queued > HIGH_WATER) sock.pause();
      this.notify();
    });
  }

  /** Every pending and later read that lacks data rejects with `err`. */
  fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  /** Fill `dst` completely from the stream. */
  async readInto(dst: Uint8Array): Promise<void> {
    let off = 0;
    while (off < dst.length) {
      if (this.queue.length === 0) {
        if (this.failure) throw this.failure;
        if (this.sock.isPaused()) this.sock.resume();
        await new Promise<void>((resolve) => { this.wake = resolve; });
        continue;
      }
      const head = this.queue[0];
      const n = Math.min(head.length, dst.length - off);
      dst.set(n === head.length ? head : head.subarray(0, n), off);
      off += n;
      if (n === head.length) this.queue.shift(); else this.queue[0] = head.subarray(n);
      this.queued -= n;
    }
    if (this.sock.isPaused() && this.queued < LOW_WATER) this.sock.resume();
  }

  async read(n: number): Promise<Buffer> {
    const b = Buffer.alloc(n);
    await this.readInto(b);
    return b;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** Resolves once the socket has handed `data` to the kernel (until then it must not change). */
export function writeAll(sock: net.Socket, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

export function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export const MAGIC_HELLO = 0x4d4d4849; // 'MMHI'
export const MAGIC_WELCOME = 0x4d4d4f4b; // 'MMOK'
export const MAGIC_OP = 0x4d4d4f50; // 'MMOP'

export enum Op { AllReduceMean = 1, Broadcast = 2, Barrier = 3 }
export const OP_NAMES: Record<number, string> = { 1: 'allReduceMean', 2: 'broadcast', 3: 'barrier' };

/** What a rank announces before each collective, so rank 0 catches ranks that diverged. */
export interface OpHeader { op: Op; seq: number; buffers: number; elements: number }
export const OP_HEADER_BYTES = 24;

export function encodeOp(h: OpHeader): Buffer {
  const b = Buffer.alloc(OP_HEADER_BYTES);
  b.writeUInt32LE(MAGIC_OP, 0);
  b.writeUInt32LE(h.op, 4);
  b.writeUInt32LE(h.seq >>> 0, 8);
  b.writeUInt32LE(h.buffers, 12);
  b.writeDoubleLE(h.elements, 16);
  return b;
}

export function decodeOp(b: Buffer): OpHeader | null {
  if (b.readUInt32LE(0) !== MAGIC_OP) return null;
  return { op: b.readUInt32LE(4), seq: b.readUInt32LE(8), buffers: b.readUInt32LE(12), elements: b.readDoubleLE(16) };
}
