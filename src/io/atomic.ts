// Write files and directories under a temporary name, then rename: a crash or kill -9
// mid-write never leaves a half-written file where a good one was.
import fs from 'node:fs';
import path from 'node:path';

export function tmpName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now()}`);
}

export function writeFileAtomic(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  const fd = fs.openSync(tmp, 'w');
  try { if (typeof data === 'string') fs.writeSync(fd, data); else fs.writeSync(fd, data); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, target);
}

/** Build a directory with `fill(tmpDir)`, then swap it in place of `target`. */
export function writeDirAtomic(target: string, fill: (dir: string) => void): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tmpName(target);
  fs.mkdirSync(tmp);
  try { fill(tmp); } catch (e) { fs.rmSync(tmp, { recursive: true, force: true }); throw e; }
  if (fs.existsSync(target)) {
    const old = tmpName(target) + '.old';
    fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, target);
  }
}
