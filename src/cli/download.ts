import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import cliProgress from 'cli-progress';
import { download, hubUrl } from '../io/download.js';
import { unzipTo } from '../io/unzip.js';
import { Args, handler, rel } from './common.js';
import { commandInfo } from './command-info.js';

// MiniMind's public files on the Hugging Face hub
const WHAT = {
  dataset: { repo: 'jingyaogong/minimind_dataset', kind: 'dataset' as const, out: 'dataset', files: ['pretrain_hq.jsonl', 'sft_mini_512.jsonl'] },
  tokenizer: { repo: 'jingyaogong/MiniMind2', kind: 'model' as const, out: 'model', files: ['tokenizer.json', 'tokenizer_config.json'] },
  model: { repo: 'jingyaogong/MiniMind2', kind: 'model' as const, out: 'out/minimind2', files: ['config.json', 'model.safetensors', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'] },
  // C-Eval's archive (dev/val/test CSVs of 52 subjects), unpacked beside it for `minimind ceval`
  ceval: { repo: 'ceval/ceval-exam', kind: 'dataset' as const, out: 'dataset/ceval-exam', files: ['ceval-exam.zip'] },
};

export const downloadCommand = {
  ...commandInfo('download'),
  builder: (y: Argv) => y
    .positional('what', { choices: Object.keys(WHAT), describe: 'dataset: training data; tokenizer: tokenizer files; model: MiniMind2 weights; ceval: C-Eval exam (unzipped)' })
    .positional('files', { type: 'string', array: true, describe: 'files of the repository (default: the usual ones, e.g. pretrain_hq.jsonl sft_mini_512.jsonl)' })
    .option('repo', { type: 'string', describe: 'hub repository (default: MiniMind\'s)' })
    .option('out', { type: 'string', describe: 'directory to write into' })
    .option('endpoint', { type: 'string', default: process.env.HF_ENDPOINT ?? 'https://huggingface.co', describe: 'hub address (or HF_ENDPOINT), e.g. a mirror' })
    .option('revision', { type: 'string', default: 'main', describe: 'branch, tag or commit of the hub repository' })
    .example('$0 download dataset sft_mini_512.jsonl', 'one file of minimind_dataset into dataset/'),
  handler: handler(async (a: Args) => {
    const w = WHAT[a.what as keyof typeof WHAT];
    const files = (a.files as string[] | undefined)?.length ? a.files as string[] : w.files;
    const out = (a.out as string | undefined) ?? w.out;
    for (const f of files) {
      const dest = path.join(out, path.basename(f));
      const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `${f} {bar} {percentage}% | {value_mb}/{total_mb} MB | ETA {eta_formatted}`, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
      let started = false;
      const r = await download(hubUrl(a.endpoint as string, (a.repo as string | undefined) ?? w.repo, w.kind, f, a.revision as string), dest, (d, t) => {
        if (!started) { bar?.start(t || d, 0, { value_mb: '0', total_mb: (t / 1e6).toFixed(1) }); started = true; }
        bar?.update(d, { value_mb: (d / 1e6).toFixed(1), total_mb: (t / 1e6).toFixed(1) });
      });
      bar?.stop();
      process.stderr.write(`${r === 'exists' ? chalk.gray('up to date') : chalk.green('downloaded')}: ${rel(dest)}\n`);
      if (dest.endsWith('.zip') && (r === 'done' || !fs.existsSync(path.join(out, 'val')))) {
        const n = unzipTo(dest, out).length;
        process.stderr.write(`${chalk.green('unpacked')}: ${n} files into ${rel(out)}\n`);
      }
    }
  }),
};
