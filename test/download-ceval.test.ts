// `minimind download ceval` against a local stand-in for the hub: the archive is fetched from
// ceval/ceval-exam and unpacked (deflated entries) into the layout `minimind ceval` reads.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import { listSubjects, readSubject } from '../src/eval/mcq-data.js';
import { cliAsync, tmpDir } from './helpers.js';

/** A zip of deflated entries (what the hub's ceval-exam.zip is). */
function zip(files: Record<string, string>): Buffer {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const raw = Buffer.from(text), data = zlib.deflateRawSync(raw), n = Buffer.from(name), crc = zlib.crc32(raw);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(8, 8); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18); lh.writeUInt32LE(raw.length, 22); lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(8, 10); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20); ch.writeUInt32LE(raw.length, 24); ch.writeUInt16LE(n.length, 28); ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, data); centrals.push(ch, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals), end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(Object.keys(files).length, 8); end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const CSV = 'id,question,A,B,C,D,answer,explanation\n0,"问题，一",甲,乙,丙,丁,C,\n1,问题二,甲,乙,丙,丁,A,\n';
const archive = zip({ 'val/logic_val.csv': CSV, 'dev/logic_dev.csv': CSV, 'test/logic_test.csv': 'id,question,A,B,C,D\n0,问题,甲,乙,丙,丁\n' });
let server: http.Server, endpoint: string;
const asked: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    asked.push(req.url!);
    if (req.url !== '/datasets/ceval/ceval-exam/resolve/main/ceval-exam.zip') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-length': archive.length });
    res.end(req.method === 'HEAD' ? undefined : archive);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test('download ceval fetches ceval-exam.zip and unpacks dev/val/test for `minimind ceval`', async () => {
  const out = path.join(tmpDir(), 'ceval-exam');
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = cliAsync(['download', 'ceval', '--endpoint', endpoint, '--out', out]);
    let err = '';
    c.stderr.on('data', (d) => { err += d; });
    c.on('exit', (code) => resolve({ code, stderr: err }));
  });
  assert.equal(code, 0, stderr);
  assert.match(stderr, /unpacked: 3 files/);
  assert.ok(asked.includes('/datasets/ceval/ceval-exam/resolve/main/ceval-exam.zip'));
  assert.equal(fs.readFileSync(path.join(out, 'val', 'logic_val.csv'), 'utf8'), CSV);
  const qs = readSubject(listSubjects(out, 'val')[0], true);
  assert.deepEqual(qs.map((q) => [q.subject, q.question, q.answer]), [['logic', '问题，一', 'C'], ['logic', '问题二', 'A']]);
});
