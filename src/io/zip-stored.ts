// A read-only index of a zip file whose entries are STORED (uncompressed), read with positioned
// reads: torch.save writes exactly such zips, and its tensor data must be read in place, not
// inflated or loaded whole. Our own ~150 lines rather than a package: yauzl, node-stream-zip and
// unzipper are asynchronous streams, and adm-zip/jszip/fflate read the whole file into memory;
// none gives synchronous random access to an entry's bytes. ZIP64 (files over 4 GB) included.
import fs from 'node:fs';
import { UserError } from '../util/errors.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored; anything else is compressed */
  method: number;
  size: number;
  compressedSize: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50, EOCD64 = 0x06064b50, EOCD64_LOCATOR = 0x07064b50, CDH = 0x02014b50, LFH = 0x04034b50;
const U32_MAX = 0xffffffff;

/** Read exactly `length` bytes at `position` into a fresh (so aligned) buffer. */
export function readAt(fd: number, position: number, length: number, file: string): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new UserError(`${file}: truncated: wanted ${length} bytes at offset ${position}, the file ends at ${position + done}`);
    done += n;
  }
  return out;
}

function u64(v: DataView, at: number, file: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`${file}: corrupt zip: a ZIP64 size or offset of ${n} bytes`);
  return Number(n);
}

export class StoredZip {
  readonly entries = new Map<string, ZipEntry>();

  /** Index the zip open as `fd` (`file` names it in errors; `size` is its length in bytes). */
  constructor(readonly fd: number, readonly file: string, readonly size: number) {
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tail = readAt(fd, size - tailLen, tailLen, file);
    const tv = new DataView(tail.buffer);
    let at = -1;
    for (let i = tailLen - 22; i >= 0; i--) if (tv.getUint32(i, true) === EOCD) { at = i; break; }
    if (at < 0) throw new UserError(`${file}: truncated or corrupt zip: no end-of-central-directory record at the end of the file`);
    let count = tv.getUint16(at + 10, true), cdSize = tv.getUint32(at + 12, true), cdOffset = tv.getUint32(at + 16, true);
    let cdEnd = size - tailLen + at;
    if (at >= 20 && tv.getUint32(at - 20, true) === EOCD64_LOCATOR) {
      const pos = u64(tv, at - 20 + 8, file);
      const r = new DataView(readAt(fd, pos, 56, file).buffer);
      if (r.getUint32(0, true) !== EOCD64) throw new UserError(`${file}: corrupt zip: the ZIP64 end record is missing`);
      count = u64(r, 32, file); cdSize = u64(r, 40, file); cdOffset = u64(r, 48, file); cdEnd = pos;
    }
    if (cdOffset + cdSize > cdEnd) throw new UserError(`${file}: truncated or corrupt zip: the central directory (${cdSize} bytes at ${cdOffset}) runs past its end record`);
    const cd = readAt(fd, cdOffset, cdSize, file);
    const v = new DataView(cd.buffer);
    const utf8 = new TextDecoder();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || v.getUint32(p, true) !== CDH) throw new UserError(`${file}: corrupt zip: central directory entry ${i} is malformed`);
      const flags = v.getUint16(p + 8, true), method = v.getUint16(p + 10, true);
      let compressedSize = v.getUint32(p + 20, true), uncompressed = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true), extraLen = v.getUint16(p + 30, true), commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      const next = p + 46 + nameLen + extraLen + commentLen;
      if (next > cdSize) throw new UserError(`${file}: corrupt zip: central directory entry ${i} runs past the directory`);
      const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // ZIP64: each 32-bit field that reads 0xFFFFFFFF is in the 0x0001 extra field, in this order
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = v.getUint16(e, true), len = v.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          const field = () => {
            if (q + 8 > Math.min(e + 4 + len, next)) throw new UserError(`${file}: corrupt zip: entry ${name} has a short ZIP64 field`);
            q += 8;
            return u64(v, q - 8, file);
          };
          if (uncompressed === U32_MAX) uncompressed = field();
          if (compressedSize === U32_MAX) compressedSize = field();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = field();
        }
        e += 4 + len;
      }
      if (flags & 1) throw new UserError(`${file}: zip entry ${name} is encrypted`);
      this.entries.set(name, { name, method, size: uncompressed, compressedSize, localHeaderOffset });
      p = next;
    }
  }

  /** Where the entry's bytes start in the file (after its local header), checked to fit. */
  dataOffset(e: ZipEntry): number {
    if (e.method !== 0) {
      throw new UserError(`${this.file}: zip entry ${e.name} is compressed (method ${e.method}); torch.save stores entries uncompressed, so this file was re-zipped: load and re-save it with torch.save`);
    }
    const h = new DataView(readAt(this.fd, e.localHeaderOffset, 30, this.file).buffer);
    if (h.getUint32(0, true) !== LFH) throw new UserError(`${this.file}: corrupt zip: no local header for entry ${e.name}`);
    const start = e.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    if (start + e.size > this.size) throw new UserError(`${this.file}: truncated: entry ${e.name} ends at byte ${start + e.size} but the file has ${this.size}`);
    return start;
  }

  read(e: ZipEntry): Uint8Array {
    return readAt(this.fd, this.dataOffset(e), e.size, this.file);
  }
}
