// What a hostile test found in `minimind serve`, each failure reproduced: malformed URLs and
// aborted uploads (500s, stack traces), the key check, other web pages reaching a local
// server (text/plain POSTs, DNS rebinding, cross-origin reads), HEAD/405/OPTIONS, the queue
// bound, slow requests, unrepresentable numbers, and a shutdown that cut streams silently.
import assert from 'node:assert/strict';
import http from 'node:http';
import util from 'node:util';
import { after, before, test } from 'node:test';
import { BatchDecoder } from '../src/serve/batch-decoder.js';
import { Engine } from '../src/serve/engine.js';
import { Guard } from '../src/serve/guard.js';
import { ApiServer, createServer } from '../src/serve/server.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { rawExchange, request, Running, scriptedEngine, startServer, stderrDuring, TinyModel, tinyModelDir } from './serve-helpers.js';

const JSON_TYPE = { 'Content-Type': 'application/json' };
const AUTH = { Authorization: 'Bearer sekret' };
const ask = JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], max_tokens: 2 });
const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string; type: string } }).error;

let m: TinyModel, locked: Running, open: Running;
before(async () => {
  m = await tinyModelDir();
  locked = await startServer(m, {}, { apiKey: 'sekret' });
  open = await startServer(m, {}, { corsOrigins: ['http://app.example'] });
});
after(async () => { await locked.close(); await open.close(); });

test('malformed URLs get a 4xx in OpenAI\'s shape (the key checked first), and nothing on stderr', async () => {
  const log = await stderrDuring(async () => {
    const r = await request(locked.url, 'GET', '/v1/models/%ZZ', AUTH);
    assert.equal(r.status, 400);
    assert.equal(errorOf(r.body).code, 'invalid_url');
    assert.equal((await request(locked.url, 'GET', '/v1/models/%ZZ')).status, 401);
    // a request line whose target is no URL at all
    for (const auth of ['Authorization: Bearer sekret\r\n', '']) {
      const { text } = await rawExchange(locked.url, [`GET http://[::1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Connection: close\r\n\r\n`]);
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.equal(errorOf(text.slice(text.indexOf('\r\n\r\n') + 4)).code, 'invalid_url');
    }
    // a request line Node's parser refuses
    const { text } = await rawExchange(locked.url, ['GET /\x01 HTTP/1.1\r\n\r\n']);
    assert.match(text, /^HTTP\/1\.1 400 /);
    assert.equal(errorOf(text.slice(text.indexOf('\r\n\r\n') + 4)).type, 'invalid_request_error');
  });
  assert.equal(log, '');
});

test('an aborted upload prints no stack trace and the server goes on', async () => {
  const log = await stderrDuring(async () => {
    await rawExchange(locked.url, [`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sekret\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"messages": [`, 100], 150);
    await new Promise((r) => setTimeout(r, 100));
  });
  assert.equal(log, '');
  assert.equal((await request(locked.url, 'POST', '/v1/chat/completions', { ...AUTH, ...JSON_TYPE }, ask)).status, 200);
});

test('the key is held only as a digest (compared in constant time), and its scheme is required', () => {
  const g = new Guard({ apiKey: 'sekret-key-123' }, () => null);
  assert.ok(!util.inspect(g, { showHidden: true, depth: 8 }).includes('sekret-key-123'), 'no plain key to compare with !==');
  assert.equal(g.authorized('Bearer sekret-key-123'), true);
  for (const a of ['sekret-key-123', 'Bearer sekret-key-12', 'Bearer sekret-key-1234', 'Bearer  ', 'Token sekret-key-123', undefined]) assert.equal(g.authorized(a), false, String(a));
});

test('other web pages cannot use a keyless local server: text/plain forms, DNS rebinding, cross-origin reads', async () => {
  const url = open.url, host = new URL(url).host, steps = open.engine.stats.steps;
  // a cross-site <form enctype="text/plain"> POST
  const form = await request(url, 'POST', '/v1/chat/completions', { 'Content-Type': 'text/plain', Origin: 'http://evil.example' }, ask);
  assert.equal(form.status, 403);
  assert.equal(errorOf(form.body).code, 'origin_not_allowed');
  // the same body as text/plain without an Origin (an old browser, a no-referrer form): not JSON, refused
  const plain = await request(url, 'POST', '/v1/chat/completions', { 'Content-Type': 'text/plain' }, ask);
  assert.equal(plain.status, 415);
  assert.equal(errorOf(plain.body).code, 'unsupported_media_type');
  assert.equal((await request(url, 'POST', '/v1/completions', {}, '{"prompt": "x"}')).status, 415, 'no Content-Type');
  assert.equal(open.engine.stats.steps, steps, 'nothing was generated');
  // DNS rebinding: a page at evil.example whose name now resolves to 127.0.0.1
  for (const [method, path, body] of [['GET', '/v1/models', undefined], ['POST', '/v1/chat/completions', ask], ['GET', '/', undefined]] as const) {
    const r = await request(url, method, path, { Host: `evil.example:${new URL(url).port}`, ...JSON_TYPE }, body);
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.equal(errorOf(r.body).code, 'host_not_allowed');
  }
  assert.equal((await request(url, 'GET', '/v1/models', { Host: `localhost:${new URL(url).port}` })).status, 200, 'the bound address\'s own names');
  // a cross-origin fetch and its preflight
  const read = await request(url, 'GET', '/v1/models', { Origin: 'http://evil.example' });
  assert.equal(read.status, 403);
  assert.equal(read.headers['access-control-allow-origin'], undefined);
  const pre = await request(url, 'OPTIONS', '/v1/chat/completions', { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' });
  assert.equal(pre.status, 403);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  // the page's own requests (same origin) pass
  assert.equal((await request(url, 'POST', '/v1/chat/completions', { Origin: `http://${host}`, ...JSON_TYPE }, ask)).status, 200);
});

test('--cors_origin: that origin gets preflight answers and CORS headers', async () => {
  const origin = 'http://app.example';
  const pre = await request(open.url, 'OPTIONS', '/v1/chat/completions', { Origin: origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type, x-stainless-os' });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], origin);
  assert.equal(pre.headers['access-control-allow-methods'], 'POST');
  assert.equal(pre.headers['access-control-allow-headers'], 'authorization, content-type, x-stainless-os');
  assert.equal(pre.headers['access-control-max-age'], '600');
  const r = await request(open.url, 'POST', '/v1/chat/completions', { Origin: origin, ...JSON_TYPE }, ask);
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], origin);
  assert.equal(r.headers.vary, 'Origin');
  const e = await request(open.url, 'POST', '/v1/chat/completions', { Origin: origin, ...JSON_TYPE }, '{');
  assert.equal(e.status, 400);
  assert.equal(e.headers['access-control-allow-origin'], origin, 'errors too, so the page can read them');
});

test('HEAD answers where GET does; a wrong method gets 405 with Allow; OPTIONS lists the methods', async () => {
  for (const p of ['/health', '/v1/models', '/v1/models/tiny', '/']) {
    const get = await request(locked.url, 'GET', p, AUTH), head = await request(locked.url, 'HEAD', p, AUTH);
    assert.equal(head.status, 200, p);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-type'], get.headers['content-type']);
  }
  for (const [method, p, allow] of [['GET', '/v1/chat/completions', 'POST, OPTIONS'], ['DELETE', '/v1/models', 'GET, HEAD, OPTIONS'], ['POST', '/health', 'GET, HEAD, OPTIONS'], ['PUT', '/', 'GET, HEAD, OPTIONS']]) {
    const r = await request(locked.url, method, p, { ...AUTH, ...JSON_TYPE }, method === 'GET' ? undefined : '{}');
    assert.equal(r.status, 405, `${method} ${p}`);
    assert.equal(r.headers.allow, allow);
    assert.equal(errorOf(r.body).code, 'method_not_allowed');
  }
  const opt = await request(locked.url, 'OPTIONS', '/v1/completions');
  assert.equal(opt.status, 204);
  assert.equal(opt.headers.allow, 'POST, OPTIONS');
  assert.equal((await request(locked.url, 'GET', '/v1/nothing', AUTH)).status, 404);
});

test('the queue bound counts the requests whose prompts are being prefilled', async () => {
  // a decoder whose prefill waits until released: the first request sits in it
  let release!: () => void, joined!: () => void;
  const gate = new Promise<void>((r) => { release = r; }), joining = new Promise<void>((r) => { joined = r; });
  const real = await BatchDecoder.create(m.config, (await import('../src/io/model-dir.js')).loadModelDir(m.dir).params, { threads: 1 });
  const slow = Object.create(real) as BatchDecoder;
  slow.join = async (...a: Parameters<BatchDecoder['join']>) => { joined(); await gate; return real.join(...a); };
  const engine = new Engine(slow, { maxBatch: 1, maxQueue: 1, contextWindow: 64, vocabLimit: 300, gatherMs: 0 });
  const req = { maxTokens: 1, sampling: { temperature: 0 }, stopIds: [] };
  const a = engine.submit({ ...req, prompt: [1, 2] });
  await joining;
  const b = engine.submit({ ...req, prompt: [3] }); // the one queued place
  assert.throws(() => engine.submit({ ...req, prompt: [4] }), /busy: 1 requests queued/);
  assert.throws(() => engine.submitAll([{ ...req, prompt: [5] }]), /busy/);
  release();
  assert.deepEqual(await Promise.all([a.done, b.done]), ['length', 'length']);
  await engine.release();
});

test('slow headers, slow bodies and idle keep-alive connections are cut by their timeouts', async () => {
  const slowHeaders = ['POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n'];
  const slowBody = ['POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mess'];
  const cut = async (url: string, pieces: string[], withinMs: number) => {
    const r = await rawExchange(url, pieces);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.equal(errorOf(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).code, 'request_timeout');
    assert.ok(r.closedAfterMs < withinMs, `closed after ${r.closedAfterMs} ms`);
  };
  const headers = await startServer(m, {}, { headerTimeout: 0.5, bodyTimeout: 30 });
  const body = await startServer(m, {}, { bodyTimeout: 1, keepAliveTimeout: 0.3 }); // the default header timeout (10 s) is longer
  try {
    await cut(headers.url, slowHeaders, 1500);
    await cut(body.url, slowBody, 2500);
    await cut(body.url, slowHeaders, 2500);
    const idle = await rawExchange(body.url, ['GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n']);
    assert.match(idle.text, /^HTTP\/1\.1 200 /);
    assert.ok(idle.closedAfterMs < 1500, `an idle keep-alive connection closed after ${idle.closedAfterMs} ms`);
  } finally { await headers.close(); await body.close(); }
});

test('a number too large to represent gets a message that says so', async () => {
  const r = await request(locked.url, 'POST', '/v1/chat/completions', { ...AUTH, ...JSON_TYPE }, '{"messages": [{"role": "user", "content": "x"}], "temperature": 1e400}');
  assert.equal(r.status, 400);
  const e = errorOf(r.body);
  assert.doesNotMatch(e.message, /got number/);
  assert.match(e.message, /'temperature' must be between 0 and 2; the number given is too large to represent/);
});

/** Open a stream and read its first chunk; resolves the rest when it ends. */
async function openStream(url: string): Promise<{ rest: Promise<string> }> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }) });
  const reader = res.body!.getReader(), dec = new TextDecoder();
  let text = dec.decode((await reader.read()).value);
  const rest = (async () => { for (;;) { const { value, done } = await reader.read(); if (done) return text; text += dec.decode(value); } })();
  return { rest };
}

test('shutdown: no new requests, running streams finish within the grace period or end with a chunk that says why', async () => {
  const tok = MiniTokenizer.load(m.dir);
  const start = async (engine: Engine) => {
    const server = createServer(engine, tok, { name: 'tiny', bodyLimit: 65536, contextWindow: 256, limits: {} }) as ApiServer;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
  };
  // an endless stream is cut at the end of the grace period
  const endless = await start(scriptedEngine('endless', 20));
  const s1 = await openStream(endless.url);
  const idle = rawExchange(endless.url, ['GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], 5000); // a keep-alive connection
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  const report = endless.server.shutdown(400);
  await assert.rejects(fetch(`${endless.url}/health`), 'no new connections');
  assert.deepEqual(await report, { finished: 0, cut: 1 });
  assert.ok(performance.now() - t0 >= 390, 'the stream had its grace period');
  const text = await s1.rest;
  const events = text.split('\n\n').filter(Boolean);
  assert.equal(events.at(-1), 'data: [DONE]');
  const last = JSON.parse(events.at(-2)!.slice(6)) as { error: { code: string; message: string } };
  assert.equal(last.error.code, 'server_shutdown');
  assert.match(last.error.message, /cut after the 0\.4 s grace period \(--shutdown_grace\)/);
  assert.ok((await idle).closedAfterMs < 1000, 'the idle keep-alive connection was closed');
  // a stream that ends within the grace period finishes as usual
  const short = await start(scriptedEngine([40, 41, 42, 43, 44, 45], 50));
  const s2 = await openStream(short.url);
  assert.deepEqual(await short.server.shutdown(5000), { finished: 1, cut: 0 });
  const done = await s2.rest;
  assert.match(done, /"finish_reason":"stop"/);
  assert.ok(done.endsWith('data: [DONE]\n\n'));
  assert.ok(!done.includes('server_shutdown'));
});

test('during a shutdown, a request on a kept-alive connection gets 503 and the connection closes', async () => {
  const tok = MiniTokenizer.load(m.dir);
  const server = createServer(scriptedEngine('endless', 20), tok, { name: 'tiny', bodyLimit: 65536, contextWindow: 256, limits: {} });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const s = await openStream(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () => new Promise<{ status: number; connection?: string }>((resolve, reject) =>
    http.get(`${url}/health`, { agent }, (res) => { res.resume(); res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection })); }).on('error', reject));
  assert.equal((await get()).status, 200); // the agent keeps this connection
  const report = server.shutdown(300);
  const during = await get().catch(() => null); // the kept connection may already be closed, idle: both are fine
  if (during) { assert.equal(during.status, 503); assert.equal(during.connection, 'close'); }
  await report;
  await s.rest;
  agent.destroy();
});

test('a prefill that fails ends its requests with an error (they were left waiting) and the engine goes on', { timeout: 20_000 }, async () => {
  const real = await BatchDecoder.create(m.config, (await import('../src/io/model-dir.js')).loadModelDir(m.dir).params, { threads: 1 });
  const flaky = Object.create(real) as BatchDecoder;
  let fail = true;
  flaky.join = async (...a: Parameters<BatchDecoder['join']>) => { if (fail) { fail = false; throw new Error('prefill failed'); } return real.join(...a); };
  const engine = new Engine(flaky, { maxBatch: 2, maxQueue: 4, contextWindow: 64, vocabLimit: 300, gatherMs: 0 });
  const req = { prompt: [1, 2, 3], maxTokens: 2, sampling: { temperature: 0 }, stopIds: [] };
  const first = engine.submit(req);
  assert.equal(await first.done, 'error');
  assert.match(first.error!.message, /prefill failed/);
  assert.equal(await engine.submit(req).done, 'length');
  await engine.release();
});
