// A GGUF file writer (llama.cpp's format, version 3): header, typed key/value metadata,
// tensor descriptors, then the tensor data, each block aligned to 32 bytes. Only what an
// export needs: scalar/string/array metadata and F32, F16, BF16 and Q8_0 tensors.
import fs from 'node:fs';
import { tmpName } from '../io/atomic.js';
import { halfBits } from './dtype.js';

export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: string[] }
  | { type: 'i32[]' | 'f32[]'; value: number[] };

/** GGML tensor types used here (ggml.h's enum ggml_type). */
export const GGML = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = (typeof GGML)[keyof typeof GGML];

export interface GgufTensor { name: string; shape: number[]; type: GgmlType; data: Uint8Array }

const ALIGN = 32;
const VT = { u8: 0, i32: 5, u32: 4, f32: 6, bool: 7, string: 8, array: 9, u64: 10 } as const;

class Bytes {
  private chunks: Buffer[] = [];
  length = 0;
  push(b: Buffer): void { this.chunks.push(b); this.length += b.length; }
  u32(v: number): void { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v: number): void { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v: number): void { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v: number): void { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s: string): void { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  pad(): void { const n = (ALIGN - (this.length % ALIGN)) % ALIGN; if (n) this.push(Buffer.alloc(n)); }
  concat(): Buffer { return Buffer.concat(this.chunks); }
}

function writeValue(o: Bytes, v: GgufValue): void {
  switch (v.type) {
    case 'u32': o.u32(VT.u32); o.u32(v.value); break;
    case 'i32': o.u32(VT.i32); o.i32(v.value); break;
    case 'u64': o.u32(VT.u64); o.u64(v.value); break;
    case 'f32': o.u32(VT.f32); o.f32(v.value); break;
    case 'bool': o.u32(VT.bool); o.push(Buffer.from([v.value ? 1 : 0])); break;
    case 'string': o.u32(VT.string); o.str(v.value); break;
    case 'string[]': o.u32(VT.array); o.u32(VT.string); o.u64(v.value.length); for (const s of v.value) o.str(s); break;
    case 'i32[]': o.u32(VT.array); o.u32(VT.i32); o.u64(v.value.length); for (const x of v.value) o.i32(x); break;
    case 'f32[]': o.u32(VT.array); o.u32(VT.f32); o.u64(v.value.length); for (const x of v.value) o.f32(x); break;
  }
}

/** Write a GGUF file atomically. Tensor shapes are row-major ([rows, cols]); GGUF stores them innermost first. */
export function writeGguf(file: string, meta: [string, GgufValue][], tensors: GgufTensor[]): void {
  const head = new Bytes();
  head.push(Buffer.from('GGUF', 'ascii'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(meta.length);
  for (const [k, v] of meta) { head.str(k); writeValue(head, v); }
  let off = 0;
  for (const t of tensors) {
    head.str(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(t.type);
    head.u64(off);
    off += t.data.length + ((ALIGN - (t.data.length % ALIGN)) % ALIGN);
  }
  head.pad();
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, head.concat());
    for (const t of tensors) {
      fs.writeSync(fd, t.data);
      const pad = (ALIGN - (t.data.length % ALIGN)) % ALIGN;
      if (pad) fs.writeSync(fd, Buffer.alloc(pad));
    }
    fs.fsyncSync(fd);
  } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, file);
}

/**
 * Q8_0: blocks of 32 values, each an f16 scale d = max|x|/127 followed by 32 int8 round(x/d)
 * (ggml's quantize_row_q8_0). Rows must be a multiple of 32 long.
 */
export function quantizeQ8_0(a: Float32Array): Uint8Array {
  if (a.length % 32 !== 0) throw new Error(`Q8_0 needs a multiple of 32 values, got ${a.length}`);
  const out = Buffer.alloc((a.length / 32) * 34);
  for (let b = 0; b < a.length / 32; b++) {
    let amax = 0;
    for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(a[b * 32 + i]));
    const f = Math.fround, d = f(amax / 127), id = d ? f(1 / d) : 0;
    out.writeUInt16LE(halfBits(d), b * 34);
    for (let i = 0; i < 32; i++) { const x = f(a[b * 32 + i] * id); out.writeInt8(Math.sign(x) * Math.round(Math.abs(x)), b * 34 + 2 + i); } // C roundf: halves away from zero
  }
  return out;
}

/** Dequantized values of Q8_0 blocks (what llama.cpp computes with). */
export function dequantizeQ8_0(q: Uint8Array, n: number): Float32Array {
  const b = Buffer.from(q.buffer, q.byteOffset, q.byteLength), out = new Float32Array(n);
  const f16 = (h: number) => { const e = (h >>> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1; return e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15); };
  for (let k = 0; k < n / 32; k++) { const d = f16(b.readUInt16LE(k * 34)); for (let i = 0; i < 32; i++) out[k * 32 + i] = d * b.readInt8(k * 34 + 2 + i); }
  return out;
}
