// Resumable downloads from the Hugging Face hub (or a mirror): the file grows as
// <name>.part, a rerun continues it with an HTTP Range request, and the result is checked
// against the SHA-256 the hub reports for LFS files before it is renamed into place.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../util/errors.js';

export interface DownloadProgress { (done: number, total: number): void }

export function hubUrl(endpoint: string, repo: string, kind: 'dataset' | 'model', file: string, revision = 'main'): string {
  return `${endpoint.replace(/\/$/, '')}/${kind === 'dataset' ? 'datasets/' : ''}${repo}/resolve/${revision}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try { return await fetch(url, { ...init, redirect: 'follow' }); } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new UserError(`cannot reach ${new URL(url).origin} (${cause}): are you offline? A mirror can be set with --endpoint or HF_ENDPOINT`);
  }
}

function sha256File(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r'), buf = Buffer.alloc(1 << 22);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

/** Download url to dest (resuming dest.part); returns 'done' or 'exists'. */
export async function download(url: string, dest: string, progress?: DownloadProgress): Promise<'done' | 'exists'> {
  const head = await request(url, { method: 'HEAD' });
  if (head.status === 404) throw new UserError(`${url}: not found (404)`);
  if (head.status === 401 || head.status === 403) throw new UserError(`${url}: access denied (${head.status})`);
  if (!head.ok) throw new UserError(`${url}: HTTP ${head.status}`);
  const total = Number(head.headers.get('x-linked-size') ?? head.headers.get('content-length') ?? 0);
  const etag = (head.headers.get('x-linked-etag') ?? head.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  const sha = /^[0-9a-f]{64}$/.test(etag) ? etag : null;
  if (fs.existsSync(dest) && total && fs.statSync(dest).size === total && (!sha || sha256File(dest) === sha)) return 'exists';
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (total && have > total) { fs.rmSync(part); have = 0; }
  if (!total || have < total) {
    const res = await request(url, { headers: have ? { Range: `bytes=${have}-` } : {} });
    if (!res.ok) throw new UserError(`${url}: HTTP ${res.status}`);
    if (have && res.status !== 206) have = 0; // the server ignored the range: start over
    const fd = fs.openSync(part, have ? 'a' : 'w');
    let done = have;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        fs.writeSync(fd, chunk);
        done += chunk.length;
        progress?.(done, total);
      }
    } catch (e) {
      throw new UserError(`download of ${path.basename(dest)} interrupted at ${done} of ${total || '?'} bytes (${(e as Error).message}); run again to resume`);
    } finally { fs.closeSync(fd); }
  }
  const size = fs.statSync(part).size;
  if (total && size !== total) throw new UserError(`download of ${path.basename(dest)} incomplete: ${size} of ${total} bytes; run again to resume`);
  if (sha && sha256File(part) !== sha) {
    fs.rmSync(part);
    throw new UserError(`${path.basename(dest)}: SHA-256 does not match the hub's (${sha}); the partial file was removed, run again`);
  }
  fs.renameSync(part, dest);
  return 'done';
}
