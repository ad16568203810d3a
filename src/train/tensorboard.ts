// TensorBoard event files: a run's logged metrics (loss, learning rate, gradient norm,
// tokens/s and each stage's own, DPO margins, MoE aux loss) as TensorFlow `Event` protos in
// TFRecord framing, which `tensorboard --logdir out` reads. The few proto fields are written
// by hand (wire format, proto3 rules: zero scalars outside a oneof are left out), so the
// bytes equal those of TensorBoard's own writer (test/tensorboard.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), TFRecord's checksum. */
export function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC32C_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord stores checksums rotated and offset ("masked"). */
const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** One TFRecord: length (u64), its masked CRC, the data, the data's masked CRC; little-endian. */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(data.length + 16);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(masked(crc32c(out.subarray(0, 8))), 8);
  out.set(data, 12);
  out.writeUInt32LE(masked(crc32c(data)), data.length + 12);
  return out;
}

// --- protobuf wire format: tag = field << 3 | type (0 varint, 1 fixed64, 2 bytes, 5 fixed32)
function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; out.push(b); } while (v);
  return out;
}
const key = (field: number, type: number) => varint(BigInt((field << 3) | type));
const bytesField = (field: number, b: Uint8Array | number[]) => [...key(field, 2), ...varint(BigInt(b.length)), ...b];
const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];
function fixed(field: number, value: number, type: 'double' | 'float'): number[] {
  const b = Buffer.alloc(type === 'double' ? 8 : 4);
  if (type === 'double') b.writeDoubleLE(value); else b.writeFloatLE(value);
  return [...key(field, type === 'double' ? 1 : 5), ...b];
}

export interface TbEvent {
  wallTime: number;
  step?: number;
  /** the first event of a file: "brain.Event:2" */
  fileVersion?: string;
  /** Summary values: tag and float */
  scalars?: [string, number][];
  /** SessionLog START: TensorBoard drops what earlier files logged at this step and later (a resumed run) */
  sessionStart?: boolean;
}

/** An `Event` message (tensorflow/core/util/event.proto). */
export function eventProto(e: TbEvent): Uint8Array {
  const out: number[] = [];
  if (e.wallTime) out.push(...fixed(1, e.wallTime, 'double'));
  if (e.step) out.push(...key(2, 0), ...varint(BigInt(e.step)));
  if (e.fileVersion !== undefined) out.push(...bytesField(3, utf8(e.fileVersion)));
  if (e.scalars) {
    // Summary { repeated Value value = 1 }, Value { string tag = 1; oneof value { float simple_value = 2 } }
    const summary = e.scalars.flatMap(([tag, v]) => bytesField(1, [...bytesField(1, utf8(tag)), ...fixed(2, v, 'float')]));
    out.push(...bytesField(5, summary));
  }
  if (e.sessionStart) out.push(...bytesField(7, [...key(1, 0), 1])); // SessionLog { status = START (1) }
  return Uint8Array.from(out);
}

/** A metrics entry's key as a TensorBoard tag: `train/loss`, `eval/loss` for `eval_loss`. */
export function tagOf(key: string): string {
  return key.startsWith('eval_') ? `eval/${key.slice(5)}` : `train/${key}`;
}

/** Appends a run's metrics to one event file in `dir` (a new file per process, as TensorBoard's writers do). */
export class TensorBoardWriter {
  private static count = 0;
  readonly file: string;
  private readonly clock: () => number;

  /**
   * `resumeStep`: the checkpoint's step when this process resumes a run, so that TensorBoard
   * drops what an earlier process logged after it; `clock`: seconds since the epoch.
   */
  constructor(dir: string, o: { resumeStep?: number; clock?: () => number } = {}) {
    this.clock = o.clock ?? (() => Date.now() / 1000);
    fs.mkdirSync(dir, { recursive: true });
    const t = this.clock();
    this.file = path.join(dir, `events.out.tfevents.${Math.floor(t)}.${os.hostname()}.${process.pid}.${TensorBoardWriter.count++}`);
    this.append({ wallTime: t, fileVersion: 'brain.Event:2' });
    if (o.resumeStep !== undefined) this.append({ wallTime: this.clock(), step: o.resumeStep + 1, sessionStart: true });
  }

  /** One event with every finite number of the entry but `step` (NaN, e.g. an unmeasured norm, is left out). */
  scalars(step: number, entry: Record<string, number>): void {
    const scalars = Object.entries(entry).filter(([k, v]) => k !== 'step' && Number.isFinite(v)).map(([k, v]) => [tagOf(k), v] as [string, number]);
    this.append({ wallTime: this.clock(), step, scalars });
  }

  append(e: TbEvent): void {
    fs.appendFileSync(this.file, tfRecord(eventProto(e)));
  }
}

/** The writer for a run directory's `tb/`, resuming after `checkpoint` when one is given. */
export function runEventWriter(runDir: string, checkpoint: string | null): TensorBoardWriter {
  let resumeStep: number | undefined;
  if (checkpoint) {
    try { resumeStep = JSON.parse(fs.readFileSync(path.join(checkpoint, 'state.json'), 'utf8')).step; } catch { /* the loop reports a corrupt checkpoint */ }
  }
  return new TensorBoardWriter(path.join(runDir, 'tb'), { resumeStep });
}
