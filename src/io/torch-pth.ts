// PyTorch `torch.save` files (.pth, pytorch_model.bin) read without Python.
//
//   readTorchStateDict(file) -> Map<name, { dtype, shape, data: Float32Array }>
//     The floating-point tensors of a state dict, widened to float32 exactly (F16, BF16) or
//     rounded to nearest (F64). Accepts a plain state dict (`{k: v.half()}`, an OrderedDict
//     from module.state_dict(), a Hugging Face pytorch_model.bin) or a training checkpoint
//     whose 'model' / 'state_dict' / 'model_state_dict' entry is one (MiniMind's resume
//     files). `_orig_mod.` segments that torch.compile adds to names are removed. Integer and
//     bool tensors (buffers such as counters or position ids, never weights) are skipped on
//     purpose: as float32 they would be lossy, and no MiniMind weight is an integer. Views
//     (storage offsets, strides, several tensors sharing one storage) are materialized.
//   readTorchFile(file) -> TorchValue
//     The whole saved object: dicts become Maps, lists and tuples arrays, ints numbers
//     (bigint past 2^53), tensors TorchTensor, whose bytes are read only by toFloat32();
//     objects outside the interpreted subset (in optimizer state, say) stay TorchOpaque.
// Every problem is a one-line UserError naming the file: the legacy pre-1.6 format (with the
// python line that re-saves it), truncation, a missing data entry, a big-endian file, a refused
// global, a dtype that is not float (naming the tensor).
//
// The format: a zip (entries stored, under a root folder named after the file or 'archive')
// holding data.pkl, a pickle of the object in which each tensor refers to a storage by key,
// and data/<key>, that storage's raw little-endian bytes. A pickle can run any code when Python
// loads it, so this never runs anything: it interprets the opcodes torch.save emits and a short
// allowlist of globals (the tensor rebuild functions, storage classes, dtypes, OrderedDict, as
// in torch's own weights_only loader); any other global is refused by name.
import fs from 'node:fs';
import { UserError } from '../util/errors.js';
import { readAt, StoredZip } from './zip-stored.js';

/** Dtypes minimind reads as float32 (names as in safetensors). */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';

export interface PthTensor { dtype: FloatDtype; shape: number[]; data: Float32Array }

export type TorchValue = null | boolean | number | bigint | string | Uint8Array | TorchValue[]
  | Map<TorchValue, TorchValue> | TorchTensor | TorchStorage | TorchOpaque;

/** A reference to one data/<key> entry (raw bytes at `position` in the file) as elements of
 * `dtype`. Tensors that share a storage (tied weights, views) have the same key. */
export class TorchStorage {
  constructor(readonly file: string, readonly key: string, readonly position: number, readonly nbytes: number,
    readonly dtype: string) {}
}

/** A tensor as saved: a strided view (offset and strides in elements) of a storage. `dtype` is
 * F32/F16/BF16/F64/I64/I32/I16/I8/U8/BOOL/U16/U32/U64, or torch's name for others (complex64, ...). */
export class TorchTensor {
  constructor(readonly storage: TorchStorage, readonly dtype: string, readonly offset: number,
    readonly shape: number[], readonly stride: number[], readonly requiresGrad: boolean) {}

  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }

  /** Read and widen the tensor's values (row-major); `name` labels errors. */
  toFloat32(name = `tensor on storage ${this.storage.key}`): Float32Array {
    const fd = openFile(this.storage.file);
    try { return materialize(this, fd, name); } finally { fs.closeSync(fd); }
  }
}

/** An object outside the interpreted subset (kept, not run): a call `global(...args)` with
 * optional BUILD state, or with `args` undefined the global itself (a class or dtype). */
export class TorchOpaque {
  constructor(readonly global: string, readonly args?: TorchValue[], public state?: TorchValue) {}
}

// ---- dtypes -----------------------------------------------------------------------------------

const ITEM: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
  complex32: 4, complex64: 8, complex128: 16, float8_e4m3fn: 1, float8_e5m2: 1, float8_e4m3fnuz: 1,
  float8_e5m2fnuz: 1, float8_e8m0fnu: 1, float4_e2m1fn_x2: 1, qint8: 1, quint8: 1, qint32: 4, quint4x2: 1, quint2x4: 1,
};
const FLOAT = new Set(['F32', 'F16', 'BF16', 'F64']);
const INTEGER = new Set(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'U16', 'U32', 'U64']);
const TORCH_NAME: Record<string, string> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16',
  I8: 'int8', U8: 'uint8', BOOL: 'bool', U16: 'uint16', U32: 'uint32', U64: 'uint64',
};
/** torch.<XStorage> -> dtype (the storage class names the element type). */
const STORAGE: Record<string, string> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128', QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8', QInt32Storage: 'qint32', QUInt4x2Storage: 'quint4x2', QUInt2x4Storage: 'quint2x4',
};
/** torch.<dtype> globals (aliases included) -> dtype; _rebuild_tensor_v3 passes one. */
const DTYPE: Record<string, string> = { float: 'F32', double: 'F64', half: 'F16', long: 'I64', int: 'I32', short: 'I16',
  cfloat: 'complex64', cdouble: 'complex128', chalf: 'complex32' };
for (const [k, v] of Object.entries(TORCH_NAME)) DTYPE[v] = k;
for (const k of Object.keys(ITEM)) if (!(k in TORCH_NAME)) DTYPE[k] = k;
for (let b = 1; b < 8; b++) { DTYPE[`int${b}`] = `int${b}`; DTYPE[`uint${b}`] = `uint${b}`; }

const dtypeName = (d: string) => own(TORCH_NAME, d) ?? d;
/** A table lookup that a name like 'constructor' cannot reach through the prototype. */
function own(table: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

// ---- globals ----------------------------------------------------------------------------------

type Kind = 'dict' | 'tensor' | 'tensor_v3' | 'parameter' | 'from_type' | 'size' | 'bytes' | 'opaque' | 'storage' | 'dtype';

/** The allowlist. Everything not here is refused when the pickle names it. */
function globalKind(name: string): Kind | undefined {
  const [mod, attr] = [name.slice(0, name.lastIndexOf('.')), name.slice(name.lastIndexOf('.') + 1)];
  switch (name) {
    case 'collections.OrderedDict': return 'dict';
    case 'torch._utils._rebuild_tensor': case 'torch._utils._rebuild_tensor_v2': return 'tensor';
    case 'torch._utils._rebuild_tensor_v3': return 'tensor_v3';
    case 'torch._utils._rebuild_parameter': case 'torch._utils._rebuild_parameter_with_state': return 'parameter';
    case 'torch._tensor._rebuild_from_type_v2': return 'from_type';
    case 'torch.Size': return 'size';
    case '_codecs.encode': return 'bytes';
    case 'torch.storage.UntypedStorage': return 'storage';
    // harmless data types torch's weights_only loader also accepts, kept opaque
    case 'collections.Counter': case 'torch.device': case 'torch.Tensor': case 'torch.nn.parameter.Parameter':
    case 'torch.serialization._get_layout': case 'builtins.set': case 'builtins.frozenset': case 'builtins.bytearray':
    case 'builtins.complex': case 'builtins.slice': case 'builtins.range':
      return 'opaque';
  }
  if (mod === 'torch._utils' && attr.startsWith('_rebuild_')) return 'opaque'; // sparse, quantized, ... tensors
  if (mod === 'torch' && own(STORAGE, attr)) return 'storage';
  if (mod === 'torch' && own(DTYPE, attr)) return 'dtype';
  if (mod === 'torch' && /^(per_tensor|per_channel)_\w+$/.test(attr)) return 'opaque';
  return undefined;
}

/** A global named by the pickle, waiting to be called (REDUCE/NEWOBJ) or used as a value. */
class Global extends TorchOpaque {
  constructor(name: string, readonly kind: Kind) { super(name); }
}

// ---- the pickle machine ----------------------------------------------------------------------

interface Ctx { file: string; storage: (pid: TorchValue) => TorchStorage }

function unpickle(buf: Uint8Array, ctx: Ctx): TorchValue {
  const { file } = ctx;
  const fail = (what: string): never => { throw new UserError(`${file}: data.pkl: ${what}`); };
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  // Buffer's latin1 is ISO-8859-1; TextDecoder('latin1') would be windows-1252
  const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  const stack: unknown[] = [], marks: number[] = [], memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => { if (p + n > buf.length) fail(`truncated: an opcode at byte ${p} needs ${n} more bytes, the pickle has ${buf.length - p}`); };
  const u8 = () => { need(1); return buf[p++]; };
  const u16 = () => { need(2); const v = dv.getUint16(p, true); p += 2; return v; };
  const u32 = () => { need(4); const v = dv.getUint32(p, true); p += 4; return v; };
  const u64 = () => { need(8); const v = dv.getBigUint64(p, true); p += 8; if (v > BigInt(buf.length)) fail(`length ${v} at byte ${p - 8} exceeds the pickle`); return Number(v); };
  const bytes = (n: number) => { need(n); p += n; return buf.subarray(p - n, p); };
  const line = () => { const e = buf.indexOf(10, p); if (e < 0) fail('truncated GLOBAL'); const s = latin1(buf.subarray(p, e)); p = e + 1; return s; };
  const pop = () => { if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail(`stack underflow at byte ${p - 1}`); return stack.pop(); };
  const popMark = () => { const m = marks.pop(); if (m === undefined) fail(`no MARK before byte ${p - 1}`); return stack.splice(m!); };
  const top = () => { if (stack.length === 0) fail(`stack underflow at byte ${p - 1}`); return stack[stack.length - 1]; };
  const mkGlobal = (mod: string, attr: string) => {
    if (mod === '__builtin__') mod = 'builtins'; // Python 2 names in protocol-2 pickles
    const name = `${mod}.${attr}`, kind = globalKind(name);
    if (!kind) {
      throw new UserError(`${file}: refusing to load: its pickle calls ${name}, which no tensor checkpoint needs `
        + '(Python would run it on load); minimind reads only tensors, dicts, lists and numbers');
    }
    return new Global(name, kind);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (!(target instanceof Map)) fail(`SETITEM(S) on ${describe(target as TorchValue)}`);
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]) => {
    if (!Array.isArray(target)) fail(`APPEND(S) on ${describe(target as TorchValue)}`);
    for (const x of items) (target as unknown[]).push(x); // not push(...items): that overflows on long lists
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO
      case 0x95: bytes(8); break; // FRAME: a length hint only
      case 0x2e: return pop() as TorchValue; // STOP
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: need(4); stack.push(dv.getInt32(p, true)); p += 4; break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement
        const b = bytes(op === 0x8a ? u8() : u32());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: need(8); stack.push(dv.getFloat64(p, false)); p += 8; break; // BINFLOAT (big-endian)
      case 0x58: case 0x8c: case 0x8d: { // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        const b = bytes(op === 0x58 ? u32() : op === 0x8c ? u8() : u64());
        try { stack.push(utf8.decode(b)); } catch { fail(`invalid UTF-8 string at byte ${p - b.length}`); }
        break;
      }
      case 0x54: case 0x55: stack.push(latin1(bytes(op === 0x54 ? u32() : u8()))); break; // BINSTRING, SHORT_BINSTRING
      case 0x42: case 0x43: case 0x8e: stack.push(bytes(op === 0x42 ? u32() : op === 0x43 ? u8() : u64()).slice()); break; // BINBYTES*
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x64: { const m = new Map(); setItems(m, popMark()); stack.push(m); break; } // DICT
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x8f: stack.push([]); break; // EMPTY_SET: sets become arrays
      case 0x90: { const items = popMark(); append(top(), items); break; } // ADDITEMS
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} used before it was set`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const mod = line(); stack.push(mkGlobal(mod, line())); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const attr = pop(), mod = pop();
        if (typeof mod !== 'string' || typeof attr !== 'string') fail('STACK_GLOBAL without two strings');
        stack.push(mkGlobal(mod as string, attr as string));
        break;
      }
      case 0x51: stack.push(ctx.storage(pop() as TorchValue)); break; // BINPERSID
      case 0x52: { const args = pop(), fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop(), cls = pop();
        if (!(cls instanceof Global) || !Array.isArray(args)) fail(`NEWOBJ at byte ${p - 1} without a class and a tuple`);
        stack.push((cls as Global).kind === 'dict' ? new Map() : new TorchOpaque((cls as Global).global, args as TorchValue[]));
        break;
      }
      case 0x62: { // BUILD: set state on the object below
        const state = pop(), obj = top();
        // OrderedDict state is module version _metadata; a tensor's is Python attributes: neither holds data
        if (obj instanceof TorchOpaque && !(obj instanceof Global)) obj.state = state as TorchValue;
        else if (!(obj instanceof Map) && !(obj instanceof TorchTensor)) fail(`BUILD on ${describe(obj as TorchValue)}`);
        break;
      }
      default:
        fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${p - 1} (torch.save writes protocol 2)`);
    }
  }

  function call(fn: unknown, args: unknown, depth = 0): unknown {
    if (depth > 8) fail('_rebuild_from_type_v2 nested too deeply (a cyclic pickle?)');
    if (!(fn instanceof Global) || !Array.isArray(args)) return fail(`REDUCE at byte ${p - 1} without a callable and a tuple`);
    const a = args as unknown[];
    switch (fn.kind) {
      case 'dict': {
        const m = new Map();
        if (Array.isArray(a[0])) for (const kv of a[0]) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
        return m;
      }
      case 'tensor': return tensor(a[0], a[1], a[2], a[3], a[4], undefined);
      case 'tensor_v3': return tensor(a[0], a[1], a[2], a[3], a[4], a[6]);
      case 'parameter': {
        if (!(a[0] instanceof TorchTensor)) return fail(`${fn.global} applied to ${describe(a[0] as TorchValue)}`);
        const t = a[0];
        return new TorchTensor(t.storage, t.dtype, t.offset, t.shape, t.stride, a[1] === true);
      }
      case 'from_type': return call(a[0], a[2], depth + 1); // (func, subclass, args, state): the plain tensor
      case 'size': return Array.isArray(a[0]) ? [...a[0]] : fail('torch.Size without a tuple');
      case 'bytes': // how protocol 2 spells bytes: _codecs.encode(text, 'latin1')
        return typeof a[0] === 'string' && (a[1] === 'latin1' || a[1] === 'latin-1') ? new Uint8Array(Buffer.from(a[0], 'latin1'))
          : fail(`_codecs.encode(${show(a)}) is not latin-1 bytes`);
      default: return new TorchOpaque(fn.global, a as TorchValue[]);
    }
  }

  function tensor(ref: unknown, offset: unknown, size: unknown, stride: unknown, grad: unknown, dtype: unknown): TorchTensor {
    if (!(ref instanceof TorchStorage)) return fail(`a tensor rebuilt from ${describe(ref as TorchValue)}, not a storage`);
    const ints = (v: unknown) => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
    if (!Number.isSafeInteger(offset) || (offset as number) < 0 || !ints(size) || !ints(stride) || (size as number[]).length !== (stride as number[]).length) {
      return fail(`tensor on storage ${ref.key} has an invalid offset/size/stride (${show(offset)}, ${show(size)}, ${show(stride)})`);
    }
    let dt = ref.dtype; // _rebuild_tensor_v2: the storage class's; v3: an untyped storage and a dtype
    if (dtype !== undefined) {
      if (!(dtype instanceof Global) || dtype.kind !== 'dtype') return fail(`tensor on storage ${ref.key} has no dtype`);
      dt = own(DTYPE, dtype.global.slice('torch.'.length))!;
    }
    return new TorchTensor(ref, dt, offset as number, size as number[], stride as number[], grad === true);
  }
}

/** Numbers and tuples for error messages, bounded (a hostile list may be huge or contain itself). */
const show = (v: unknown, depth = 0): string => (Array.isArray(v) ? (depth > 2 ? '(...)' : `(${v.slice(0, 8).map((x) => show(x, depth + 1)).join(', ')}${v.length > 8 ? ', ...' : ''})`)
  : typeof v === 'object' && v !== null ? describe(v as TorchValue) : String(v));

function describe(v: TorchValue | undefined): string {
  if (v === null || v === undefined) return 'None';
  if (v instanceof Map) return 'a dict';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof TorchTensor) return 'a tensor';
  if (v instanceof TorchStorage) return 'a storage';
  if (v instanceof TorchOpaque) return v.args ? `a ${v.global} object` : `the global ${v.global}`;
  if (v instanceof Uint8Array) return 'bytes';
  return `a ${typeof v === 'bigint' ? 'number' : typeof v}`;
}

// ---- the container ----------------------------------------------------------------------------

function openFile(file: string): number {
  try { return fs.openSync(file, 'r'); } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** A legacy (non-zip) torch.save file opens with a pickled magic number: PROTO 2, LONG1 of 10 bytes. */
const LEGACY_MAGIC = Buffer.from('80028a0a6cfc9c46f9206aa85019', 'hex');

/** Parse the zip and pickle; tensors stay on disk. */
export function readTorchFile(file: string): TorchValue {
  const fd = openFile(file);
  try {
    const size = fs.fstatSync(fd).size;
    const magic = readAt(fd, 0, Math.min(size, 14), file);
    if (Buffer.from(magic).equals(LEGACY_MAGIC)) {
      throw new UserError(`${file} is in PyTorch's legacy (pre-1.6) format, which minimind does not read; re-save it as a zip with: `
        + `python -c "import torch; torch.save(torch.load('${file}', map_location='cpu'), '${file}.zip.pth')"`);
    }
    if (size > 9 && magic[8] === 0x7b && Number(Buffer.from(magic).readBigUInt64LE(0)) < size) {
      throw new UserError(`${file} is a safetensors file, not a torch.save checkpoint`);
    }
    if (size < 4 || magic[0] !== 0x50 || magic[1] !== 0x4b || magic[2] !== 3 || magic[3] !== 4) {
      throw new UserError(`${file} is not a PyTorch checkpoint (torch.save writes a zip; this file does not start with one)`);
    }
    const zip = new StoredZip(fd, file, size);
    const pkl = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkl.length !== 1) {
      const script = [...zip.entries.keys()].some((n) => n.endsWith('/constants.pkl'));
      throw new UserError(`${file}: ${script ? 'a TorchScript archive (torch.jit.save), not a torch.save checkpoint'
        : pkl.length ? `${pkl.length} data.pkl entries, expected one` : 'a zip without <root>/data.pkl: not a torch.save checkpoint'}`);
    }
    const root = pkl[0].slice(0, -'data.pkl'.length);
    const order = zip.entries.get(`${root}byteorder`); // absent in torch < 1.10 files: little-endian
    if (order) {
      const text = new TextDecoder().decode(zip.read(order)).trim();
      if (text !== 'little') throw new UserError(`${file} was saved on a ${text}-endian machine; minimind reads only little-endian checkpoints (re-save it on x86 or ARM)`);
    }
    const entries = new Map<string, { position: number; nbytes: number }>();
    return unpickle(zip.read(zip.entries.get(pkl[0])!), {
      file,
      storage(pid) { // ('storage', storage class, key, location, numel)
        if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage' || !(pid[1] instanceof Global) || typeof pid[2] !== 'string') {
          throw new UserError(`${file}: data.pkl: unexpected persistent id ${describe(pid as TorchValue)}`);
        }
        const [, cls, key, , numel] = pid as [string, Global, string, unknown, unknown];
        // a typed storage class names the dtype; UntypedStorage (with _rebuild_tensor_v3) is bytes
        const dtype = cls.global === 'torch.storage.UntypedStorage' ? 'U8' : cls.kind === 'storage' ? own(STORAGE, cls.global.slice('torch.'.length)) : undefined;
        if (!dtype) throw new UserError(`${file}: data.pkl: storage ${key} has type ${cls.global}`);
        let entry = entries.get(key);
        if (!entry) {
          const e = zip.entries.get(`${root}data/${key}`);
          if (!e) throw new UserError(`${file}: missing data entry ${root}data/${key} (a tensor's storage): the file is incomplete`);
          entry = { position: zip.dataOffset(e), nbytes: e.size };
          entries.set(key, entry);
        }
        const want = typeof numel === 'number' ? numel * (ITEM[dtype] ?? 1) : 0;
        if (want > entry.nbytes) throw new UserError(`${file}: data entry ${root}data/${key} has ${entry.nbytes} bytes, its ${dtypeName(dtype)} storage needs ${want}: truncated or corrupt`);
        return new TorchStorage(file, key, entry.position, entry.nbytes, dtype);
      },
    });
  } finally { fs.closeSync(fd); }
}

// ---- tensors ----------------------------------------------------------------------------------

let F16: Float32Array | undefined;
/** All 65536 half-precision values as float32 (each exact). */
function f16Table(): Float32Array {
  if (F16) return F16;
  F16 = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    F16[h] = e === 0 ? s * 2 ** -14 * (m / 1024) : e === 31 ? (m ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + m / 1024);
  }
  return F16;
}

function decode(dtype: string, raw: Uint8Array): Float32Array {
  switch (dtype) {
    case 'F32': return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    case 'F64': return Float32Array.from(new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8)); // round to nearest even, as torch
    case 'F16': { const t = f16Table(), u = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2), out = new Float32Array(u.length); for (let i = 0; i < u.length; i++) out[i] = t[u[i]]; return out; }
    case 'BF16': { // bfloat16 is the top half of a float32
      const u = new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2), out = new Uint32Array(u.length);
      for (let i = 0; i < u.length; i++) out[i] = u[i] << 16;
      return new Float32Array(out.buffer);
    }
    default: throw new Error(`decode: ${dtype}`);
  }
}

/** Whether the strides are C-contiguous (dims of size 1 may have any stride). A transpose of a
 * whole tensor also touches exactly numel elements, so counting them is not enough. */
function rowMajor(shape: number[], stride: number[]): boolean {
  for (let d = shape.length - 1, want = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== want) return false;
    want *= shape[d];
  }
  return true;
}

function materialize(t: TorchTensor, fd: number, name: string): Float32Array {
  const { file } = t.storage;
  if (!FLOAT.has(t.dtype)) throw new UserError(`${file}: tensor "${name}" has dtype ${dtypeName(t.dtype)}, which minimind cannot read (float32, float16, bfloat16 and float64 only)`);
  const numel = t.numel;
  if (numel === 0) return new Float32Array(0);
  const item = ITEM[t.dtype];
  let span = 1; // elements from the first to the last one the view touches
  for (let d = 0; d < t.shape.length; d++) span += (t.shape[d] - 1) * t.stride[d];
  if ((t.offset + span) * item > t.storage.nbytes) {
    throw new UserError(`${file}: tensor "${name}" (shape [${t.shape}], offset ${t.offset}, strides [${t.stride}]) reaches past its storage data/${t.storage.key} (${t.storage.nbytes} bytes): corrupt file`);
  }
  const flat = decode(t.dtype, readAt(fd, t.storage.position + t.offset * item, span * item, file));
  if (rowMajor(t.shape, t.stride)) return flat;
  const out = new Float32Array(numel), nd = t.shape.length, idx = new Array<number>(nd).fill(0);
  for (let i = 0, src = 0; i < numel; i++) {
    out[i] = flat[src];
    for (let d = nd - 1; d >= 0; d--) {
      src += t.stride[d];
      if (++idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

// ---- state dicts ------------------------------------------------------------------------------

const NESTED = ['model', 'state_dict', 'model_state_dict'];

/** The float tensors of the state dict in `file` (see the top of this file). */
export function readTorchStateDict(file: string): Map<string, PthTensor> {
  const top = readTorchFile(file);
  if (!(top instanceof Map)) throw new UserError(`${file} holds ${describe(top)}, not a state dict`);
  const key = NESTED.find((k) => top.get(k) instanceof Map);
  const sd = key ? top.get(key) as Map<TorchValue, TorchValue> : top;
  const where = key ? ` (in its '${key}' entry)` : '';
  const out = new Map<string, PthTensor>();
  const fd = openFile(file);
  try {
    for (const [k, v] of sd) {
      if (typeof k !== 'string') throw new UserError(`${file}: state dict${where} has a non-string key ${String(k)}`);
      if (!(v instanceof TorchTensor)) throw new UserError(`${file}: state dict${where} entry "${k}" is ${describe(v)}, not a tensor`);
      if (INTEGER.has(v.dtype)) continue;
      const name = k.split('.').filter((s) => s !== '_orig_mod').join('.');
      if (out.has(name)) throw new UserError(`${file}: state dict${where} has "${name}" twice once "_orig_mod." is removed`);
      out.set(name, { dtype: v.dtype as FloatDtype, shape: [...v.shape], data: materialize(v, fd, k) });
    }
  } finally { fs.closeSync(fd); }
  return out;
}
