// Extract a whole zip (stored or deflated entries) into a folder: the C-Eval archive. The
// index comes from StoredZip; deflated data is inflated with node's zlib.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { UserError } from '../util/errors.js';
import { readAt, StoredZip } from './zip-stored.js';

/** Extract `file` into `outDir`; returns the files written (relative names). */
export function unzipTo(file: string, outDir: string): string[] {
  const fd = fs.openSync(file, 'r');
  try {
    const zip = new StoredZip(fd, file, fs.fstatSync(fd).size);
    const written: string[] = [];
    for (const e of zip.entries.values()) {
      if (e.name.endsWith('/')) continue;
      const rel = path.normalize(e.name);
      if (path.isAbsolute(rel) || rel.startsWith('..')) throw new UserError(`${file}: entry "${e.name}" points outside the target folder`);
      const h = new DataView(readAt(fd, e.localHeaderOffset, 30, file).buffer);
      if (h.getUint32(0, true) !== 0x04034b50) throw new UserError(`${file}: corrupt zip: no local header for entry ${e.name}`);
      const raw = readAt(fd, e.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true), e.compressedSize, file);
      let data: Uint8Array;
      if (e.method === 0) data = raw;
      else if (e.method === 8) {
        try { data = zlib.inflateRawSync(raw); } catch (err) { throw new UserError(`${file}: entry ${e.name} does not inflate (${(err as Error).message})`); }
      } else throw new UserError(`${file}: entry ${e.name} uses compression method ${e.method} (only stored and deflate are supported)`);
      if (data.length !== e.size) throw new UserError(`${file}: entry ${e.name} is ${data.length} bytes, the index says ${e.size}`);
      const dest = path.join(outDir, rel);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, data);
      written.push(rel);
    }
    return written;
  } finally { fs.closeSync(fd); }
}
