// Per-epoch random choices of MiniMind's SFTDataset on pre-tokenized shards. A record is
// stored once (tokens.bin: no added system prompt, empty think blocks kept); beside it
// variants.bin holds what the alternatives need, and a sample is assembled when it is read:
//   - a system prompt: its tokens are a prefix (`<|im_start|>system\n...<|im_end|>\n`
//     before a text that starts with the special `<|im_start|>`, where byte-level BPE
//     splits), tokenized once per prompt and kept in meta.json;
//   - without the empty think blocks: the token spans to cut from the record, checked at
//     processing time against the tokens of the stripped text; where cutting would not
//     give exactly those tokens, the stripped variant's own tokens are stored instead.
// The choice for record i in an epoch comes from an Rng keyed on (seed, epoch, i), so a
// resumed run reads exactly the samples an uninterrupted one reads.
import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../util/rng.js';
import { DataError } from './lines.js';

/** record flags */
export const CAN_ADD_SYSTEM = 1, HAS_EMPTY_THINK = 2, STRIPPED_STORED = 4;

/** What a processed SFT dataset needs to assemble samples (in meta.json). */
export interface ChatMeta {
  /** token ids of each system prompt's block, in MiniMind's order */
  system_prompts: number[][];
  /** assistant span markers for the loss mask (MiniMind's generate_labels) */
  open: number[];
  close: number[];
}

export interface ChatSampling {
  seed: number;
  /** share of eligible conversations given a random system prompt (MiniMind: 0.2) */
  systemPromptRatio: number;
  /** share of samples that keep their empty think blocks (MiniMind: 0.2) */
  emptyThinkRatio: number;
}

/** -1: no system prompt, else its index; stripThink: drop the empty think blocks */
export interface ChatChoice { system: number; stripThink: boolean }

/** Flat [start, end, ...] spans of `a` whose removal leaves `b`, or null when `b` is not a subsequence of `a`. */
export function cutSpans(a: ArrayLike<number>, b: ArrayLike<number>): number[] | null {
  const cuts: number[] = [];
  let j = 0, open = -1;
  for (let i = 0; i < a.length; i++) {
    if (j < b.length && a[i] === b[j]) {
      j++;
      if (open >= 0) { cuts.push(open, i); open = -1; }
    } else if (open < 0) open = i;
  }
  if (j < b.length) return null;
  if (open >= 0) cuts.push(open, a.length);
  return cuts;
}

/** The words variants.bin keeps for one record. */
export function variantWords(flags: number, base: number[], stripped: number[] | null): number[] {
  if (!stripped) return [flags & ~HAS_EMPTY_THINK];
  const cuts = cutSpans(base, stripped);
  if (cuts) return [flags | HAS_EMPTY_THINK, cuts.length / 2, ...cuts];
  return [flags | HAS_EMPTY_THINK | STRIPPED_STORED, 0, ...stripped];
}

/** A well-mixed 32-bit seed of (seed, epoch, record). */
/** A 32-bit seed for the draws of record i in an epoch. */
export function drawKey(seed: number, epoch: number, i: number): number {
  let h = 0x811c9dc5;
  for (const w of [seed, epoch, i]) {
    h = Math.imul(h ^ (w >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  return h;
}

/** MiniMind's draws for record i in an epoch: a system prompt, then whether to strip the empty think blocks. */
export function drawChoice(s: ChatSampling, epoch: number, i: number, flags: number, prompts: number): ChatChoice {
  const rng = new Rng(drawKey(s.seed, epoch, i));
  let system = -1;
  if (flags & CAN_ADD_SYSTEM && prompts > 0 && rng.next() < s.systemPromptRatio) system = rng.int(prompts);
  // post_processing_chat strips when random() > empty_think_ratio
  const stripThink = (flags & HAS_EMPTY_THINK) !== 0 && rng.next() > s.emptyThinkRatio;
  return { system, stripThink };
}

export class VariantWriter {
  private fd: number; private index: number;
  private offsets: bigint[] = [0n];
  private total = 0;
  constructor(dir: string) {
    this.fd = fs.openSync(path.join(dir, 'variants.bin'), 'w');
    this.index = fs.openSync(path.join(dir, 'variants_index.bin'), 'w');
  }
  private flushIndex(): void {
    if (this.offsets.length) fs.writeSync(this.index, new Uint8Array(BigUint64Array.from(this.offsets).buffer));
    this.offsets = [];
  }
  add(words: number[]): void {
    fs.writeSync(this.fd, new Uint8Array(Uint32Array.from(words).buffer));
    this.total += words.length;
    this.offsets.push(BigInt(this.total));
    if (this.offsets.length >= 65536) this.flushIndex();
  }
  close(): void { this.flushIndex(); fs.closeSync(this.fd); fs.closeSync(this.index); }
}

export interface VariantRecord { flags: number; cuts: Uint32Array; stripped: Uint32Array | null }

export class VariantReader {
  private fd: number;
  private offsets: BigUint64Array;
  constructor(dir: string, samples: number) {
    const idx = fs.readFileSync(path.join(dir, 'variants_index.bin'));
    this.offsets = new BigUint64Array(idx.buffer.slice(idx.byteOffset, idx.byteOffset + idx.byteLength));
    if (this.offsets.length !== samples + 1) throw new DataError(`${dir}: variants_index.bin has ${this.offsets.length - 1} records, meta.json says ${samples}`);
    this.fd = fs.openSync(path.join(dir, 'variants.bin'), 'r');
  }

  static exists(dir: string): boolean { return fs.existsSync(path.join(dir, 'variants_index.bin')); }

  record(i: number): VariantRecord {
    const start = Number(this.offsets[i]), n = Number(this.offsets[i + 1]) - start;
    const w = new Uint32Array(n);
    fs.readSync(this.fd, new Uint8Array(w.buffer), 0, 4 * n, 4 * start);
    const flags = w[0];
    if (!(flags & HAS_EMPTY_THINK)) return { flags, cuts: new Uint32Array(0), stripped: null };
    if (flags & STRIPPED_STORED) return { flags, cuts: new Uint32Array(0), stripped: w.subarray(2) };
    return { flags, cuts: w.subarray(2, 2 + 2 * w[1]), stripped: null };
  }

  close(): void { fs.closeSync(this.fd); }
}

/** The tokens of a record under a choice. */
export function assemble(base: Uint32Array, v: VariantRecord, c: ChatChoice, meta: ChatMeta): Uint32Array {
  let body = base;
  if (c.stripThink && v.flags & HAS_EMPTY_THINK) {
    if (v.stripped) body = v.stripped;
    else {
      let removed = 0;
      for (let k = 0; k < v.cuts.length; k += 2) removed += v.cuts[k + 1] - v.cuts[k];
      body = new Uint32Array(base.length - removed);
      let at = 0, from = 0;
      for (let k = 0; k <= v.cuts.length; k += 2) {
        const to = k < v.cuts.length ? v.cuts[k] : base.length;
        body.set(base.subarray(from, to), at);
        at += to - from;
        from = v.cuts[k + 1];
      }
    }
  }
  if (c.system < 0 || !(v.flags & CAN_ADD_SYSTEM)) return body;
  const prefix = meta.system_prompts[c.system];
  const out = new Uint32Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}
