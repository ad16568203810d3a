// No dead end without a tokenizer: MiniMind's repository ships one in model/, ours does not
// (it ships only what it made). `pretrain` without --tokenizer, where model/ has none,
// trains one on its own data first, as `train-tokenizer` would, and writes it into model/.
import fs from 'node:fs';
import path from 'node:path';
import chalk from 'chalk';
import { trainTokenizer } from '../tokenizer/train-corpus.js';
import { UserError } from '../util/errors.js';
import { flagGiven } from './argv.js';
import { Args, bool01, rel } from './common.js';

/** MiniMind's vocabulary size */
const VOCAB = 6400;

/** `--auto_tokenizer` (default 1; `--no_auto_tokenizer`): spread into `.option` */
export const AUTO_TOKENIZER_OPTION = bool01('auto_tokenizer', `without --tokenizer, and with no tokenizer in model/: first train one on --data_path into model/ (vocabulary ${VOCAB} or --vocab_size); 0 stops instead`, true, 'Training:');

/** Before pretraining a fresh model: make sure --tokenizer names a tokenizer, training one if allowed. */
export async function ensureTokenizer(a: Args, log: (m: string) => void = (m) => process.stderr.write(m + '\n')): Promise<void> {
  const dir = a.tokenizer as string;
  if (flagGiven('tokenizer') || fs.existsSync(path.join(dir, 'tokenizer.json'))) return; // named: its own errors speak
  if (a.from_weight !== undefined && a.from_weight !== 'none') return; // a starting model brings its tokenizer
  if (a.auto_tokenizer === false) return; // loading it says what to do
  const files = String(a.data_path).split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of files) if (!fs.existsSync(f)) throw new UserError(`cannot read data file ${f}: no such file`);
  if (files.length === 1 && fs.statSync(files[0]).isDirectory()) {
    throw new UserError(`no tokenizer.json in ${dir}: ${files[0]} holds token shards, so pass the tokenizer data-process used with --tokenizer (or fetch MiniMind's with \`minimind download tokenizer\`)`);
  }
  const vocab = (a.vocab_size as number | undefined) ?? VOCAB;
  log(chalk.yellow(`no tokenizer in ${dir}/: training one (byte-level BPE, ${vocab} tokens) on ${files.join(', ')} first, as \`minimind train-tokenizer\` does `
    + `(--no_auto_tokenizer: stop instead; \`minimind download tokenizer\`: MiniMind's own)`));
  const r = await trainTokenizer(files, vocab, dir, { progress: a.progress as boolean, log });
  log(`${chalk.green('tokenizer')}: ${r.merges} merges in ${r.seconds.toFixed(1)} s -> ${rel(dir)}/tokenizer.json`);
}
