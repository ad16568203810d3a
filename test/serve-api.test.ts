// `minimind serve` through the official openai client: answers, streaming, usage, stop
// sequences, completions, OpenAI-style errors as the client's exception types, API key,
// body limit, no files outside the page, disconnects freeing their slot; and the CLI.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { OutputParser } from '../src/serve/output.js';
import { cli, cliAsync, isCleanError } from './helpers.js';
import { Running, startServer, TinyModel, tinyModelDir } from './serve-helpers.js';

let m: TinyModel, s: Running, client: OpenAI;
const JSON_TYPE = { 'Content-Type': 'application/json' };
before(async () => {
  m = await tinyModelDir();
  s = await startServer(m);
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => { await s.close(); });

const ask = [{ role: 'user' as const, content: 'hello there' }];

test('non-streamed and streamed answers agree, with usage and finish_reason', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 0, max_tokens: 12 });
  const c = r.choices[0];
  assert.equal(r.object, 'chat.completion');
  assert.equal(c.message.role, 'assistant');
  assert.ok(r.usage && r.usage.prompt_tokens > 3, 'usage.prompt_tokens');
  assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  if (c.finish_reason === 'length') assert.equal(r.usage!.completion_tokens, 12);
  else { assert.equal(c.finish_reason, 'stop'); assert.ok(r.usage!.completion_tokens < 12); }
  assert.ok(c.message.content!.length > 0, 'some text');

  const stream = await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
  let text = '', finish: string | null = null, usage = null, chunks = 0;
  for await (const ch of stream) {
    chunks++;
    assert.equal(ch.object, 'chat.completion.chunk');
    if (ch.usage) { usage = ch.usage; assert.equal(ch.choices.length, 0); continue; }
    text += ch.choices[0].delta.content ?? '';
    if (ch.choices[0].finish_reason) finish = ch.choices[0].finish_reason;
  }
  assert.ok(chunks > 3, `streamed in pieces (${chunks} chunks)`);
  assert.equal(text.trim(), c.message.content);
  assert.equal(finish, c.finish_reason);
  assert.deepEqual(usage, r.usage);
  // the raw stream is SSE that ends with [DONE]
  const raw = await (await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ messages: ask, stream: true, max_tokens: 3 }) })).text();
  assert.match(raw, /^data: \{.*\n\n/);
  assert.ok(raw.endsWith('data: [DONE]\n\n'), raw.slice(-40));
});

test('a stop sequence cuts the answer and finishes with "stop"; completions continue plain text', async () => {
  const full = (await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 0, max_tokens: 30 })).choices[0].message.content!;
  assert.ok(full.length >= 8, `long enough to cut: ${JSON.stringify(full)}`);
  const stop = full.slice(4, 6);
  const r = await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 0, max_tokens: 30, stop: [stop] });
  assert.equal(r.choices[0].message.content, full.slice(0, full.indexOf(stop)).trimEnd());
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage!.completion_tokens < 30);
  let streamed = '';
  for await (const ch of await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 0, max_tokens: 30, stop, stream: true })) streamed += ch.choices[0]?.delta.content ?? '';
  assert.ok(!streamed.includes(stop), 'the stop sequence is never streamed');
  assert.equal(streamed.trimEnd(), r.choices[0].message.content);

  const cmp = await client.completions.create({ model: 'tiny', prompt: 'The capital', max_tokens: 6, temperature: 1, seed: 3 });
  assert.equal(cmp.object, 'text_completion');
  assert.equal(cmp.usage!.completion_tokens <= 6, true);
  assert.ok(cmp.choices[0].text.length > 0);
  // a seed makes sampling repeatable
  const sampled = async () => (await client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 1, max_tokens: 10, seed: 9 })).choices[0].message.content;
  assert.equal(await sampled(), await sampled());
});

test('bad requests get OpenAI errors (the client raises its exception types) and the server keeps serving', async () => {
  const expect = async (p: Promise<unknown>, type: new (...a: never[]) => Error, status: number, param: string | null, code?: string) => {
    await assert.rejects(p, (e: InstanceType<typeof OpenAI.APIError>) => {
      assert.ok(e instanceof type, `${e.constructor.name} is ${type.name}`);
      assert.equal(e.status, status);
      assert.equal(e.param, param);
      if (code) assert.equal(e.code, code);
      assert.equal(e.type, status === 429 ? 'rate_limit_error' : status === 401 ? 'authentication_error' : 'invalid_request_error');
      return true;
    });
  };
  await expect(client.chat.completions.create({ model: 'tiny', messages: [] }), OpenAI.BadRequestError, 400, 'messages', 'empty_array');
  await expect(client.chat.completions.create({ model: 'tiny', messages: ask, temperature: 'hot' as unknown as number }), OpenAI.BadRequestError, 400, 'temperature', 'invalid_type');
  await expect(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'wizard', content: 'x' }] as never }), OpenAI.BadRequestError, 400, 'messages[0].role');
  await expect(client.chat.completions.create({ model: 'gpt-9', messages: ask }), OpenAI.NotFoundError, 404, 'model', 'model_not_found');
  await expect(client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'word '.repeat(400) }] }), OpenAI.BadRequestError, 400, 'messages', 'context_length_exceeded');
  // malformed JSON, an unknown URL, a body over the limit (refused from its declared length)
  const bad = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: '{"messages": [' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_json');
  const nf = await fetch(`${s.url}/v1/nothing`);
  assert.equal(nf.status, 404);
  assert.deepEqual(Object.keys(((await nf.json()) as { error: object }).error).sort(), ['code', 'message', 'param', 'type']);
  const big = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }) });
  assert.equal(big.status, 413);
  // only the page's own files: no path reaches the file system
  for (const p of ['/static/../package.json', '/static/%2e%2e/%2e%2e/package.json', '/package.json', '/static/app.js/..%2f..%2fpackage.json', '/..%2f..%2fetc/passwd']) {
    const r = await fetch(`${s.url}${p}`);
    assert.equal(r.status, 404, p);
  }
  assert.equal((await fetch(`${s.url}/static/marked.js`)).status, 200);
  const ok = await client.chat.completions.create({ model: 'tiny', messages: ask, max_tokens: 2 });
  assert.equal(ok.choices.length, 1);
  const health = (await (await fetch(`${s.url}/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
  assert.equal((await client.models.list()).data[0].id, 'tiny');
});

test('a full queue answers 429 and a client that disconnects frees its slot at once', async () => {
  const busy = await startServer(m, { maxBatch: 1, maxQueue: 1 });
  try {
    const c = new OpenAI({ baseURL: `${busy.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const ac = new AbortController();
    const long = await c.chat.completions.create({ model: 'tiny', messages: ask, max_tokens: 200, stream: true, ignore_eos: true } as never, { signal: ac.signal }) as unknown as AsyncIterable<unknown>;
    const it = long[Symbol.asyncIterator]();
    await it.next();
    const queued = c.chat.completions.create({ model: 'tiny', messages: ask, max_tokens: 2 });
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(c.chat.completions.create({ model: 'tiny', messages: ask, max_tokens: 2 }), (e: Error) => e instanceof OpenAI.RateLimitError);
    const stepsBefore = busy.engine.stats.steps;
    ac.abort();
    try { while (!(await it.next()).done); } catch { /* aborted */ }
    const r = await queued; // it gets the freed slot
    assert.equal(r.choices.length, 1);
    assert.ok(busy.engine.stats.steps - stepsBefore < 60, `the aborted request stopped early (${busy.engine.stats.steps - stepsBefore} steps)`);
    assert.equal(busy.engine.batch, 0);
  } finally { await busy.close(); }
});

test('an API key is required on every API route when set, as "Authorization: Bearer <key>" only; the page\'s own files are public', async () => {
  const locked = await startServer(m, {}, { apiKey: 'sekret' });
  try {
    const wrong = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (e: Error) => e instanceof OpenAI.AuthenticationError);
    for (const p of ['/health', '/v1/models', '/v1/models/tiny', '/tokenizer_info']) assert.equal((await fetch(`${locked.url}${p}`)).status, 401, p);
    for (const p of ['/v1/chat/completions', '/v1/completions', '/tokenize']) {
      assert.equal((await fetch(`${locked.url}${p}`, { method: 'POST', headers: JSON_TYPE, body: '{}' })).status, 401, p);
    }
    // the page asks for the key itself: its files hold no secret, and the key never goes in a URL
    for (const p of ['/', '/static/app.js', '/static/app.css']) assert.equal((await fetch(`${locked.url}${p}`)).status, 200, p);
    for (const p of ['/v1/models?api_key=sekret', '/health?api_key=sekret']) assert.equal((await fetch(`${locked.url}${p}`)).status, 401, p);
    // the scheme is required (it was optional); its name is case-insensitive
    assert.equal((await fetch(`${locked.url}/v1/models`, { headers: { Authorization: 'sekret' } })).status, 401, 'a bare key');
    assert.equal((await fetch(`${locked.url}/v1/models`, { headers: { Authorization: 'Basic sekret' } })).status, 401);
    assert.equal((await fetch(`${locked.url}/v1/models`, { headers: { Authorization: 'Bearer sekret2' } })).status, 401);
    assert.equal((await fetch(`${locked.url}/v1/models`, { headers: { Authorization: 'bearer sekret' } })).status, 200);
    const right = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'sekret', maxRetries: 0 });
    assert.equal((await right.models.list()).data[0].id, 'tiny');
  } finally { await locked.close(); }
});

test('reasoning, tool calls and stop sequences are split from streamed text cut anywhere', () => {
  const text = '<think>\nlet me see</think>\n\nHere: <tool_call>\n{"name": "get_time", "arguments": {"tz": "UTC"}}\n</tool_call>';
  for (const size of [1, 2, 3, 7, 100]) {
    const p = new OutputParser({ thinking: false, stops: [], tools: true });
    const ds = [];
    for (let i = 0; i < text.length; i += size) ds.push(...p.push(text.slice(i, i + size)));
    const fin = p.end();
    ds.push(...fin.deltas);
    assert.equal(ds.map((d) => d.reasoning_content ?? '').join(''), 'let me see', `size ${size}`);
    assert.equal(ds.map((d) => d.content ?? '').join('').trim(), 'Here:', `size ${size}`);
    assert.ok(!ds.some((d) => (d.content ?? '').includes('<')), 'no tag leaks into content');
    assert.equal(fin.toolCalls.length, 1);
    assert.equal(fin.toolCalls[0].function.name, 'get_time');
    assert.deepEqual(JSON.parse(fin.toolCalls[0].function.arguments), { tz: 'UTC' });
    assert.equal(fin.reasoning, 'let me see');
  }
  // a prompt that opened <think>: everything before </think> is reasoning
  const t = new OutputParser({ thinking: true, stops: ['END'], tools: false });
  const out = [...t.push('hmm\n</thi'), ...t.push('nk>\n\nyes EN'), ...t.push('D more')];
  assert.deepEqual(out, [{ reasoning_content: 'hmm\n' }, { content: 'yes ' }]);
  assert.equal(t.stopped, true);
  assert.equal(t.end().content, 'yes');
});

test('serve and chat-api from the command line', async () => {
  const child = cliAsync(['serve', '--load_from', m.dir, '--port', '0', '--threads', '1', '--model_name', 'cli-tiny']);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (b) => { err += b; const mm = /http:\/\/127\.0\.0\.1:(\d+)/.exec(err); if (mm) resolve(Number(mm[1])); });
      child.on('exit', () => reject(new Error(`serve exited: ${err}`)));
    });
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./helpers.js');
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'chat-api', '--url', `http://127.0.0.1:${port}`, '--prompt', 'hi', '--max_tokens', '8', '--temperature', '1'], { env: { ...process.env, FORCE_COLOR: '0' } });
      let o = '', e = '';
      c.stdout.on('data', (b) => { o += b; }); c.stderr.on('data', (b) => { e += b; });
      c.on('exit', (code) => resolve({ code, stdout: o, stderr: e }));
    });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^🤖 .+\n$/s);
  } finally { child.kill('SIGTERM'); }
  assert.equal(isCleanError(cli(['serve', '--load_from', '/nonexistent/model']), /model directory \/nonexistent\/model does not exist/), null);
  assert.equal(isCleanError(cli(['chat-api', '--url', 'http://127.0.0.1:9', '--prompt', 'x']), /--url http:\/\/127\.0\.0\.1:9: cannot connect/), null);
});
