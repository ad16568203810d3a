import type { Argv } from 'yargs';
import chalk from 'chalk';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, handler, rel } from './common.js';
import { commandInfo } from './command-info.js';

export const trainTokenizerCommand = {
  ...commandInfo('train-tokenizer'),
  builder: (y: Argv) => y
    .option('data', { type: 'string', array: true, default: ['dataset/pretrain_hq.jsonl'], describe: 'corpus files: JSONL (pretrain/SFT/DPO), CSV or TXT' })
    .option('vocab_size', { type: 'number', default: 6400, describe: 'vocabulary size, special tokens included' })
    .option('out', { type: 'string', default: 'model', describe: 'directory for tokenizer.json and tokenizer_config.json' })
    .option(...bool01('progress', 'show a progress bar', true))
    .example('$0 train-tokenizer --data dataset/pretrain_hq.jsonl --vocab_size 6400 --out model', "MiniMind's tokenizer"),
  handler: handler(async (a: Args) => {
    const vocab = a.vocab_size as number;
    if (!Number.isInteger(vocab) || vocab <= 0) throw new UserError(`--vocab_size must be a positive integer, got ${a.vocab_size}`);
    const r = await trainTokenizer(a.data as string[], vocab, a.out as string, { progress: a.progress as boolean, log: (m) => process.stderr.write(m + '\n') });
    const tok = MiniTokenizer.load(a.out as string);
    if (tok.vocabSize < vocab) process.stderr.write(chalk.yellow(`note: the corpus only supports ${tok.vocabSize} tokens (${r.merges} merges); vocabulary is smaller than ${vocab}\n`));
    process.stderr.write(`${chalk.green('done')}: ${tok.vocabSize} tokens (${r.merges} merges from ${r.words} distinct words, ${r.mb.toFixed(1)} MB) in ${r.seconds.toFixed(1)} s -> ${rel(a.out as string)}/tokenizer.json\n`);
  }),
};
