// `minimind serve`: the OpenAI-compatible API and chat page; `minimind chat-api`: a terminal
// client for it (MiniMind's serve_openai_api.py and chat_openai_api.py).
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { loadDecodingModel } from '../eval/chat.js';
import { Quantize } from '../model/decode-runner.js';
import { BatchDecoder } from '../serve/batch-decoder.js';
import { Engine } from '../serve/engine.js';
import { ApiServer, createServer } from '../serve/server.js';
import { UserError } from '../util/errors.js';
import { chatRepl } from './chat-repl.js';
import { Args, handler, loadOptions, modelSource, positive, runtimeOptions, sessionOptions } from './common.js';
import { commandInfo } from './command-info.js';

const MB = 1024 * 1024;

export const serveCommand = {
  ...commandInfo('serve'),
  builder: (y: Argv) => loadOptions(runtimeOptions(y), 'out/full_sft')
    .option('lora', { type: 'string', describe: 'LoRA adapter directory, applied unmerged' })
    .option('quantize', { type: 'string', default: 'none', choices: ['none', 'q4'], describe: 'weights for decoding (q4: 4-bit)' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind (0.0.0.0 exposes the server to the network)' })
    .option('port', { type: 'number', default: 8998, describe: 'port to listen on (0: any free port, printed at start)' })
    .option('model_name', { type: 'string', describe: 'model id in the API (default: the directory name)' })
    .option('api_key', { type: 'string', describe: 'require "Authorization: Bearer <key>" on the API (the chat page asks for the key); default: $MINIMIND_API_KEY' })
    .option('allowed_hosts', { type: 'string', describe: 'Host header names accepted besides the bound address\'s own (comma-separated; * = any), e.g. a DNS name behind a proxy' })
    .option('cors_origin', { type: 'string', describe: 'origins whose web pages may call the API (comma-separated, e.g. http://localhost:3000; * = any); others are refused' })
    .option('shutdown_grace', { type: 'number', default: 5, describe: 'seconds running requests get to finish on SIGTERM/SIGINT before they are cut' })
    .option('header_timeout', { type: 'number', default: 10, describe: 'seconds a request\'s headers may take to arrive' })
    .option('body_timeout', { type: 'number', default: 30, describe: 'seconds a whole request (headers and body) may take to arrive' })
    .option('keepalive_timeout', { type: 'number', default: 5, describe: 'seconds an idle keep-alive connection stays open' })
    .option('max_batch', { type: 'number', default: 8, describe: 'requests decoded together in one batched step' })
    .option('max_queue', { type: 'number', default: 64, describe: 'requests waiting for a batch slot; more are refused with 429' })
    .option('body_limit', { type: 'number', default: 1, describe: 'largest request body in MB (larger: 413, not read)' })
    .epilogue('Memory: the KV cache holds at most max_batch x context window tokens (rows in fours, positions in 32s), i.e. '
      + 'max_batch x max_position_embeddings x num_hidden_layers x 2 x num_key_value_heads x head_dim x 4 bytes (minimind-v1-small, '
      + '512 tokens: 8 MB per slot, 64 MB at --max_batch 8); it grows and shrinks with the rows it holds, and the old and new '
      + 'blocks coexist for a moment when it does. The exact bound is printed at start.')
    .example('$0 serve --load_from out/full_sft', 'serve on http://127.0.0.1:8998'),
  handler: handler(async (a: Args) => {
    positive(a, 'max_batch', 'max_queue', 'body_limit', 'header_timeout', 'body_timeout', 'keepalive_timeout');
    if (typeof a.shutdown_grace !== 'number' || !(a.shutdown_grace >= 0)) throw new UserError(`--shutdown_grace must be a number of seconds >= 0, got ${a.shutdown_grace}`);
    if (!Number.isInteger(a.port) || (a.port as number) < 0 || (a.port as number) > 65535) throw new UserError(`--port must be an integer 0-65535, got ${a.port}`);
    const source = modelSource(a, 'model directory', 'train one with `minimind full-sft`');
    const { config, params, tok, hook } = loadDecodingModel({ ...source, lora: a.lora as string | undefined });
    const dec = await BatchDecoder.create(config, params, { ...sessionOptions(a), quantize: a.quantize as Quantize }, hook);
    const maxBatch = Math.floor(a.max_batch as number);
    const engine = new Engine(dec, { maxBatch, maxQueue: Math.floor(a.max_queue as number), contextWindow: config.max_position_embeddings,
      vocabLimit: Math.min(config.vocab_size, tok.vocabSize) });
    const kvBound = BatchDecoder.boundBytes(config, maxBatch);
    const name = (a.model_name as string | undefined) ?? path.basename(path.resolve(source.loadFrom));
    const apiKey = (a.api_key as string | undefined) ?? process.env.MINIMIND_API_KEY;
    const list = (k: string) => ((a[k] as string | undefined) ?? '').split(',').map((x) => x.trim()).filter(Boolean);
    const server = createServer(engine, tok, { name, apiKey: apiKey || undefined, bodyLimit: Math.floor((a.body_limit as number) * MB),
      contextWindow: config.max_position_embeddings, vocabSize: config.vocab_size, limits: { max_batch: maxBatch, max_queue: engine.o.maxQueue, kv_cache_bound_bytes: kvBound },
      allowedHosts: [a.host as string, ...list('allowed_hosts')], corsOrigins: list('cors_origin'),
      headerTimeout: a.header_timeout as number, bodyTimeout: a.body_timeout as number, keepAliveTimeout: a.keepalive_timeout as number });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new UserError(`--port ${a.port}: address ${a.host}:${a.port} is already in use`) : e));
      server.listen(a.port as number, a.host as string, resolve);
    });
    const addr = server.address() as { port: number };
    const host = (a.host as string).includes(':') ? `[${a.host}]` : a.host as string;
    process.stderr.write(`${chalk.green('serving')} ${name} on http://${host}:${addr.port} `
      + `(batch ${maxBatch}, queue ${engine.o.maxQueue}, KV cache <= ${(kvBound / MB).toFixed(1)} MB${apiKey ? ', API key required' : ''})\n`);
    await stopOnSignal(server, engine, a.shutdown_grace as number);
  }),
};

/**
 * SIGTERM or SIGINT: stop taking requests, let running ones finish within the grace period
 * (a second signal cuts them at once), print one line and exit 0.
 */
async function stopOnSignal(server: ApiServer, engine: Engine, graceS: number): Promise<void> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
  });
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => server.cutNow());
  const { finished, cut } = await server.shutdown(graceS * 1000);
  await engine.release();
  const running = finished + cut;
  process.stderr.write(`serve: stopped on ${signal}${running ? `: ${finished} of ${running} running requests finished${cut ? `, ${cut} cut (--shutdown_grace ${graceS} s)` : ''}` : ''}\n`);
  process.exit(0);
}

interface Chunk { choices?: { delta?: { content?: string; reasoning_content?: string; tool_calls?: unknown[] }; finish_reason?: string | null }[]; error?: { message: string } }

/** Stream one answer from the server, writing it as it arrives; returns the content. */
export async function streamAnswer(url: string, body: Record<string, unknown>, apiKey: string | undefined, write: (s: string, reasoning: boolean) => void): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, '')}/v1/chat/completions`, { method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) }, body: JSON.stringify({ ...body, stream: true }) });
  } catch (e) { throw new UserError(`--url ${url}: cannot connect (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}); start one with \`minimind serve\``); }
  if (!res.ok) {
    const j = await res.json().catch(() => null) as Chunk | null;
    throw new UserError(`server answered ${res.status}: ${j?.error?.message ?? res.statusText}`);
  }
  const dec = new TextDecoder();
  let buf = '', content = '';
  const calls: { name: string; arguments: string }[] = []; // OpenAI streams a call as its name, then argument pieces
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 2);
      if (!line.startsWith('data:') || line === 'data: [DONE]') continue;
      const chunk = JSON.parse(line.slice(5)) as Chunk;
      if (chunk.error) throw new UserError(`server error: ${chunk.error.message}`);
      const d = chunk.choices?.[0]?.delta;
      if (d?.reasoning_content) write(d.reasoning_content, true);
      if (d?.content) { content += d.content; write(d.content, false); }
      for (const t of (d?.tool_calls ?? []) as { index: number; function?: { name?: string; arguments?: string } }[]) {
        const call = calls[t.index] ??= { name: '', arguments: '' };
        call.name += t.function?.name ?? ''; call.arguments += t.function?.arguments ?? '';
      }
    }
  }
  for (const c of calls) write(`\n[tool call] ${c.name}(${c.arguments})`, false);
  return content;
}

export const chatApiCommand = {
  ...commandInfo('chat-api'),
  builder: (y: Argv) => y
    .option('url', { type: 'string', default: 'http://127.0.0.1:8998', describe: 'server address' })
    .option('api_key', { type: 'string', describe: 'Bearer key (default: $MINIMIND_API_KEY)' })
    .option('model', { type: 'string', describe: 'model id (default: the first of /v1/models)' })
    .option('system', { type: 'string', describe: 'system prompt' })
    .option('temperature', { type: 'number', default: 0.7, describe: 'sampling temperature sent with each request' })
    .option('top_p', { type: 'number', default: 0.92, describe: 'nucleus sampling sent with each request' })
    .option('max_tokens', { type: 'number', default: -1, describe: '-1: up to the context window' })
    .option('thinking', { type: 'boolean', default: false, describe: 'ask the model to think first (minimind-3 template)' })
    .option('history', { type: 'boolean', default: true, describe: 'send earlier turns (multi-turn)' })
    .option('prompt', { type: 'string', describe: 'ask this one message and exit' }),
  handler: handler(async (a: Args) => {
    const url = a.url as string, key = (a.api_key as string | undefined) ?? process.env.MINIMIND_API_KEY;
    let model = a.model as string | undefined;
    if (!model) {
      const r = await fetch(`${url.replace(/\/+$/, '')}/v1/models`, { headers: key ? { Authorization: `Bearer ${key}` } : {} })
        .catch((e: Error & { cause?: Error }) => { throw new UserError(`--url ${url}: cannot connect (${e.cause?.message ?? e.message}); start one with \`minimind serve\``); });
      const j = await r.json().catch(() => null) as { data?: { id: string }[]; error?: { message: string } } | null;
      if (!r.ok || !j?.data?.length) throw new UserError(`--url ${url}: /v1/models answered ${r.status}${j?.error ? `: ${j.error.message}` : ''}`);
      model = j.data[0].id;
    }
    const system = a.system ? [{ role: 'system', content: a.system as string }] : [];
    let history: { role: string; content: string }[] = [...system];
    const answer = async (q: string) => {
      history.push({ role: 'user', content: q });
      process.stdout.write(chalk.green('🤖 '));
      let thinking = false;
      const content = await streamAnswer(url, { model, messages: history, temperature: a.temperature, top_p: a.top_p, max_tokens: a.max_tokens, enable_thinking: a.thinking },
        key, (s, reasoning) => {
          if (reasoning !== thinking) { process.stdout.write(reasoning ? chalk.gray('[thinking] ') : '\n'); thinking = reasoning; }
          process.stdout.write(reasoning ? chalk.gray(s) : s);
        });
      process.stdout.write('\n');
      history.push({ role: 'assistant', content });
      if (!a.history) history = [...system];
    };
    if (a.prompt !== undefined) { await answer(a.prompt as string); return; }
    await chatRepl(`chatting with ${model} at ${url}`, answer, () => { history = [...system]; });
  }),
};
