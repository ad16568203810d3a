// Token shards: every sample's tokens concatenated in tokens.bin (uint16 while the
// vocabulary fits, else uint32), an optional per-token loss mask in mask.bin, and the
// sample offsets in index.bin (uint64). Training reads any sample with one positioned
// read, so memory stays constant whatever the dataset size.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { DataError } from './lines.js';
import type { ChatMeta } from './variants.js';

export interface ShardMeta {
  format: 'minimind-shards-1';
  stage: string;
  samples: number;
  tokens: number;
  dtype: 'uint16' | 'uint32';
  has_mask: boolean;
  vocab_size: number;
  tokenizer: string;
  /** what processing counted: skipped lines, truncations, ... */
  stats: Record<string, number>;
  /** SFT: what assembling per-epoch variants needs (variants.bin) */
  chat?: ChatMeta;
}

export class ShardWriter {
  private tok: number; private mask: number | null; private index: number;
  private pendingOffsets: bigint[] = [];
  private total = 0;
  private count = 0;
  private tmpDir: string;
  constructor(private dir: string, private meta: Omit<ShardMeta, 'format' | 'samples' | 'tokens' | 'dtype' | 'has_mask' | 'stats'>, withMask: boolean) {
    this.tmpDir = `${dir}.tmp-${process.pid}`;
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
    this.tok = fs.openSync(path.join(this.tmpDir, 'tokens.bin'), 'w');
    this.mask = withMask ? fs.openSync(path.join(this.tmpDir, 'mask.bin'), 'w') : null;
    this.index = fs.openSync(path.join(this.tmpDir, 'index.bin'), 'w');
    this.pendingOffsets.push(0n);
  }

  /** offsets go to index.bin in chunks: memory stays constant whatever the dataset size */
  private flushIndex(): void {
    if (!this.pendingOffsets.length) return;
    fs.writeSync(this.index, new Uint8Array(BigUint64Array.from(this.pendingOffsets).buffer));
    this.pendingOffsets = [];
  }
  /** the directory being written (moved into place by close) */
  get stagingDir(): string { return this.tmpDir; }
  get dtype(): 'uint16' | 'uint32' { return this.meta.vocab_size <= 65536 ? 'uint16' : 'uint32'; }

  add(tokens: ArrayLike<number>, mask?: ArrayLike<number>): void {
    const arr = this.dtype === 'uint16' ? Uint16Array.from(tokens) : Uint32Array.from(tokens);
    fs.writeSync(this.tok, new Uint8Array(arr.buffer));
    if (this.mask) fs.writeSync(this.mask, Uint8Array.from(mask ?? new Array(tokens.length).fill(1)));
    this.total += tokens.length;
    this.count++;
    this.pendingOffsets.push(BigInt(this.total));
    if (this.pendingOffsets.length >= 65536) this.flushIndex();
  }

  get samples(): number { return this.count; }

  /** Finish and move the shards into place; returns the metadata. */
  close(stats: Record<string, number> = {}): ShardMeta {
    fs.closeSync(this.tok);
    if (this.mask !== null) fs.closeSync(this.mask);
    this.flushIndex();
    fs.closeSync(this.index);
    const meta: ShardMeta = { format: 'minimind-shards-1', ...this.meta, samples: this.samples, tokens: this.total, dtype: this.dtype, has_mask: this.mask !== null, stats };
    writeFileAtomic(path.join(this.tmpDir, 'meta.json'), JSON.stringify(meta, null, 2));
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.renameSync(this.tmpDir, this.dir);
    return meta;
  }

  abort(): void {
    try { fs.closeSync(this.tok); fs.closeSync(this.index); if (this.mask !== null) fs.closeSync(this.mask); } catch { /* already closed */ }
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

export class ShardReader {
  readonly meta: ShardMeta;
  private offsets: BigUint64Array;
  private tok: number; private mask: number | null;
  private width: number;

  constructor(readonly dir: string) {
    const metaFile = path.join(dir, 'meta.json');
    if (!fs.existsSync(metaFile)) throw new DataError(`${dir} is not a processed dataset (no meta.json); run \`minimind data-process\``);
    this.meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
    if (this.meta.format !== 'minimind-shards-1') throw new DataError(`${dir}: unknown dataset format ${JSON.stringify(this.meta.format)}`);
    const idx = fs.readFileSync(path.join(dir, 'index.bin'));
    this.offsets = new BigUint64Array(idx.buffer.slice(idx.byteOffset, idx.byteOffset + idx.byteLength));
    if (this.offsets.length !== this.meta.samples + 1) throw new DataError(`${dir}: index.bin has ${this.offsets.length - 1} samples, meta.json says ${this.meta.samples}`);
    this.width = this.meta.dtype === 'uint16' ? 2 : 4;
    this.tok = fs.openSync(path.join(dir, 'tokens.bin'), 'r');
    const tokBytes = fs.fstatSync(this.tok).size;
    if (tokBytes !== this.meta.tokens * this.width) throw new DataError(`${dir}: tokens.bin has ${tokBytes} bytes, expected ${this.meta.tokens * this.width} (truncated?)`);
    this.mask = this.meta.has_mask ? fs.openSync(path.join(dir, 'mask.bin'), 'r') : null;
  }

  get length(): number { return this.meta.samples; }
  sampleLength(i: number): number { return Number(this.offsets[i + 1] - this.offsets[i]); }

  /** Tokens (and mask) of sample i, or a range [start, start+n) of the token stream. */
  read(i: number): { tokens: Uint32Array; mask: Uint8Array | null } {
    const start = Number(this.offsets[i]), n = this.sampleLength(i);
    return this.readRange(start, n);
  }

  readRange(start: number, n: number): { tokens: Uint32Array; mask: Uint8Array | null } {
    const raw = Buffer.alloc(n * this.width);
    fs.readSync(this.tok, raw, 0, raw.length, start * this.width);
    const tokens = Uint32Array.from(this.width === 2 ? new Uint16Array(raw.buffer, raw.byteOffset, n) : new Uint32Array(raw.buffer, raw.byteOffset, n));
    let mask: Uint8Array | null = null;
    if (this.mask !== null) { mask = new Uint8Array(n); fs.readSync(this.mask, mask, 0, n, start); }
    return { tokens, mask };
  }

  close(): void { fs.closeSync(this.tok); if (this.mask !== null) fs.closeSync(this.mask); }
}

/** A short hash that changes when the shards' contents do: meta.json, the sample index, and
 * the first and last 64 KiB of the tokens (hashing all tokens would cost a pass over the data). */
export function dataFingerprint(dir: string): string {
  const h = crypto.createHash('sha256');
  h.update(fs.readFileSync(path.join(dir, 'meta.json')));
  h.update(fs.readFileSync(path.join(dir, 'index.bin')));
  const fd = fs.openSync(path.join(dir, 'tokens.bin'), 'r');
  try {
    const size = fs.fstatSync(fd).size, n = Math.min(size, 1 << 16), buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, 0); h.update(buf);
    fs.readSync(fd, buf, 0, n, size - n); h.update(buf);
  } finally { fs.closeSync(fd); }
  return h.digest('hex').slice(0, 16);
}
