// Streamed tool calls follow OpenAI's shape (a delta with id, type, name and empty
// arguments, then argument deltas), so the openai package's stream helper assembles them.
// The model's output is scripted: an engine stand-in answers every request with fixed text.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { Engine, GenRequest, Handle } from '../src/serve/engine.js';
import { createServer } from '../src/serve/server.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { tinyModelDir } from './serve-helpers.js';

const ANSWER = 'Checking. <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"tz": "CET"}}\n</tool_call>';
const tools = ['get_weather', 'get_time'].map((name) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: {} } } }));

let server: http.Server, client: OpenAI;

before(async () => {
  const tok = MiniTokenizer.load((await tinyModelDir()).dir);
  const ids = await tok.encode(ANSWER);
  const scripted = { batch: 0, queued: 0, stats: {}, o: { maxBatch: 1, maxQueue: 1 },
    submitAll: (reqs: GenRequest[]): Handle[] => reqs.map((req) => {
      const h = new Handle(req);
      setImmediate(() => { for (const id of ids) h.push(id); h.end('stop'); });
      return h;
    }) } as unknown as Engine;
  server = createServer(scripted, tok, { name: 'tiny', bodyLimit: 64 * 1024, contextWindow: 4096, limits: {} });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(() => { server.closeAllConnections(); server.close(); });

test('streamed tool_calls: name delta with empty arguments, then argument deltas; the stream helper assembles the calls', async () => {
  const messages = [{ role: 'user' as const, content: 'weather and time in Paris?' }];
  const deltas: Record<string, unknown>[] = [];
  let finish: string | null = null;
  for await (const ch of await client.chat.completions.create({ model: 'tiny', messages, tools, stream: true })) {
    if (ch.choices[0]?.delta.tool_calls) deltas.push(...ch.choices[0].delta.tool_calls as unknown as Record<string, unknown>[]);
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(deltas.length, 4);
  const [head0, args0, head1] = deltas as { index: number; id?: string; type?: string; function: { name?: string; arguments: string } }[];
  assert.match(head0.id!, /^call_/);
  assert.deepEqual({ ...head0, id: 'x' }, { index: 0, id: 'x', type: 'function', function: { name: 'get_weather', arguments: '' } });
  assert.deepEqual(args0, { index: 0, function: { arguments: '{"city":"Paris"}' } }, 'argument deltas carry only index and arguments');
  assert.equal(head1.index, 1);
  const final = await client.chat.completions.stream({ model: 'tiny', messages, tools }).finalChatCompletion();
  const calls = final.choices[0].message.tool_calls!.map((t) => t.type === 'function' ? [t.function.name, JSON.parse(t.function.arguments)] : null);
  assert.deepEqual(calls, [['get_weather', { city: 'Paris' }], ['get_time', { tz: 'CET' }]]);
  assert.equal(final.choices[0].message.content?.trim(), 'Checking.');
  const plain = await client.chat.completions.create({ model: 'tiny', messages, tools });
  assert.deepEqual(plain.choices[0].message.tool_calls!.map((t) => t.type === 'function' && t.function.name), ['get_weather', 'get_time']);
});
