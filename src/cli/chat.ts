// `minimind eval`: chat in the terminal with a model (optionally base + LoRA adapter).
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import { loadChatModel, promptIds } from '../eval/chat.js';
import { streamText } from '../eval/generate-text.js';
import { loadModelDir, saveModelDir } from '../io/model-dir.js';
import { Quantize } from '../model/generate.js';
import { loadAdapter, mergeLora } from '../model/lora.js';
import { ChatMessage } from '../tokenizer/tokenizer.js';
import { chatRepl } from './chat-repl.js';
import { Args, bool01, handler, loadOptions, modelSource, rel, requireDir, runtimeOptions, sampling, samplingOptions, sessionOptions } from './common.js';

export const chatCommand = {
  command: 'eval',
  describe: 'chat with a model in the terminal (/reset clears the history, /exit quits)',
  builder: (y: Argv) => loadOptions(samplingOptions(runtimeOptions(y)), 'out/full_sft')
    .option('lora', { type: 'string', describe: 'LoRA adapter directory, applied unmerged' })
    .option('system', { type: 'string', describe: 'system prompt' })
    .option(...bool01('history', 'keep earlier turns in the prompt (multi-turn)', true))
    .option('quantize', { type: 'string', default: 'none', choices: ['none', 'q4'], describe: 'weights for decoding (q4: 4-bit, ~3x faster)' })
    .option('prompt', { type: 'string', describe: 'answer this one message and exit' })
    .example('$0 eval --load_from out/full_sft', 'chat with the SFT model'),
  handler: handler(async (a: Args) => {
    const { gen, tok, maxLen } = await loadChatModel({
      ...modelSource(a, 'model directory', 'train one with `minimind full-sft`'),
      lora: a.lora as string | undefined, quantize: a.quantize as Quantize, session: sessionOptions(a),
    });
    const system: ChatMessage[] = a.system ? [{ role: 'system', content: a.system as string }] : [];
    let history: ChatMessage[] = [...system];
    const o = sampling(a);
    const answer = async (q: string) => {
      history.push({ role: 'user', content: q });
      // room for the answer: --max_new_tokens, but at most half the window (MiniMind's 8192 exceeds small models' windows)
      const ids = await promptIds(tok, history, maxLen - Math.min(o.maxNewTokens ?? 256, Math.floor(maxLen / 2)));
      process.stdout.write(chalk.green('🤖 '));
      const { text } = await streamText(gen, tok, ids, o, (s) => process.stdout.write(s));
      process.stdout.write('\n');
      history.push({ role: 'assistant', content: text });
      if (!a.history) history = [...system];
    };
    if (a.prompt !== undefined) { await answer(a.prompt as string); await gen.release(); return; }
    await chatRepl('chat with the model', answer, () => { history = [...system]; });
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
