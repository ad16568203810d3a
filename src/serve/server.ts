// The HTTP side of `minimind serve`: OpenAI's chat/completions routes (JSON or server-sent
// events, with logprobs, echo and token-id prompts as vLLM takes them), /v1/models, /health,
// vLLM's tokenizer routes (which evaluation harnesses probe) and the chat page. Each
// request passes the guard (Host, Origin, API key) before any route reads it; POST bodies
// must be JSON and within the limit. On shutdown the server stops taking requests, lets
// running ones finish within a grace period, then cuts the rest with an answer that says so.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { TextStream } from '../tokenizer/stream.js';
import { Engine, Finish, GenRequest, Handle, QueueFullError } from './engine.js';
import { Guard, GuardOptions } from './guard.js';
import { answerClientError, ClientGone, decodeSegment, isJson, readJson, requestPath, sendJson } from './http.js';
import { Delta, OutputParser, toolCallDeltas } from './output.js';
import { pageAsset } from './page.js';
import { ApiError, ChatRequest, CompletionRequest, parseChatRequest, parseCompletionRequest, Sampling } from './requests.js';
import { chatLogprobs, completionLogprobs, ScoredToken, TextOffsets, TokenTexts } from './token-text.js';

export interface ServeOptions extends GuardOptions {
  /** model id reported by /v1/models and accepted in requests */
  name: string;
  /** request bodies larger than this are refused (413) */
  bodyLimit: number;
  contextWindow: number;
  /** the model's vocabulary size: token ids in prompts must be below it (default: the tokenizer's) */
  vocabSize?: number;
  /** what --help says about memory, for /health */
  limits: Record<string, number>;
  /** seconds for a request's headers, for the whole request with its body, and that an idle keep-alive connection stays open */
  headerTimeout?: number;
  bodyTimeout?: number;
  keepAliveTimeout?: number;
}

export interface ShutdownReport { finished: number; cut: number }

export interface ApiServer extends http.Server {
  /** Stop taking requests; running ones get `graceMs` to finish, then are cut. Resolves when none is left. */
  shutdown(graceMs: number): Promise<ShutdownReport>;
  /** During a shutdown: cut the running requests now. */
  cutNow(): void;
}

const created = Math.floor(Date.now() / 1000);

/** One prompt of a request with its answer's state. */
interface Choice {
  index: number;
  h: Handle;
  parser: OutputParser;
  /** completions with echo: the prompt's text, and whether its first token is a BOS the server added (not in the text) */
  echo?: { text: string; ids: number[]; addedBos: boolean };
}

/** A request being answered; a shutdown may cut it (its generation, if any, stops at the next step). */
interface InFlight { wasCut: boolean; onCut?: () => void }

export function createServer(engine: Engine, tok: MiniTokenizer, o: ServeOptions): ApiServer {
  const eos = tok.eosId, vocab = o.vocabSize ?? tok.vocabSize;
  const inflight = new Set<InFlight>();
  let draining = false, cutReason = '';
  let texts: Promise<TokenTexts> | null = null;
  const tokenTexts = () => (texts ??= TokenTexts.load(tok));

  const checkModel = (s: Sampling) => {
    if (s.model !== undefined && s.model !== o.name) throw new ApiError(404, `The model '${s.model}' does not exist (this server serves '${o.name}').`, 'model', 'model_not_found');
  };

  const genRequest = (prompt: number[], s: Sampling, param: string, lp: { logprobs?: number; promptLogprobs?: number } = {}): GenRequest => {
    const room = o.contextWindow - prompt.length;
    if (room < (s.maxTokens === 0 ? 0 : 1)) throw new ApiError(400, `This model's maximum context length is ${o.contextWindow} tokens. However, your ${param} is ${prompt.length} tokens.`, param, 'context_length_exceeded');
    return { prompt, maxTokens: Math.min(s.maxTokens ?? room, room), stopIds: s.ignoreEos ? [] : [eos], ...lp,
      sampling: { temperature: s.temperature, topP: s.topP, topK: s.topK, repetitionPenalty: s.repetitionPenalty, seed: s.seed } };
  };

  const submit = (reqs: GenRequest[]): Handle[] => {
    if (reqs.length > engine.o.maxBatch + engine.o.maxQueue) {
      throw new ApiError(400, `${reqs.length} prompts in one request; this server takes at most ${engine.o.maxBatch + engine.o.maxQueue} (--max_batch + --max_queue).`, 'prompt', 'too_many_prompts');
    }
    try { return engine.submitAll(reqs); } catch (e) {
      if (e instanceof QueueFullError) throw new ApiError(429, e.message, null, 'server_busy');
      throw e;
    }
  };

  /** Run a request's choices to the end, streaming or not. */
  async function generate(res: http.ServerResponse, choices: Choice[], s: Sampling, kind: 'chat' | 'text', promptTokens: number,
    logprobs: boolean, track: InFlight): Promise<void> {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const object = kind === 'chat' ? (s.stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    const head = { id, object, created: Math.floor(Date.now() / 1000), model: o.name };
    const tt = logprobs ? await tokenTexts() : null;
    let closed = false;
    const cancelAll = () => { for (const c of choices) c.h.cancel(); };
    track.onCut = cancelAll;
    res.on('close', () => { if (!res.writableFinished) { closed = true; cancelAll(); } }); // client gone: free the slots now
    const send = (body: unknown) => { if (!closed) res.write(`data: ${JSON.stringify(body)}\n\n`); };
    const lpField = (toks: ScoredToken[]) => (!tt ? null : kind === 'chat' ? chatLogprobs(tt, toks) : completionLogprobs(tt, toks));
    const chunk = (c: Choice, delta: Delta | Record<string, unknown>, toks: ScoredToken[] | null, finish: string | null) => ({ ...head, choices: [kind === 'chat'
      ? { index: c.index, delta, logprobs: toks && lpField(toks), finish_reason: finish }
      : { index: c.index, text: (delta as Delta).content ?? '', logprobs: toks && lpField(toks), finish_reason: finish }] });
    if (s.stream) {
      res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      if (kind === 'chat') for (const c of choices) send(chunk(c, { role: 'assistant', content: '' }, null, null));
    }
    const results = await Promise.all(choices.map(async (c) => {
      const toks: ScoredToken[] = []; // every scored token of this choice (the answer's logprobs)
      let pending: ScoredToken[] = []; // streamed: not sent yet (their text may still be held back)
      const emit = (deltas: Delta[]) => {
        if (!s.stream) return;
        if (kind === 'text' && deltas.length) deltas = [{ content: deltas.map((d) => d.content ?? '').join('') }];
        for (const d of deltas) if (kind === 'chat' || d.content) { send(chunk(c, d, tt ? pending : null, null)); pending = []; }
      };
      const add = (t: ScoredToken) => { toks.push(t); pending.push(t); };
      const offsets = new TextOffsets();
      let echoed = !c.echo;
      const echo = () => { // the prompt first, once its scores are known (they come with the first token, or the end)
        if (echoed) return;
        echoed = true;
        const e = c.echo!;
        if (tt) {
          e.ids.forEach((tid, i) => {
            const lp = i === 0 ? null : c.h.prompt?.[i - 1] ?? null;
            add({ id: tid, logprob: lp?.logprob ?? null, top: lp?.top ?? null, offset: offsets.next(tt.info(tid), !(i === 0 && e.addedBos)) });
          });
        }
        emit([{ content: e.text }]);
      };
      const ts = new TextStream(tok);
      let tokens = 0;
      for await (const tid of c.h) {
        echo();
        if (c.parser.stopped) continue;
        const lp = c.h.logprobs[tokens++];
        if (tt && lp) add({ id: tid, logprob: lp.logprob, top: lp.top, offset: offsets.next(tt.info(tid)) });
        emit(c.parser.push(await ts.push(tid)));
        if (c.parser.stopped) c.h.cancel();
      }
      const finish: Finish = await c.h.done;
      echo();
      if (!c.parser.stopped) emit(c.parser.push(await ts.flush()));
      const fin = c.parser.end();
      emit(fin.deltas);
      const reason = fin.toolCalls.length ? 'tool_calls' : finish === 'length' && !c.parser.stopped ? 'length' : 'stop';
      return { c, finish, fin, reason, tokens, toks, pending };
    }));
    if (closed) return;
    const failed = results.find((r) => r.finish === 'error');
    if (failed || track.wasCut) {
      const err = failed ? new ApiError(500, `generation failed: ${failed.c.h.error?.message ?? 'unknown error'}`, null, 'generation_failed')
        : new ApiError(503, cutReason, null, 'server_shutdown');
      if (s.stream) { send(err.body); res.end('data: [DONE]\n\n'); } else sendJson(res, err.status, err.body);
      return;
    }
    const completionTokens = results.reduce((a, r) => a + r.tokens, 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    if (s.stream) {
      for (const r of results) {
        for (const d of toolCallDeltas(r.fin.toolCalls)) send(chunk(r.c, d, null, null));
        send(chunk(r.c, {}, tt ? r.pending : null, r.reason));
      }
      if (s.includeUsage) send({ ...head, choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    const answers = results.map(({ c, fin, reason, toks }) => kind === 'chat'
      ? { index: c.index, message: { role: 'assistant', content: fin.content, ...(fin.reasoning ? { reasoning_content: fin.reasoning } : {}), ...(fin.toolCalls.length ? { tool_calls: fin.toolCalls } : {}) },
        logprobs: lpField(toks), finish_reason: reason }
      : { index: c.index, text: (c.echo?.text ?? '') + fin.content, logprobs: lpField(toks), finish_reason: reason });
    sendJson(res, 200, { ...head, choices: answers, usage });
  }

  async function chat(req: http.IncomingMessage, res: http.ServerResponse, track: InFlight): Promise<void> {
    const r: ChatRequest = parseChatRequest(await readJson(req, o.bodyLimit));
    checkModel(r);
    if (!tok.hasChatTemplate) throw new ApiError(400, `The model '${o.name}' has no chat template: use /v1/completions.`, 'messages', 'no_chat_template');
    let text: string;
    try {
      text = tok.applyChatTemplate(r.messages, { addGenerationPrompt: true, ...(r.tools.length ? { tools: r.tools } : {}), open_thinking: r.thinking, enable_thinking: r.thinking });
    } catch (e) { throw new ApiError(400, `The messages do not fit the model's chat template: ${(e as Error).message}`, 'messages', 'invalid_value'); }
    const prompt = await tok.encode(text);
    const [h] = submit([genRequest(prompt, r, 'messages', { logprobs: r.logprobs })]);
    const parser = new OutputParser({ thinking: /<think>\s*$/.test(text), stops: r.stop, tools: r.tools.length > 0 });
    await generate(res, [{ index: 0, h, parser }], r, 'chat', prompt.length, r.logprobs !== undefined, track);
  }

  async function completion(req: http.IncomingMessage, res: http.ServerResponse, track: InFlight): Promise<void> {
    const r: CompletionRequest = parseCompletionRequest(await readJson(req, o.bodyLimit));
    checkModel(r);
    const many = r.prompts.length > 1;
    const prompts = await Promise.all(r.prompts.map(async (p, i) => {
      const param = many ? `prompt[${i}]` : 'prompt';
      if (typeof p === 'string') return { ids: [tok.bosId, ...(await tok.encode(p))], text: p, addedBos: true, param };
      const bad = p.findIndex((t) => t >= vocab);
      if (bad >= 0) throw new ApiError(400, `'${param}[${bad}]' is token ${p[bad]}, past the model's vocabulary of ${vocab} tokens.`, param, 'invalid_value');
      return { ids: p, text: r.echo ? await tok.decode(p, false) : '', addedBos: false, param };
    }));
    const scored = r.echo && r.logprobs !== undefined;
    const hs = submit(prompts.map((p) => genRequest(p.ids, r, p.param, { logprobs: r.logprobs, promptLogprobs: scored ? r.logprobs : undefined })));
    const choices = hs.map((h, index): Choice => ({ index, h, parser: new OutputParser({ thinking: false, stops: r.stop, tools: false }),
      ...(r.echo ? { echo: { text: prompts[index].text, ids: prompts[index].ids, addedBos: prompts[index].addedBos } } : {}) }));
    await generate(res, choices, r, 'text', prompts.reduce((a, p) => a + p.ids.length, 0), r.logprobs !== undefined, track);
  }

  /** vLLM's /tokenize, /detokenize and /tokenizer_info (lm-evaluation-harness uses them as its tokenizer). */
  async function tokenize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const b = await readJson(req, o.bodyLimit);
    if (typeof b.prompt !== 'string') throw new ApiError(400, "'prompt' must be a string.", 'prompt', 'invalid_type');
    const ids = await tok.encode(b.prompt);
    const tokens = b.add_special_tokens === false ? ids : [tok.bosId, ...ids]; // as /v1/completions sees a text prompt
    sendJson(res, 200, { count: tokens.length, max_model_len: o.contextWindow, tokens });
  }

  async function detokenize(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t = (await readJson(req, o.bodyLimit)).tokens;
    if (!Array.isArray(t) || t.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x >= vocab)) {
      throw new ApiError(400, `'tokens' must be an array of token ids below ${vocab}.`, 'tokens', 'invalid_value');
    }
    sendJson(res, 200, { prompt: await tok.decode(t as number[], false) });
  }

  type Run = (req: http.IncomingMessage, res: http.ServerResponse, track: InFlight, arg: string) => Promise<void> | void;
  interface Route { methods: string[]; open?: boolean; run: Run }
  const model = { id: o.name, object: 'model', created, owned_by: 'minimind', max_model_len: o.contextWindow };
  const api: Record<string, Route> = {
    '/v1/chat/completions': { methods: ['POST'], run: (req, res, t) => chat(req, res, t) },
    '/v1/completions': { methods: ['POST'], run: (req, res, t) => completion(req, res, t) },
    '/v1/models': { methods: ['GET', 'HEAD'], run: (_q, res) => sendJson(res, 200, { object: 'list', data: [model] }) },
    '/v1/models/': { methods: ['GET', 'HEAD'], run: (_q, res, _t, arg) => {
      const m = decodeSegment(arg);
      if (m !== o.name) throw new ApiError(404, `The model '${m}' does not exist.`, 'model', 'model_not_found');
      sendJson(res, 200, model);
    } },
    '/health': { methods: ['GET', 'HEAD'], run: (_q, res) =>
      sendJson(res, 200, { status: draining ? 'stopping' : 'ok', model: o.name, batch: engine.batch, queued: engine.queued, ...engine.stats, limits: o.limits }) },
    '/tokenize': { methods: ['POST'], run: (req, res) => tokenize(req, res) },
    '/detokenize': { methods: ['POST'], run: (req, res) => detokenize(req, res) },
    '/tokenizer_info': { methods: ['GET', 'HEAD'], run: (_q, res) => sendJson(res, 200, { tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: tok.bosToken, eos_token: tok.eosToken, chat_template: tok.config.chat_template ?? null, model_max_length: o.contextWindow }) },
  };
  const page: Route = { methods: ['GET', 'HEAD'], open: true, run: (_q, res, _t, path) => {
    const asset = pageAsset(path)!; // a fixed table of names: no path from the URL reaches the file system
    res.writeHead(200, { 'Content-Type': asset.type, 'Content-Length': asset.body.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer', ...(asset.type.startsWith('text/html') ? { 'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" } : {}) });
    res.end(asset.body);
  } };
  const routeOf = (path: string): { route: Route; arg: string } | null => {
    if (api[path]) return { route: api[path], arg: '' };
    if (path.startsWith('/v1/models/')) return { route: api['/v1/models/'], arg: path.slice('/v1/models/'.length) };
    return pageAsset(path) ? { route: page, arg: path } : null;
  };

  const guard = new Guard(o, () => server.address());

  async function route(req: http.IncomingMessage, res: http.ServerResponse, track: InFlight): Promise<void> {
    const method = req.method ?? 'GET';
    if (draining) throw new ApiError(503, 'The server is shutting down.', null, 'server_shutdown').with({ Connection: 'close' });
    const path = requestPath(req.url);
    if (!guard.hostAllowed(req.headers.host)) {
      throw new ApiError(403, `Host '${req.headers.host}' is not a name of this server; start it with --allowed_hosts to accept it.`, null, 'host_not_allowed');
    }
    const origin = guard.crossOrigin(req);
    if (origin !== null && !guard.originAllowed(origin)) {
      throw new ApiError(403, `Cross-origin requests from ${origin} are refused; start the server with --cors_origin ${origin} to allow them.`, null, 'origin_not_allowed');
    }
    if (origin !== null) for (const [k, v] of Object.entries(guard.corsHeaders(origin))) res.setHeader(k, v);
    const found = routeOf(path);
    if (!found) throw new ApiError(404, `Unknown request URL: ${method} ${path}.`, null, 'unknown_url');
    const allow = [...found.route.methods, 'OPTIONS'].join(', ');
    if (method === 'OPTIONS') { // a CORS preflight (from an allowed origin), or a question about the methods
      const ask = req.headers['access-control-request-headers'];
      res.writeHead(204, { Allow: allow, ...(origin !== null ? guard.corsHeaders(origin, { methods: found.route.methods, headers: ask }) : {}) });
      res.end();
      return;
    }
    if (!found.route.methods.includes(method)) throw new ApiError(405, `Method ${method} is not allowed on ${path} (allowed: ${allow}).`, null, 'method_not_allowed').with({ Allow: allow });
    if (!found.route.open && !guard.authorized(req.headers.authorization)) {
      throw new ApiError(401, 'Incorrect API key provided. Send it as "Authorization: Bearer <key>".', null, 'invalid_api_key');
    }
    if (method === 'POST' && !isJson(req.headers['content-type'])) {
      throw new ApiError(415, `Request bodies must be JSON sent as "Content-Type: application/json" (got ${JSON.stringify(req.headers['content-type'] ?? 'none')}).`, null, 'unsupported_media_type');
    }
    await found.route.run(req, res, track, found.arg);
  }

  const idle: (() => void)[] = [];
  const settle = () => { if (!inflight.size) idle.splice(0).forEach((f) => f()); };

  // the whole request (headers and body) within bodyTimeout, its headers within headerTimeout
  // (Node wants headersTimeout <= requestTimeout); Node checks them every connectionsCheckingInterval (default 30 s)
  const requestTimeout = (o.bodyTimeout ?? 30) * 1000, headersTimeout = Math.min((o.headerTimeout ?? 10) * 1000, requestTimeout);
  const server = http.createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval: 250 }, (req, res) => {
    const track: InFlight = { wasCut: false };
    inflight.add(track);
    res.on('close', () => { inflight.delete(track); settle(); });
    route(req, res, track).catch((e: unknown) => {
      if (e instanceof ClientGone) { res.destroy(); return; }
      const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${(e as Error).message}`);
      if (err.status >= 500 && !(e instanceof ApiError)) process.stderr.write(`serve: ${(e as Error).stack ?? e}\n`);
      if (res.headersSent) { if (!res.writableEnded) res.end(`data: ${JSON.stringify(err.body)}\n\n`); return; }
      // a refused body is not read: drain a bounded amount so the client sees the answer, then close
      const close: Record<string, string> = err.status === 413 || draining ? { Connection: 'close' } : {};
      sendJson(res, err.status, err.body, { ...err.headers, ...close });
      if (err.status === 413) { let n = 0; req.on('data', (b: Buffer) => { n += b.length; if (n > 64 * o.bodyLimit) req.destroy(); }); req.resume(); }
    });
  }) as ApiServer;
  server.keepAliveTimeout = (o.keepAliveTimeout ?? 5) * 1000;
  server.on('clientError', answerClientError);

  let graceOver: (() => void) | null = null;
  server.cutNow = () => graceOver?.();
  server.shutdown = async (graceMs: number) => {
    draining = true;
    server.close(); // Node >= 19 closes the idle keep-alive connections too
    const running = inflight.size;
    const drained = new Promise<void>((r) => { idle.push(r); settle(); });
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([drained.then(() => false),
      new Promise<boolean>((r) => { graceOver = () => r(true); timer = setTimeout(graceOver, graceMs); })]);
    clearTimeout(timer);
    const cut = late ? inflight.size : 0;
    if (late) {
      cutReason = `The server is shutting down: this request was cut after the ${graceMs / 1000} s grace period (--shutdown_grace).`;
      for (const t of inflight) { t.wasCut = true; t.onCut?.(); }
      await Promise.race([drained, new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    server.closeAllConnections();
    return { finished: running - cut, cut };
  };
  return server;
}
