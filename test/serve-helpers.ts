// A tiny chat model directory (trained tokenizer, random weights) and a server over it.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { saveModelDir } from '../src/io/model-dir.js';
import { MiniMindConfig, resolveConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { BatchDecoder } from '../src/serve/batch-decoder.js';
import { Engine, EngineOptions, GenRequest, Handle } from '../src/serve/engine.js';
import { ApiServer, createServer, ServeOptions } from '../src/serve/server.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { workspace } from './helpers.js';

export interface TinyModel { dir: string; config: MiniMindConfig }

export async function tinyModelDir(o: Partial<MiniMindConfig> = {}): Promise<TinyModel> {
  const ws = await workspace(200);
  const config = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320, max_position_embeddings: 256, ...o });
  const dir = path.join(ws.dir, 'model');
  saveModelDir(dir, config, initParams(config, 7), ws.tokenizer);
  return { dir, config };
}

export interface Running { url: string; server: ApiServer; engine: Engine; close(): Promise<void> }

export async function startServer(m: TinyModel, e: Partial<EngineOptions> = {}, s: Partial<ServeOptions> = {}): Promise<Running> {
  const tok = MiniTokenizer.load(m.dir);
  const engine = new Engine(await BatchDecoder.create(m.config, (await import('../src/io/model-dir.js')).loadModelDir(m.dir).params, { threads: 1 }),
    { maxBatch: 4, maxQueue: 16, contextWindow: m.config.max_position_embeddings, vocabLimit: Math.min(m.config.vocab_size, tok.vocabSize), ...e });
  const server = createServer(engine, tok, { name: 'tiny', bodyLimit: 64 * 1024, contextWindow: m.config.max_position_embeddings, limits: {}, ...s });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, server, engine, close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await engine.release(); } };
}

export interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/** A request with any headers (fetch forbids Host, and sets Origin and Content-Type its own way). */
export function request(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(body)) };
    const r = http.request(`${url}${path}`, { method, headers: { ...length, ...headers }, agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Raw bytes to the server; resolves with all it sent back once it closes the connection (or after `ms`). */
export function rawExchange(url: string, pieces: (string | number)[], ms = 5000): Promise<{ text: string; closedAfterMs: number }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    const t0 = performance.now();
    let text = '';
    const timer = setTimeout(() => { sock.destroy(); resolve({ text, closedAfterMs: Infinity }); }, ms);
    sock.setEncoding('utf8');
    sock.on('data', (d) => { text += d; });
    sock.on('close', () => { clearTimeout(timer); resolve({ text, closedAfterMs: performance.now() - t0 }); });
    sock.on('error', reject);
    void (async () => { // strings are sent, numbers are pauses in ms
      for (const p of pieces) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!sock.destroyed) sock.write(p);
      }
    })();
  });
}

/** What this process writes to stderr while `fn` runs (the in-process server's logging). */
export async function stderrDuring(fn: () => Promise<void>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let out = '';
  process.stderr.write = ((chunk: string | Uint8Array) => { out += String(chunk); return true; }) as typeof process.stderr.write;
  try { await fn(); } finally { process.stderr.write = write; }
  return out;
}

/**
 * An engine stand-in that answers every request with `ids`, one token every `everyMs`,
 * then stops (or, with ids 'endless', goes on until cancelled).
 */
export function scriptedEngine(ids: number[] | 'endless', everyMs: number): Engine {
  return { batch: 0, queued: 0, stats: {}, o: { maxBatch: 8, maxQueue: 8 }, release: async () => {},
    submitAll: (reqs: GenRequest[]) => reqs.map((req) => {
      const h = new Handle(req);
      let i = 0;
      const timer = setInterval(() => {
        if (h.cancelled) { clearInterval(timer); h.end('cancelled'); return; }
        if (ids !== 'endless' && i >= ids.length) { clearInterval(timer); h.end('stop'); return; }
        h.push(ids === 'endless' ? 40 + (i % 50) : ids[i]); i++;
      }, everyMs);
      return h;
    }) } as unknown as Engine;
}
