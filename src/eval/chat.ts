// A model ready to chat (optionally base + LoRA adapter, unmerged), and the prompt of a
// conversation that fits its context window.
import fs from 'node:fs';
import path from 'node:path';
import { loadModelDir } from '../io/model-dir.js';
import { MiniMindConfig } from '../model/config.js';
import { DecodeHook } from '../model/decode-runner.js';
import { Params } from '../model/params.js';
import { UserError } from '../util/errors.js';
import { Generator, Quantize } from '../model/generate.js';
import { loadAdapter, loraHook, loraSpecs } from '../model/lora.js';
import { SessionOptions } from '../runtime/session.js';
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';

export interface ChatModelOptions {
  /** model directory, or a MiniMind weights file (.pth, pytorch_model.bin) */
  loadFrom: string;
  /** what a weights file without config.json holds (from --preset and the model flags) */
  presetConfig?: MiniMindConfig;
  /** tokenizer directory when the model's own has none */
  tokenizer?: string;
  /** LoRA adapter directory, applied unmerged */
  lora?: string;
  quantize?: Quantize;
  session: SessionOptions;
}

/** The model's own tokenizer files when it has them (a model directory), else `fallback`. */
function tokenizerDirFor(loadFrom: string, fallback = 'model'): string {
  const dir = fs.statSync(loadFrom).isDirectory() ? loadFrom : path.dirname(loadFrom);
  return fs.existsSync(path.join(dir, 'tokenizer.json')) ? dir : fallback;
}

/** A tokenizer whose ids the model can embed. */
function checkVocab(tok: MiniTokenizer, c: MiniMindConfig): MiniTokenizer {
  if (tok.vocabSize > c.vocab_size) throw new UserError(`the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary is ${c.vocab_size}: pass the model's tokenizer with --tokenizer`);
  return tok;
}

/** A model to decode with: weights, its tokenizer, and a LoRA adapter's hook (applied unmerged). */
export interface DecodingModel { config: MiniMindConfig; params: Params; tok: MiniTokenizer; hook?: DecodeHook }

export function loadDecodingModel(o: Omit<ChatModelOptions, 'quantize' | 'session'>): DecodingModel {
  const { config, params } = loadModelDir(o.loadFrom, o.presetConfig);
  const tok = checkVocab(MiniTokenizer.load(tokenizerDirFor(o.loadFrom, o.tokenizer)), config);
  if (!o.lora) return { config, params, tok };
  const { lc, params: ad } = loadAdapter(o.lora, config);
  for (const [k, v] of ad) params.set(k, v);
  return { config, params, tok, hook: { linearHook: loraHook(lc), extraParams: loraSpecs(config, lc) } };
}

/** Weights, tokenizer and generator of a model (adapter applied unmerged). */
export async function loadChatModel(o: ChatModelOptions): Promise<{ gen: Generator; tok: MiniTokenizer; maxLen: number }> {
  const { config, params, tok, hook } = loadDecodingModel(o);
  const gen = await Generator.create(config, params, { ...o.session, quantize: o.quantize }, hook);
  return { gen, tok, maxLen: config.max_position_embeddings };
}

/**
 * Prompt ids of a conversation, dropping the oldest turns until it fits the context window;
 * `template`: the chat template's own options (open_thinking).
 */
export async function promptIds(tok: MiniTokenizer, history: ChatMessage[], budget: number, template: Record<string, unknown> = {}): Promise<number[]> {
  let h = history;
  for (;;) {
    const ids = await tok.encode(tok.applyChatTemplate(h, { ...template, addGenerationPrompt: true }));
    const firstUser = h.findIndex((m) => m.role === 'user');
    if (ids.length <= budget || h.length - firstUser <= 1) return ids.slice(-budget);
    h = [...h.slice(0, firstUser), ...h.slice(firstUser + 2)]; // drop the oldest exchange, keep a system prompt
  }
}
