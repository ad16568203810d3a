// Training curves. TensorBoard event files: byte for byte what TensorBoard's own writer makes (fixture from
// scripts/fixtures/make_tensorboard_fixture.py), and a training run's <run>/tb decoded here
// (and, where a Python with tensorboard is found, by TensorBoard's own reader) equal to its
// metrics.jsonl, a resumed run's later steps replacing the first process's. loss.svg: the
// learning rate on an axis of its own, and the eval loss where one is logged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { runChart } from '../src/train/chart.js';
import { crc32c, eventProto, TbEvent, tfRecord } from '../src/train/tensorboard.js';
import { cli, flags, ROOT, TINY, workspace, Workspace } from './helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'tensorboard');

/** A decoded Event: the fields the writer sets. */
interface Decoded { wallTime: number; step: number; fileVersion?: string; scalars: Record<string, number>; sessionStart: boolean }

/** TFRecord framing and the Event proto, read with no code of the writer's (its CRCs checked against a bitwise CRC-32C). */
function decodeEvents(buf: Buffer): Decoded[] {
  const crc = (b: Uint8Array) => {
    let c = ~0;
    for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1)); }
    c = ~c >>> 0;
    return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
  };
  const out: Decoded[] = [];
  for (let at = 0; at < buf.length;) {
    const n = Number(buf.readBigUInt64LE(at));
    assert.equal(buf.readUInt32LE(at + 8), crc(buf.subarray(at, at + 8)), 'length CRC');
    const data = buf.subarray(at + 12, at + 12 + n);
    assert.equal(buf.readUInt32LE(at + 12 + n), crc(data), 'data CRC');
    out.push(decodeEvent(data));
    at += n + 16;
  }
  return out;
}

function fields(b: Buffer): [number, number, Buffer | bigint][] {
  const out: [number, number, Buffer | bigint][] = [];
  let i = 0;
  const varint = () => { let v = 0n, s = 0n, x; do { x = b[i++]; v |= BigInt(x & 0x7f) << s; s += 7n; } while (x & 0x80); return v; };
  while (i < b.length) {
    const k = Number(varint()), f = k >> 3, t = k & 7;
    if (t === 0) out.push([f, t, varint()]);
    else if (t === 1) { out.push([f, t, b.subarray(i, i + 8)]); i += 8; }
    else if (t === 5) { out.push([f, t, b.subarray(i, i + 4)]); i += 4; }
    else if (t === 2) { const n = Number(varint()); out.push([f, t, b.subarray(i, i + n)]); i += n; }
    else throw new Error(`wire type ${t}`);
  }
  return out;
}

function decodeEvent(b: Buffer): Decoded {
  const e: Decoded = { wallTime: 0, step: 0, scalars: {}, sessionStart: false };
  for (const [f, , v] of fields(b)) {
    if (f === 1) e.wallTime = (v as Buffer).readDoubleLE(0);
    else if (f === 2) e.step = Number(BigInt.asIntN(64, v as bigint));
    else if (f === 3) e.fileVersion = (v as Buffer).toString('utf8');
    else if (f === 5) {
      for (const [, , value] of fields(v as Buffer)) {
        let tag = '', x = NaN;
        for (const [vf, , vv] of fields(value as Buffer)) { if (vf === 1) tag = (vv as Buffer).toString('utf8'); if (vf === 2) x = (vv as Buffer).readFloatLE(0); }
        e.scalars[tag] = x;
      }
    } else if (f === 7) e.sessionStart = fields(v as Buffer).some(([sf, , sv]) => sf === 1 && sv === 1n);
  }
  return e;
}

const readDir = (dir: string) => fs.readdirSync(dir).filter((f) => f.includes('tfevents')).sort().map((f) => decodeEvents(fs.readFileSync(path.join(dir, f))));

test('CRC-32C check value; the events of TensorBoard\'s own writer come out byte for byte', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const events = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'events.json'), 'utf8')) as TbEvent[];
  const ours = Buffer.concat(events.map((e) => tfRecord(eventProto(e))));
  assert.deepEqual(ours, fs.readFileSync(path.join(FIXTURE, 'events.out.tfevents.fixture')));
  const decoded = decodeEvents(ours);
  assert.equal(decoded[0].fileVersion, 'brain.Event:2');
  assert.equal(decoded[1].scalars['train/grad_norm'], 0);
  assert.equal(decoded[5].step, 2 ** 40 + 3);
  assert.ok(decoded[2].sessionStart && decoded[2].step === 5);
});

let ws: Workspace, out: string;
before(async () => { ws = await workspace(60); out = path.join(ws.dir, 'out'); });

const pretrain = (...extra: string[]) => cli(['pretrain', ...flags(TINY, ['--tokenizer', ws.tokenizer, '--data_path', ws.corpus, '--save_dir', out, '--log_interval', '1'], extra)]);
const metrics = (run: string) => fs.readFileSync(path.join(out, run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
const f32 = (x: number) => Math.fround(x);

/** Which Python reads TensorBoard files here, if any. */
function tensorboardPython(): string | null {
  for (const py of [process.env.MINIMIND_PYTHON, 'python3'].filter(Boolean) as string[]) {
    if (spawnSync(py, ['-c', 'import tensorboard'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

test('a run writes its metrics to <run>/tb: every logged step, loss, lr, grad norm, tokens/s and the MoE aux loss', () => {
  const r = pretrain('--save_weight', 'moe', '--use_moe', '1', '--max_steps', '3');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /TensorBoard: tensorboard --logdir .*moe.tb/);
  const files = readDir(path.join(out, 'moe', 'tb'));
  assert.equal(files.length, 1);
  const [first, ...events] = files[0];
  assert.equal(first.fileVersion, 'brain.Event:2');
  const m = metrics('moe');
  assert.deepEqual(events.map((e) => e.step), m.map((e) => e.step));
  for (const [i, e] of events.entries()) {
    for (const [k, tag] of [['loss', 'train/loss'], ['lr', 'train/lr'], ['grad_norm', 'train/grad_norm'], ['tokens_per_s', 'train/tokens_per_s'], ['aux_loss', 'train/aux_loss']]) {
      assert.equal(e.scalars[tag], f32(m[i][k]), `${tag} at step ${e.step}`);
    }
    assert.ok(Math.abs(e.wallTime - Date.now() / 1000) < 600, 'wall time in seconds');
  }
  assert.equal(pretrain('--save_weight', 'off', '--max_steps', '1', '--use_tensorboard', '0').code, 0);
  assert.ok(!fs.existsSync(path.join(out, 'off', 'tb')), '--use_tensorboard 0 writes no event files');
});

test('a resumed run starts a new event file that tells TensorBoard to drop the first process\'s later steps', (t) => {
  assert.equal(pretrain('--save_weight', 'res', '--max_steps', '4', '--save_interval', '2').code, 0);
  const step2 = path.join(out, 'res', 'checkpoints', 'step-00000002');
  const r = pretrain('--save_weight', 'res', '--max_steps', '4', '--save_interval', '2', '--from_resume', step2);
  assert.equal(r.code, 0, r.stderr);
  const files = readDir(path.join(out, 'res', 'tb'));
  assert.equal(files.length, 2);
  assert.deepEqual(files[1].slice(1, 2).map((e) => [e.sessionStart, e.step]), [[true, 3]]);
  assert.deepEqual(files[1].slice(2).map((e) => e.step), [3, 4]);

  const py = tensorboardPython();
  if (!py) { t.diagnostic('no Python with tensorboard (set MINIMIND_PYTHON): TensorBoard\'s own reader not run'); return; }
  const read = spawnSync(py, [path.join(ROOT, 'scripts', 'fixtures', 'tensorboard_reads.py'), path.join(out, 'res', 'tb')], { encoding: 'utf8' });
  assert.equal(read.status, 0, read.stderr);
  const scalars = JSON.parse(read.stdout) as Record<string, [number, number][]>;
  // metrics.jsonl holds both processes' lines; TensorBoard keeps steps 1-2 of the first and 3-4 of the second
  const m = metrics('res'), last = new Map(m.map((e) => [e.step, e]));
  assert.deepEqual(scalars['train/loss'], [1, 2, 3, 4].map((s) => [s, f32(last.get(s)!.loss)]));
  assert.deepEqual(scalars['train/lr'].map((p) => p[0]), [1, 2, 3, 4]);
});

test('loss.svg: train loss, the learning rate dashed on its own axis, and the eval loss where one is logged', () => {
  const m = [1, 2, 3, 4].map((step) => ({ step, loss: 5 - step, lr: 1e-4 * step, ...(step % 2 ? {} : { eval_loss: 6 - step }) }));
  const svg = runChart(m, 'pretrain');
  const paths = [...svg.matchAll(/<path d="([^"]+)"[^>]*stroke="([^"]+)"[^>]*>/g)];
  assert.equal(paths.length, 3, svg);
  assert.match(svg, />eval loss</);
  assert.match(svg, />learning rate \(right axis\)</);
  assert.match(svg, /stroke-dasharray/);
  assert.match(svg, />4\.0e-4</, 'the right axis is labelled in the learning rate\'s own scale');
  // each line spans the plot on its own scale: the learning rate rises while the loss falls
  const ys = (d: string) => [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((x) => Number(x[1]));
  const [loss, , lr] = paths.map((p) => ys(p[1]));
  assert.ok(loss[0] < loss[3] && lr[0] > lr[3], 'SVG y grows downwards: loss goes down the page, lr up');
  const noEval = runChart(m.map(({ eval_loss: _e, ...e }) => e), 'pretrain');
  assert.doesNotMatch(noEval, /eval loss/);
  assert.match(fs.readFileSync(path.join(out, 'moe', 'loss.svg'), 'utf8'), /learning rate \(right axis\)/, 'a run\'s own loss.svg');
});
