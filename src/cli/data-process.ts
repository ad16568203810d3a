import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import cliProgress from 'cli-progress';
import { Format, processData, Stage } from '../data/process.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { Args, bool01, handler, rel } from './common.js';
import { commandInfo } from './command-info.js';

export const dataProcessCommand = {
  ...commandInfo('data-process'),
  builder: (y: Argv) => y
    .option('stage', { type: 'string', choices: ['pretrain', 'sft', 'dpo'], default: 'pretrain', describe: 'what the data is for' })
    .option('input', { type: 'string', array: true, demandOption: true, describe: 'data files' })
    .option('tokenizer', { type: 'string', default: 'model', describe: 'tokenizer directory' })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory, e.g. dataset/sft (pass it as --data_path)' })
    .option('format', { type: 'string', default: 'auto', choices: ['auto', 'minimind', 'alpaca', 'sharegpt'], describe: 'record format (auto: detect per record)' })
    .option('max_seq_len', { type: 'number', default: 512, describe: 'count the sequences longer than this, and the padding' })
    .option('seed', { type: 'number', default: 42, describe: 'accepted for old command lines; the shards do not depend on it' })
    .option(...bool01('strict', 'stop at the first malformed record instead of skipping it', false))
    .option(...bool01('progress', 'show a progress bar', true))
    .example('$0 data-process --stage sft --input dataset/sft_mini_512.jsonl --out dataset/sft', 'tokenize once, train many times'),
  handler: handler(async (a: Args) => {
    const tok = MiniTokenizer.load(a.tokenizer as string);
    const t0 = performance.now();
    const bar = a.progress && process.stderr.isTTY
      ? new cliProgress.SingleBar({ format: `${a.stage} {bar} {percentage}% | {mbs} MB/s | ETA {eta_formatted}`, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    bar?.start(100, 0, { mbs: '-' });
    const meta = await processData({
      inputs: a.input as string[], tokenizer: tok, outDir: a.out as string, stage: a.stage as Stage, format: a.format as Format, strict: a.strict as boolean,
      maxSeqLen: a.max_seq_len as number,
      warn: (m) => { bar?.stop(); process.stderr.write(chalk.yellow(`warning: ${m}\n`)); },
      onProgress: (d, t) => bar?.update(Math.round((100 * d) / Math.max(t, 1)), { mbs: (d / 1e6 / ((performance.now() - t0) / 1000)).toFixed(1) }),
    });
    bar?.stop();
    const st = meta.stats, T = a.max_seq_len as number;
    const seqs = meta.samples;
    process.stderr.write(`${chalk.green('done')}: ${meta.stats.records} records -> ${seqs} sequences, ${meta.tokens} tokens in ${meta.seconds.toFixed(1)} s `
      + `(${(meta.mb / meta.seconds).toFixed(1)} MB/s) -> ${rel(path.resolve(a.out as string))}\n`
      + `  skipped ${st.skipped} malformed records; ${st.truncated} sequences longer than ${T} tokens (truncated in training); `
      + `padding ${(100 * st.padding_tokens / Math.max(1, seqs * (T + 1))).toFixed(1)}% at --max_seq_len ${T}\n`);
  }),
};
