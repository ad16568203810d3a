// The HTTP side of `minimind serve`: OpenAI's chat/completions routes (JSON or server-sent
// events), /v1/models, /health and the chat page. Every request is checked for the API key
// first and its body is refused past the limit before any parsing.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { TextStream } from '../tokenizer/stream.js';
import { Engine, GenRequest, Handle, QueueFullError } from './engine.js';
import { OutputParser, toolCallDeltas } from './output.js';
import { ApiError, ChatRequest, CompletionRequest, parseChatRequest, parseCompletionRequest, Sampling } from './requests.js';
import { pageAsset } from './page.js';

export interface ServeOptions {
  /** model id reported by /v1/models and accepted in requests */
  name: string;
  apiKey?: string;
  /** request bodies larger than this are refused (413) */
  bodyLimit: number;
  contextWindow: number;
  /** what --help says about memory, for /health */
  limits: Record<string, number>;
}

const created = Math.floor(Date.now() / 1000);

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(s), ...extra });
  res.end(s);
}

/** The body as JSON, refused with 413 before reading when it is (or turns out) too large. */
function readJson(req: http.IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(new ApiError(413, `Request body of ${declared} bytes exceeds the limit of ${limit} bytes.`, null, 'request_too_large'));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0, over = false;
    req.on('data', (b: Buffer) => {
      if (over) return;
      size += b.length;
      if (size > limit) { over = true; parts.length = 0; reject(new ApiError(413, `Request body exceeds the limit of ${limit} bytes.`, null, 'request_too_large')); return; }
      parts.push(b);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (over) return;
      const text = Buffer.concat(parts).toString('utf8');
      let v: unknown;
      try { v = JSON.parse(text); } catch (e) {
        reject(new ApiError(400, `We could not parse the JSON body of your request: ${(e as Error).message}`, null, 'invalid_json')); return;
      }
      if (!v || typeof v !== 'object' || Array.isArray(v)) { reject(new ApiError(400, 'The request body must be a JSON object.', null, 'invalid_json')); return; }
      resolve(v as Record<string, unknown>);
    });
  });
}

export function createServer(engine: Engine, tok: MiniTokenizer, o: ServeOptions): http.Server {
  const eos = tok.eosId;

  const checkModel = (s: Sampling) => {
    if (s.model !== undefined && s.model !== o.name) throw new ApiError(404, `The model '${s.model}' does not exist (this server serves '${o.name}').`, 'model', 'model_not_found');
  };

  const submit = (prompt: number[], s: Sampling, param: string): Handle => {
    const room = o.contextWindow - prompt.length;
    if (room < 1) throw new ApiError(400, `This model's maximum context length is ${o.contextWindow} tokens. However, your ${param} is ${prompt.length} tokens.`, param, 'context_length_exceeded');
    const req: GenRequest = { prompt, maxTokens: Math.min(s.maxTokens ?? room, room), stopIds: s.ignoreEos ? [] : [eos],
      sampling: { temperature: s.temperature, topP: s.topP, topK: s.topK, repetitionPenalty: s.repetitionPenalty, seed: s.seed } };
    try { return engine.submit(req); } catch (e) {
      if (e instanceof QueueFullError) throw new ApiError(429, e.message, null, 'server_busy');
      throw e;
    }
  };

  /** Run a request to the end, streaming or not; `shape` turns deltas into chunks/answers. */
  async function generate(req: http.IncomingMessage, res: http.ServerResponse, h: Handle, s: Sampling, parser: OutputParser,
    kind: 'chat' | 'text', promptTokens: number): Promise<void> {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const object = kind === 'chat' ? (s.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    const head = { id, object, created: Math.floor(Date.now() / 1000), model: o.name };
    let closed = false;
    res.on('close', () => { if (!res.writableFinished) { closed = true; h.cancel(); } }); // client gone: free the slot now
    const send = (body: unknown) => { if (!closed) res.write(`data: ${JSON.stringify(body)}\n\n`); };
    const choice = (delta: Record<string, unknown>, finish: string | null) => kind === 'chat'
      ? { index: 0, delta, logprobs: null, finish_reason: finish }
      : { index: 0, text: (delta.content as string | undefined) ?? '', logprobs: null, finish_reason: finish };
    if (s.stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      if (kind === 'chat') send({ ...head, choices: [choice({ role: 'assistant', content: '' }, null)] });
    }
    const ts = new TextStream(tok);
    let tokens = 0;
    const emit = (deltas: { content?: string; reasoning_content?: string }[]) => {
      if (s.stream) for (const d of deltas) if (kind === 'chat' || d.content) send({ ...head, choices: [choice(d, null)] });
    };
    for await (const tid of h) {
      if (parser.stopped) continue;
      tokens++;
      emit(parser.push(await ts.push(tid)));
      if (parser.stopped) h.cancel();
    }
    const finish = await h.done;
    if (!parser.stopped) parser.push(await ts.flush());
    const fin = parser.end();
    emit(fin.deltas);
    if (closed) return;
    if (finish === 'error') {
      const err = new ApiError(500, `generation failed: ${h.error?.message ?? 'unknown error'}`, null, 'generation_failed');
      if (s.stream) { send(err.body); res.end(); } else sendJson(res, 500, err.body);
      return;
    }
    const reason = fin.toolCalls.length ? 'tool_calls' : finish === 'length' && !parser.stopped ? 'length' : 'stop';
    const usage = { prompt_tokens: promptTokens, completion_tokens: tokens, total_tokens: promptTokens + tokens };
    if (s.stream) {
      for (const d of toolCallDeltas(fin.toolCalls)) send({ ...head, choices: [choice(d, null)] });
      send({ ...head, choices: [choice({}, reason)] });
      if (s.includeUsage) send({ ...head, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    const answer = kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: fin.content, ...(fin.reasoning ? { reasoning_content: fin.reasoning } : {}), ...(fin.toolCalls.length ? { tool_calls: fin.toolCalls } : {}) }, logprobs: null, finish_reason: reason }
      : { index: 0, text: fin.content, logprobs: null, finish_reason: reason };
    sendJson(res, 200, { ...head, choices: [answer], usage });
    void req;
  }

  async function chat(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const r: ChatRequest = parseChatRequest(await readJson(req, o.bodyLimit));
    checkModel(r);
    if (!tok.hasChatTemplate) throw new ApiError(400, `The model '${o.name}' has no chat template: use /v1/completions.`, 'messages', 'no_chat_template');
    let text: string;
    try {
      text = tok.applyChatTemplate(r.messages, { addGenerationPrompt: true, ...(r.tools.length ? { tools: r.tools } : {}), open_thinking: r.thinking, enable_thinking: r.thinking });
    } catch (e) { throw new ApiError(400, `The messages do not fit the model's chat template: ${(e as Error).message}`, 'messages', 'invalid_value'); }
    const prompt = await tok.encode(text);
    const h = submit(prompt, r, 'messages');
    const parser = new OutputParser({ thinking: /<think>\s*$/.test(text), stops: r.stop, tools: r.tools.length > 0 });
    await generate(req, res, h, r, parser, 'chat', prompt.length);
  }

  async function completion(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const r: CompletionRequest = parseCompletionRequest(await readJson(req, o.bodyLimit));
    checkModel(r);
    const prompt = [tok.bosId, ...(await tok.encode(r.prompt))];
    const h = submit(prompt, r, 'prompt');
    await generate(req, res, h, r, new OutputParser({ thinking: false, stops: r.stop, tools: false }), 'text', prompt.length);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    if (o.apiKey) {
      // the page cannot send a header when it is opened, so its own files also take ?api_key=
      const pageRoute = method === 'GET' && (url.pathname === '/' || url.pathname.startsWith('/static/'));
      const given = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') || (pageRoute ? url.searchParams.get('api_key') ?? '' : '');
      if (given !== o.apiKey) throw new ApiError(401, 'Incorrect API key provided. Send it as "Authorization: Bearer <key>".', null, 'invalid_api_key');
    }
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (method === 'POST' && path === '/v1/chat/completions') return chat(req, res);
    if (method === 'POST' && path === '/v1/completions') return completion(req, res);
    if (method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: o.name, object: 'model', created, owned_by: 'minimind' }] });
    }
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const m = decodeURIComponent(path.slice('/v1/models/'.length));
      if (m !== o.name) throw new ApiError(404, `The model '${m}' does not exist.`, 'model', 'model_not_found');
      return sendJson(res, 200, { id: o.name, object: 'model', created, owned_by: 'minimind' });
    }
    if (method === 'GET' && path === '/health') {
      return sendJson(res, 200, { status: 'ok', model: o.name, batch: engine.batch, queued: engine.queued, ...engine.stats, limits: o.limits });
    }
    if (method === 'GET' || method === 'HEAD') {
      const asset = pageAsset(path); // a fixed table of names: no path from the URL reaches the file system
      if (asset) {
        res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
          ...(asset.type.startsWith('text/html') ? { 'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" } : {}) });
        res.end(method === 'HEAD' ? undefined : asset.body);
        return;
      }
    }
    throw new ApiError(404, `Unknown request URL: ${method} ${url.pathname}.`, null, 'unknown_url');
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${(e as Error).message}`);
      if (err.status >= 500) process.stderr.write(`serve: ${(e as Error).stack ?? e}\n`);
      if (res.headersSent) { if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.body)}\n\n`); return; }
      // a refused body is not read: drain a bounded amount so the client sees the answer, then close
      const close: Record<string, string> = err.status === 413 ? { Connection: 'close' } : {};
      sendJson(res, err.status, err.body, close);
      if (err.status === 413) { let n = 0; req.on('data', (b: Buffer) => { n += b.length; if (n > 64 * o.bodyLimit) req.destroy(); }); req.resume(); }
    });
  });
  server.keepAliveTimeout = 5000;
  return server;
}
