// A tiny chat model directory (trained tokenizer, random weights) and a server over it.
import http from 'node:http';
import path from 'node:path';
import { saveModelDir } from '../src/io/model-dir.js';
import { MiniMindConfig, resolveConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { BatchDecoder } from '../src/serve/batch-decoder.js';
import { Engine, EngineOptions } from '../src/serve/engine.js';
import { createServer, ServeOptions } from '../src/serve/server.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { workspace } from './helpers.js';

export interface TinyModel { dir: string; config: MiniMindConfig }

export async function tinyModelDir(): Promise<TinyModel> {
  const ws = await workspace(200);
  const config = resolveConfig('tiny', { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320, max_position_embeddings: 256 });
  const dir = path.join(ws.dir, 'model');
  saveModelDir(dir, config, initParams(config, 7), ws.tokenizer);
  return { dir, config };
}

export interface Running { url: string; server: http.Server; engine: Engine; close(): Promise<void> }

export async function startServer(m: TinyModel, e: Partial<EngineOptions> = {}, s: Partial<ServeOptions> = {}): Promise<Running> {
  const tok = MiniTokenizer.load(m.dir);
  const engine = new Engine(await BatchDecoder.create(m.config, (await import('../src/io/model-dir.js')).loadModelDir(m.dir).params, { threads: 1 }),
    { maxBatch: 4, maxQueue: 16, contextWindow: m.config.max_position_embeddings, vocabLimit: Math.min(m.config.vocab_size, tok.vocabSize), ...e });
  const server = createServer(engine, tok, { name: 'tiny', bodyLimit: 64 * 1024, contextWindow: m.config.max_position_embeddings, limits: {}, ...s });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, server, engine, close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await engine.release(); } };
}
