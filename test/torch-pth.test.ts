// torch.save files read without Python, against the values torch itself gives: fixtures and
// expected.safetensors from scripts/fixtures/make_pth_fixtures.py. Values are compared bit for
// bit, so a bf16 decoded as fp16, an ignored storage offset or ignored strides all fail.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/io/safetensors.js';
import { readTorchFile, readTorchStateDict, TorchTensor, TorchValue } from '../src/io/torch-pth.js';
import { StoredZip } from '../src/io/zip-stored.js';
import { UserError } from '../src/util/errors.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'pth');
const fx = (name: string) => path.join(dir, `${name}.pth`);
const { tensors: expected, metadata } = readSafetensors(path.join(dir, 'expected.safetensors'));

/** Bit-identical float32 arrays (so -0, infinities and NaN payloads count). */
function assertBits(actual: Float32Array, want: Float32Array, what: string): void {
  assert.equal(actual.length, want.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length), b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${what}[${i}]: ${actual[i]} vs torch's ${want[i]}`);
}

function expectedFor(fixture: string): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of expected) if (k.startsWith(`${fixture}/`)) out.set(k.slice(fixture.length + 1), { shape: v.shape, data: v.data as Float32Array });
  return out;
}

function assertStateDict(fixture: string, dtype: string | ((name: string) => string), file = fx(fixture)): Map<string, TorchValue> {
  const got = readTorchStateDict(file), want = expectedFor(fixture);
  assert.ok(want.size >= 5, `${fixture}: fixture has expected values`);
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `${fixture}: tensor names`);
  for (const [k, w] of want) {
    const t = got.get(k)!;
    assert.equal(t.dtype, typeof dtype === 'string' ? dtype : dtype(k), `${fixture}/${k}: dtype`);
    assert.deepEqual(t.shape, w.shape, `${fixture}/${k}: shape`);
    assertBits(t.data, w.data, `${fixture}/${k}`);
  }
  return readTorchFile(file) as Map<string, TorchValue>;
}

/** Expect a UserError whose message names the file and matches `what`. */
function assertUserError(fn: () => unknown, file: string, what: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.includes(file), `message names ${file}: ${e.message}`);
    assert.match(e.message, what);
    assert.ok(!e.message.includes('\n'), 'one line');
    return true;
  });
}

function tmpFile(name: string, bytes: Uint8Array | string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-pth-'));
  const f = path.join(d, name);
  fs.writeFileSync(f, bytes);
  return f;
}

test('fp32 OrderedDict state dict (with _metadata): exact values; the int64 buffer is skipped', () => {
  const raw = assertStateDict('fp32', 'F32');
  const counter = raw.get('counter') as TorchTensor;
  assert.ok(counter instanceof TorchTensor && counter.dtype === 'I64' && counter.shape[0] === 2, 'readTorchFile keeps the int64 buffer');
  assertUserError(() => counter.toFloat32('counter'), fx('fp32'), /tensor "counter" has dtype int64/);
});

test('fp16 ({k: v.half()}, as MiniMind saves) and bf16 widen exactly, special values included', () => {
  const f16 = expected.get('fp16/special')!.data as Float32Array, b16 = expected.get('bf16/special')!.data as Float32Array;
  // the fixture tells the two formats apart: decoding one as the other would fail below
  assert.ok(f16.some((v, i) => !Object.is(v, b16[i])), 'fp16 and bf16 values differ');
  assert.ok(Object.is(f16[1], -0) && f16[2] === 2 ** -24 && f16[4] === Infinity, 'fp16 fixture has -0, a subnormal, inf');
  assertStateDict('fp16', 'F16');
  assertStateDict('bf16', 'BF16');
});

test('_orig_mod. prefixes (torch.compile) are removed from names', () => {
  const raw = assertStateDict('orig_mod', 'F16');
  assert.ok([...raw.keys()].every((k) => String(k).startsWith('_orig_mod.')), 'the file has prefixed names');
});

test('tied weights sharing one storage both come out', () => {
  const raw = assertStateDict('tied', 'F32');
  const a = raw.get('embed.weight') as TorchTensor, b = raw.get('lm_head.weight') as TorchTensor;
  assert.equal(a.storage.key, b.storage.key, 'the fixture shares a storage');
  assertBits(readTorchStateDict(fx('tied')).get('lm_head.weight')!.data, expected.get('tied/embed.weight')!.data as Float32Array, 'tied');
});

test('views: storage offsets, transposes, strided slices, 0-d and bf16 views are materialized', () => {
  const raw = assertStateDict('views', (k) => (k === 'bf16_t' ? 'BF16' : k.startsWith('f64') ? 'F64' : 'F32'));
  const layout = (k: string) => { const t = raw.get(k) as TorchTensor; return [t.offset, t.stride]; };
  // the fixture really exercises offsets and strides (else the exact values above prove little)
  assert.deepEqual(layout('rows'), [8, [4, 1]]);
  assert.deepEqual(layout('transposed'), [0, [1, 4]]);
  assert.deepEqual(layout('strided'), [5, [8, 2]]);
  assert.deepEqual(layout('column'), [3, [4]]);
  assert.deepEqual(layout('scalar'), [17, []]);
  assert.deepEqual(layout('bf16_t'), [1, [1, 3]]);
  assert.deepEqual(layout('f64_t'), [0, [1, 2]]);
  const f32 = [...raw.values()].filter((t) => (t as TorchTensor).dtype === 'F32');
  assert.equal(new Set(f32.map((t) => (t as TorchTensor).storage.key)).size, 1, 'all F32 views share one storage');
  // float64 -> float32 rounds to nearest even, as torch's .float(): not truncation, not a different subnormal
  const f64 = expected.get('views/f64')!.data as Float32Array;
  assert.ok(f64[0] === Math.fround(1 / 3) && f64[4] === Infinity && Object.is(f64[3], -0) && f64[6] === 1, 'f64 fixture covers rounding');
});

test('MiniMind resume checkpoint: the model entry, optimizer state and scalars', () => {
  const sd = readTorchStateDict(fx('resume'));
  const want = expectedFor('resume');
  const model = [...want.keys()].filter((k) => k.startsWith('model/'));
  assert.deepEqual([...sd.keys()].sort(), model.map((k) => k.slice(6)).sort());
  for (const k of model) assertBits(sd.get(k.slice(6))!.data, want.get(k)!.data, k);
  const top = readTorchFile(fx('resume')) as Map<string, TorchValue>;
  assert.equal(top.get('epoch'), 0);
  assert.equal(top.get('step'), 3);
  assert.equal(top.get('world_size'), 1);
  assert.equal(top.get('wandb_id'), null);
  const optim = top.get('optimizer') as Map<string, TorchValue>;
  const group = (optim.get('param_groups') as Map<string, TorchValue>[])[0];
  assert.equal(group.get('lr'), JSON.parse(metadata.resume_lr));
  assert.deepEqual(group.get('params'), JSON.parse(metadata.resume_params));
  assert.deepEqual(group.get('betas'), [0.9, 0.999]);
  const state = optim.get('state') as Map<number, Map<string, TorchTensor>>;
  let checked = 0;
  for (const [i, st] of state) {
    for (const [name, t] of st) {
      assertBits(t.toFloat32(name), want.get(`optimizer/state/${i}/${name}`)!.data, `optimizer state ${i} ${name}`);
      checked++;
    }
  }
  assert.equal(checked, 15, 'five parameters, three state tensors each');
});

test('ZIP64 records and another root folder name', () => {
  assertStateDict('zip64', 'F32');
});

test('dtypes outside float: named in readTorchFile, refused by name in readTorchStateDict', () => {
  const raw = readTorchFile(fx('exotic')) as Map<string, TorchTensor>;
  assert.deepEqual([...raw].map(([k, t]) => [k, t.dtype]), [['w', 'F32'], ['u16', 'U16'], ['f8', 'float8_e4m3fn'], ['c64', 'complex64']]);
  assertBits(raw.get('w')!.toFloat32(), expected.get('exotic/w')!.data as Float32Array, 'w');
  assertUserError(() => readTorchStateDict(fx('exotic')), fx('exotic'), /tensor "f8" has dtype float8_e4m3fn/);
});

test('a pickle calling os.system or builtins.eval is refused, naming the global', () => {
  assertUserError(() => readTorchFile(fx('forbidden')), fx('forbidden'), /refusing to load.*os\.system/);
  assertUserError(() => readTorchStateDict(fx('forbidden_stack')), fx('forbidden_stack'), /refusing to load.*builtins\.eval/);
});

test('hostile pickles: a self-referential rebuild call and a bigint offset are UserErrors', () => {
  assertUserError(() => readTorchFile(fx('cyclic')), fx('cyclic'), /nested too deeply/);
  assertUserError(() => readTorchFile(fx('huge_offset')), fx('huge_offset'), /invalid offset\/size\/stride \(18446744073709551616, \(1\), \(1\)\)/);
});

test('legacy, big-endian, incomplete and foreign files get clear errors', () => {
  assertUserError(() => readTorchStateDict(fx('legacy')), fx('legacy'), /legacy \(pre-1\.6\) format.*python -c "import torch; torch\.save\(torch\.load\(/);
  assertUserError(() => readTorchStateDict(fx('bigendian')), fx('bigendian'), /big-endian/);
  assertUserError(() => readTorchStateDict(fx('missing_entry')), fx('missing_entry'), /missing data entry fp32\/data\/1/);
  assertUserError(() => readTorchStateDict(fx('bad_pickle')), fx('bad_pickle'), /data\.pkl: truncated/);
  const text = tmpFile('notes.pth', 'hello, not a checkpoint');
  assertUserError(() => readTorchFile(text), text, /not a PyTorch checkpoint/);
  const empty = tmpFile('empty.pth', '');
  assertUserError(() => readTorchFile(empty), empty, /not a PyTorch checkpoint/);
  const missing = path.join(path.dirname(text), 'absent.pth');
  assertUserError(() => readTorchFile(missing), missing, /no such file/);
  const st = path.join(dir, 'expected.safetensors');
  assertUserError(() => readTorchFile(st), st, /is a safetensors file/);
});

test('a file truncated anywhere is a UserError that says so', () => {
  const full = fs.readFileSync(fx('fp32'));
  for (const cut of [1, 4, 30, 200, 1000, full.length - 100, full.length - 22, full.length - 1]) {
    const f = tmpFile(`cut${cut}.pth`, full.subarray(0, cut));
    assertUserError(() => readTorchStateDict(f), f, cut < 4 ? /not a PyTorch checkpoint/ : /truncated/);
  }
});

/** Flip each byte of [start, end) of a copy of `file` in turn (with each mask); every result
 * must load or fail with a UserError naming the file, never crash. Returns the failure count. */
function corruptEach(file: string, start: number, end: number, masks: number[]): number {
  const full = fs.readFileSync(file), f = tmpFile('fuzz.pth', full);
  let failures = 0;
  for (let i = start; i < end; i++) {
    for (const x of masks) {
      const copy = Buffer.from(full);
      copy[i] ^= x;
      fs.writeFileSync(f, copy);
      try { readTorchStateDict(f); } catch (e) {
        assert.ok(e instanceof UserError, `byte ${i} ^ ${x}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
        assert.ok(e.message.includes(f));
        failures++;
      }
    }
  }
  return failures;
}

test('corrupting any byte of data.pkl or of the zip directory gives a UserError, never a crash', () => {
  const file = fx('fp32'), size = fs.statSync(file).size;
  const fd = fs.openSync(file, 'r');
  let pkl: [number, number], cd: number;
  try {
    const zip = new StoredZip(fd, file, size);
    const e = zip.entries.get('fp32/data.pkl')!;
    pkl = [zip.dataOffset(e), zip.dataOffset(e) + e.size];
    cd = Math.max(...[...zip.entries.values()].map((x) => zip.dataOffset(x) + x.size)); // the directory follows the last entry
  } finally { fs.closeSync(fd); }
  const n = pkl[1] - pkl[0];
  assert.ok(corruptEach(file, pkl[0], pkl[1], [0xff]) > n / 2, 'most pickle corruptions are caught');
  // directory entries repeat one layout: the last few and the end record cover every field
  assert.ok(corruptEach(file, Math.max(cd, size - 300), size, [0xff]) > 0, 'directory corruptions are caught');
  // the ZIP64 fields: the last directory entries, the ZIP64 end record, its locator, the end record
  const z64 = fx('zip64'), z64size = fs.statSync(z64).size;
  assert.ok(corruptEach(z64, z64size - 300, z64size, [0xff]) > 0, 'ZIP64 corruptions are caught');
});
