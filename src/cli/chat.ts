// `minimind eval`: chat in the terminal with a model (optionally base + LoRA adapter).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { Generator, Quantize } from '../model/generate.js';
import { loadAdapter, loraHook, loraSpecs, mergeLora } from '../model/lora.js';
import { ChatMessage, MiniTokenizer } from '../tokenizer/tokenizer.js';
import { Args, handler, rel, requireDir, runtimeOptions, samplingOptions, sessionOptions } from './common.js';
import { sampling, streamText } from './generate-text.js';

/** A model ready to chat: weights, tokenizer and generator (adapter applied unmerged). */
export async function loadChatModel(a: Args): Promise<{ gen: Generator; tok: MiniTokenizer; maxLen: number }> {
  const dir = a.load_from as string;
  requireDir(dir, 'model directory', 'train one with `minimind full-sft`');
  const { config, params } = loadModelDir(dir);
  const tok = MiniTokenizer.load(dir);
  let hook;
  if (a.lora) {
    const { lc, params: ad } = loadAdapter(a.lora as string, config);
    for (const [k, v] of ad) params.set(k, v);
    hook = { linearHook: loraHook(lc), extraParams: loraSpecs(config, lc) };
  }
  const gen = await Generator.create(config, params, { ...sessionOptions(a), quantize: a.quantize as Quantize }, hook);
  return { gen, tok, maxLen: config.max_position_embeddings };
}

/** Prompt ids of a conversation, dropping the oldest turns until it fits the context window. */
export async function promptIds(tok: MiniTokenizer, history: ChatMessage[], budget: number): Promise<number[]> {
  let h = history;
  for (;;) {
    const ids = await tok.encode(tok.applyChatTemplate(h, { addGenerationPrompt: true }));
    const firstUser = h.findIndex((m) => m.role === 'user');
    if (ids.length <= budget || h.length - firstUser <= 1) return ids.slice(-budget);
    h = [...h.slice(0, firstUser), ...h.slice(firstUser + 2)]; // drop the oldest exchange, keep a system prompt
  }
}

export const chatCommand = {
  command: 'eval',
  describe: 'chat with a model in the terminal (/reset clears the history, /exit quits)',
  builder: (y: Argv) => samplingOptions(runtimeOptions(y))
    .option('load_from', { type: 'string', default: 'out/full_sft', describe: 'model directory' })
    .option('lora', { type: 'string', describe: 'LoRA adapter directory, applied unmerged' })
    .option('system', { type: 'string', describe: 'system prompt' })
    .option('history', { type: 'boolean', default: true, describe: 'keep earlier turns in the prompt (multi-turn)' })
    .option('quantize', { type: 'string', default: 'none', choices: ['none', 'q4'], describe: 'weights for decoding (q4: 4-bit, ~3x faster)' })
    .option('prompt', { type: 'string', describe: 'answer this one message and exit' })
    .example('$0 eval --load_from out/full_sft', 'chat with the SFT model'),
  handler: handler(async (a: Args) => {
    const { gen, tok, maxLen } = await loadChatModel(a);
    const system: ChatMessage[] = a.system ? [{ role: 'system', content: a.system as string }] : [];
    let history: ChatMessage[] = [...system];
    const o = sampling(a);
    const answer = async (q: string) => {
      history.push({ role: 'user', content: q });
      const ids = await promptIds(tok, history, maxLen - (o.maxNewTokens ?? 256));
      process.stdout.write(chalk.green('🤖 '));
      const { text } = await streamText(gen, tok, ids, o, (s) => process.stdout.write(s));
      process.stdout.write('\n');
      history.push({ role: 'assistant', content: text });
      if (!a.history) history = [...system];
    };
    if (a.prompt !== undefined) { await answer(a.prompt as string); await gen.release(); return; }
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
    const ask = () => { if (process.stdin.isTTY) process.stdout.write(chalk.cyan('👶 ')); };
    if (process.stdin.isTTY) process.stdout.write(chalk.gray('chat with the model; /reset clears the history, /exit quits\n'));
    ask();
    for await (const line of rl) {
      const q = line.trim();
      if (q === '/exit' || q === '/quit') break;
      if (q === '/reset') { history = [...system]; process.stdout.write(chalk.gray('(history cleared)\n')); ask(); continue; }
      if (q) await answer(q);
      ask();
    }
    rl.close();
    await gen.release();
  }),
};

export const mergeLoraCommand = {
  command: 'merge-lora',
  describe: 'merge a LoRA adapter into its base model and write a full model directory',
  builder: (y: Argv) => y
    .option('base', { type: 'string', default: 'out/full_sft', describe: 'base model directory' })
    .option('adapter', { type: 'string', default: 'out/lora_sft', describe: 'adapter directory' })
    .option('out', { type: 'string', default: 'out/lora_merged', describe: 'where to write the merged model' }),
  handler: handler(async (a: Args) => {
    requireDir(a.base as string, 'base model', 'train it first');
    const { config, params } = loadModelDir(a.base as string);
    const { lc, params: ad } = loadAdapter(a.adapter as string, config);
    saveModelDir(a.out as string, config, mergeLora(config, params, ad, lc), a.base as string);
    if (!fs.existsSync(path.join(a.out as string, 'tokenizer.json'))) process.stderr.write(chalk.yellow('note: no tokenizer copied (the base directory has none)\n'));
    process.stderr.write(`${chalk.green('done')}: merged ${lc.targets.length} adapted layers -> ${rel(a.out as string)}\n`);
  }),
};
