// `minimind download` against a local stand-in for the hub: resume after an interrupted
// transfer, checksum verification, clear errors offline and for missing files.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliAsync, tmpDir } from './helpers.js';

const payload = crypto.randomBytes(300_000);
const sha = crypto.createHash('sha256').update(payload).digest('hex');
let server: http.Server, endpoint: string, cutNext = true, corrupt = false;
const ranges: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    if (!req.url!.startsWith('/datasets/jingyaogong/minimind_dataset/resolve/main/pretrain_hq.jsonl')) { res.writeHead(404).end(); return; }
    const body = corrupt ? Buffer.from(payload).fill(7, 0, 10) : payload;
    const headers = { 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(body.length), 'accept-ranges': 'bytes' };
    if (req.method === 'HEAD') { res.writeHead(200, { ...headers, 'content-length': body.length }).end(); return; }
    const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    ranges.push(req.headers.range ?? 'none');
    const from = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { ...headers, 'content-length': body.length - from });
    if (cutNext) { cutNext = false; res.write(body.subarray(from, from + 100_000)); setTimeout(() => res.destroy(), 50); return; } // drop the connection
    res.end(body.subarray(from));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = cliAsync(args);
    let stderr = '';
    c.stderr.on('data', (d) => { stderr += d; });
    c.on('exit', (code) => resolve({ code, stderr }));
  });
}

test('an interrupted download resumes with a Range request and is checked against the hub SHA-256', async () => {
  const out = tmpDir();
  const first = await run(['download', 'dataset', 'pretrain_hq.jsonl', '--endpoint', endpoint, '--out', out]);
  assert.equal(first.code, 1);
  assert.match(first.stderr, /interrupted at 100000 of 300000 bytes .*run again to resume|incomplete: 100000 of 300000 bytes/);
  assert.equal(fs.statSync(path.join(out, 'pretrain_hq.jsonl.part')).size, 100_000);
  const second = await run(['download', 'dataset', 'pretrain_hq.jsonl', '--endpoint', endpoint, '--out', out]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(ranges[ranges.length - 1], 'bytes=100000-');
  assert.ok(fs.readFileSync(path.join(out, 'pretrain_hq.jsonl')).equals(payload));
  const third = await run(['download', 'dataset', 'pretrain_hq.jsonl', '--endpoint', endpoint, '--out', out]);
  assert.match(third.stderr, /up to date/);
});

test('a corrupt transfer fails the checksum; missing files and no network are clear errors', async () => {
  const out = tmpDir();
  corrupt = true;
  const bad = await run(['download', 'dataset', 'pretrain_hq.jsonl', '--endpoint', endpoint, '--out', out]);
  corrupt = false;
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /SHA-256 does not match/);
  const missing = await run(['download', 'dataset', 'nope.jsonl', '--endpoint', endpoint, '--out', out]);
  assert.match(missing.stderr, /nope\.jsonl: not found \(404\)/);
  const offline = await run(['download', 'dataset', '--endpoint', 'http://127.0.0.1:9', '--out', out]);
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /cannot reach http:\/\/127\.0\.0\.1:9 .*offline/);
  assert.doesNotMatch(offline.stderr, /\n\s+at /);
});
