// The safetensors format: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw little-endian data. Our own small
// reader/writer, validating everything a truncated or foreign file could get wrong.
import fs from 'node:fs';
import { tmpName } from './atomic.js';

export type STDtype = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
const ITEM: Record<STDtype, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
export interface NamedTensor { dtype: STDtype; shape: number[]; data: TensorData }
export type TensorMap = Map<string, NamedTensor>;

export class SafetensorsError extends Error {}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

function decode(dtype: STDtype, bytes: Uint8Array): TensorData {
  // an explicit copy: Buffer.slice shares memory, and typed views need aligned, owned buffers
  const copy = () => { const c = new Uint8Array(bytes.length); c.set(bytes); return c.buffer; };
  switch (dtype) {
    case 'F32': return new Float32Array(copy());
    case 'F64': return new Float64Array(copy());
    case 'I64': return new BigInt64Array(copy());
    case 'I32': return new Int32Array(copy());
    case 'U8': case 'BOOL': case 'I8': return new Uint8Array(copy());
    case 'F16': case 'BF16': { // widened to F32 for training
      const u16 = new Uint16Array(copy());
      const out = new Float32Array(u16.length);
      if (dtype === 'BF16') { const u32 = new Uint32Array(out.buffer); for (let i = 0; i < u16.length; i++) u32[i] = u16[i] << 16; }
      else for (let i = 0; i < u16.length; i++) out[i] = f16ToF32(u16[i]);
      return out;
    }
    default: throw new SafetensorsError(`unsupported dtype ${dtype}`);
  }
}

export interface Loaded { tensors: TensorMap; metadata: Record<string, string> }

export function parseSafetensors(buf: Uint8Array, source = 'safetensors data'): Loaded {
  if (buf.length < 8) throw new SafetensorsError(`${source}: file too short (${buf.length} bytes) to be safetensors`);
  const n = Number(new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true));
  if (n > buf.length - 8 || n > 100 * 1024 * 1024) throw new SafetensorsError(`${source}: header length ${n} exceeds the file (${buf.length} bytes): not safetensors, or truncated`);
  let header: Record<string, unknown>;
  try { header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n))); } catch (e) {
    throw new SafetensorsError(`${source}: header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError(`${source}: header is not a JSON object`);
  const data = buf.subarray(8 + n);
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = v as Record<string, string>; continue; }
    const e = v as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e.dtype !== 'string' || !(e.dtype in ITEM)) throw new SafetensorsError(`${source}: tensor "${name}" has unknown dtype ${JSON.stringify(e?.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`${source}: tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !e.data_offsets.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${source}: tensor "${name}" has invalid data_offsets ${JSON.stringify(e.data_offsets)}`);
    }
    const [b, end] = e.data_offsets as [number, number];
    const dtype = e.dtype as STDtype;
    const numel = (e.shape as number[]).reduce((p, d) => p * d, 1);
    if (end < b || end - b !== numel * ITEM[dtype]) throw new SafetensorsError(`${source}: tensor "${name}" byte range [${b}, ${end}) does not hold shape [${e.shape}] of ${dtype}`);
    if (end > data.length) throw new SafetensorsError(`${source}: tensor "${name}" ends at byte ${end} but the data has ${data.length} bytes: file truncated`);
    ranges.push([b, end, name]);
    tensors.set(name, { dtype, shape: e.shape as number[], data: decode(dtype, data.subarray(b, end)) });
  }
  ranges.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) throw new SafetensorsError(`${source}: tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
  }
  return { tensors, metadata };
}

export function readSafetensors(file: string): Loaded {
  let buf: Buffer;
  try { buf = fs.readFileSync(file); } catch (e) {
    throw new SafetensorsError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseSafetensors(buf, file);
}

function dtypeOf(d: TensorData): STDtype {
  if (d instanceof Float32Array) return 'F32';
  if (d instanceof Float64Array) return 'F64';
  if (d instanceof BigInt64Array) return 'I64';
  if (d instanceof Int32Array) return 'I32';
  return 'U8';
}

/** Write tensors (sorted by name, as the reference implementation does) atomically. */
export function writeSafetensors(file: string, tensors: Map<string, { shape: number[]; data: TensorData; dtype?: STDtype }>,
  metadata: Record<string, string> = {}): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const numel = t.shape.reduce((p, d) => p * d, 1);
    const n = t.dtype ? t.data.byteLength / ITEM[t.dtype] : t.data.length; // (16-bit floats travel as bytes)
    if (numel !== n) throw new SafetensorsError(`tensor "${name}": shape [${t.shape}] has ${numel} elements but data has ${n}`);
    header[name] = { dtype: t.dtype ?? dtypeOf(t.data), shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data starts 8-aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const tmp = tmpName(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, head);
    fs.writeSync(fd, json);
    for (const name of names) {
      const d = tensors.get(name)!.data;
      fs.writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fs.fsyncSync(fd);
  } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, file);
}
