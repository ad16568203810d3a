import type { Argv } from 'yargs';
import chalk from 'chalk';
import { Generator } from '../model/generate.js';
import { streamText } from '../eval/generate-text.js';
import { Args, handler, loadOptions, modelSource, runtimeOptions, sampling, samplingOptions, sessionOptions } from './common.js';
import { loadDecodingModel } from '../eval/chat.js';
import { commandInfo } from './command-info.js';

const DEFAULT_PROMPTS = ['马克思主义基本原理', '人类大脑的主要功能', '万有引力原理是', '世界上最高的山峰是', 'The capital of France is'];

export const evalPretrainCommand = {
  ...commandInfo('eval-pretrain'),
  // a pretrained model rarely ends a continuation itself: eval_llm.py's 8192 tokens would run to the window
  builder: (y: Argv) => loadOptions(samplingOptions(runtimeOptions(y), { max_new_tokens: 256 }), 'out/pretrain')
    .positional('prompts', { type: 'string', array: true, describe: 'texts to continue (default: a few MiniMind prompts)' })
    .example('$0 eval-pretrain "The capital of France is" --temperature 0', 'greedy continuation'),
  handler: handler(async (a: Args) => {
    const { config, params, tok } = loadDecodingModel(modelSource(a, 'model directory', 'train one with `minimind pretrain`'));
    const gen = await Generator.create(config, params, sessionOptions(a));
    const prompts = (a.prompts as string[] | undefined)?.length ? a.prompts as string[] : DEFAULT_PROMPTS;
    for (const p of prompts) {
      process.stdout.write(`${chalk.cyan('👶')} ${p}`);
      const ids = [tok.bosId, ...(await tok.encode(p))];
      const t0 = performance.now();
      const { tokens } = await streamText(gen, tok, ids, sampling(a), (s) => process.stdout.write(s));
      process.stdout.write(chalk.gray(`  [${tokens} tokens, ${(tokens / ((performance.now() - t0) / 1000)).toFixed(1)} tok/s]\n\n`));
    }
    await gen.release();
  }),
};
