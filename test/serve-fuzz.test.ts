// A bounded fuzz of `minimind serve` (seeded, so a failure repeats): malformed request lines,
// headers and framing, then API bodies whose fields take hostile values. Every answer is a
// status below 500 with an OpenAI error object when it is an error, nothing reaches stderr,
// and a normal request works afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Rng } from '../src/util/rng.js';
import { rawExchange, request, Running, startServer, stderrDuring, tinyModelDir } from './serve-helpers.js';

let s: Running;
before(async () => { s = await startServer(await tinyModelDir(), {}, { headerTimeout: 1, bodyTimeout: 2, keepAliveTimeout: 0.2 }); });
after(async () => { await s.close(); });

const rng = new Rng(2024);
const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];

/** JSON texts of hostile values (1e400 parses as Infinity; deep nesting stays within the body limit). */
const NASTY = ['null', 'true', 'false', '0', '-1', '1e400', '-1e400', '-0', '1.5', '9007199254740993', '""', '"x"', '"\\u0000"', '"\\ud800"', '[]', '{}', '[[]]',
  '[1,2,3]', '[-5]', '[1e9]', '[0.5]', '["a",1]', '[[1,2],[]]', '{"a":1}', '"' + 'é'.repeat(3000) + '"', '['.repeat(2000) + ']'.repeat(2000),
  '[{"role":"user","content":"hi"}]', '[{"role":"user"}]', '[{"role":"wizard","content":"x"}]', '[{"role":"user","content":[{"type":"image_url"}]}]',
  '[{"role":"user","content":[{"type":"text","text":"hi"}]}]', '{"include_usage":"yes"}', '{"include_usage":true}', '2', '20', '21', '256', '300'] as const;
const FIELDS = ['messages', 'prompt', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'top_k', 'n', 'stop', 'seed',
  'logprobs', 'top_logprobs', 'echo', 'tools', 'repetition_penalty', 'ignore_eos', 'enable_thinking', 'chat_template_kwargs', '__proto__', 'constructor'];

function hostileBody(path: string): string {
  const fields: string[] = [];
  // mostly a request that is valid apart from a field or two, so the checks past the first are reached
  if (path.endsWith('chat/completions') && rng.next() < 0.7) fields.push('"messages":[{"role":"user","content":"hello"}]');
  if (path.endsWith('/completions') && !path.includes('chat') && rng.next() < 0.7) fields.push(`"prompt":${pick(['"hello"', '[5,6,7]', '[[5,6],[7]]', '["a","b"]'])}`);
  fields.push('"max_tokens":4');
  for (let k = 1 + rng.int(3); k > 0; k--) fields.push(`${JSON.stringify(pick(FIELDS))}:${pick(NASTY)}`);
  return `{${fields.join(',')}}`;
}

const RAW = [
  'GET http://[::1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'GET /%ZZ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'GET /v1/models/%E0%A4%A HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GARBAGE\r\n\r\n', '\x00\x01\x02\r\n\r\n',
  `GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`,
  'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}',
  'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{',
  'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n\xff\xfe\xfd\xfc',
  'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n', 'GET / HTTP/1.1\r\nHost: \r\n\r\n', 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: null\r\n\r\n',
  'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 2\r\n\r\n[]',
];

/** The status of a raw exchange's first answer, and its body when it is an error. */
function parsed(text: string): { status: number; body: string } | null {
  const mm = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return mm ? { status: Number(mm[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) } : null;
}

const errorShape = (body: string) => {
  const e = (JSON.parse(body) as { error: Record<string, unknown> }).error;
  assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type']);
};

test('malformed requests of many shapes get 4xx answers in OpenAI\'s shape; then a normal request works', { timeout: 240_000 }, async () => {
  const statuses = new Map<number, number>();
  const log = await stderrDuring(async () => {
    for (const raw of RAW) {
      const r = parsed((await rawExchange(s.url, [raw], 4000)).text);
      assert.ok(r, `no answer to ${JSON.stringify(raw.slice(0, 60))}`);
      assert.ok(r.status < 500, `${r.status} for ${JSON.stringify(raw.slice(0, 60))}`);
      if (r.status >= 400 && r.body) errorShape(r.body);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
    const paths = ['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions', '/v1/completions', '/v1/completions', '/v1/completions',
      '/tokenize', '/detokenize', '/v1/models', '/health', '/', '/v1/models/%FF', '/v1/models/tiny/../..'];
    const types = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ''];
    for (let i = 0; i < 300; i++) {
      const path = pick(paths), method = rng.next() < 0.85 ? 'POST' : pick(['GET', 'PUT', 'DELETE', 'PATCH', 'HEAD']);
      const type = rng.next() < 0.85 ? 'application/json' : pick(types);
      const body = rng.next() < 0.9 ? hostileBody(path) : pick(['', '{', 'null', '[]', '"x"', '{"a":', '\u0000']);
      const r = await request(s.url, method, path, type ? { 'Content-Type': type } : {}, method === 'HEAD' ? undefined : body);
      assert.ok(r.status < 500, `${method} ${path} ${body.slice(0, 200)} -> ${r.status} ${r.body.slice(0, 300)}`);
      if (r.status >= 400 && method !== 'HEAD') errorShape(r.body);
      if (r.status === 200 && r.headers['content-type']?.startsWith('text/event-stream')) assert.ok(r.body.endsWith('data: [DONE]\n\n'), r.body.slice(-200));
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  });
  assert.equal(log, '', 'nothing on stderr');
  assert.ok((statuses.get(400) ?? 0) > 50 && (statuses.get(200) ?? 0) > 10, `a mix of refusals and answers: ${JSON.stringify([...statuses])}`);
  const ok = await request(s.url, 'POST', '/v1/chat/completions', { 'Content-Type': 'application/json' }, JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }));
  assert.equal(ok.status, 200);
  assert.equal(s.engine.batch, 0, 'no row left behind');
});
