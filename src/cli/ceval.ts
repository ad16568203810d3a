// `minimind ceval`: C-Eval (or CMMLU) accuracy of a model, scored as MiniMind v1's
// eval_ceval.py does (next-token probabilities of A/B/C/D), batched; tables printed and
// written under --out; Ctrl-C keeps the finished batches and --resume continues.
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import chalk from 'chalk';
import cliProgress from 'cli-progress';
import { UserError } from '../util/errors.js';
import { ChoiceScorer } from '../eval/choice-scorer.js';
import { summarize, terminalTable, writeReports } from '../eval/mcq-report.js';
import { letterIds, loadMcq, scoreMcq } from '../eval/mcq-run.js';
import { PromptStyle } from '../eval/prompt.js';
import { Benchmark } from '../eval/subjects.js';
import { formatSeconds } from '../train/progress.js';
import { Args, handler, loadOptions, modelSource, rel, runtimeOptions, sessionOptions } from './common.js';
import { loadDecodingModel } from '../eval/chat.js';
import { commandInfo } from './command-info.js';

export const cevalCommand = {
  ...commandInfo('ceval'),
  builder: (y: Argv) => loadOptions(runtimeOptions(y), 'out/full_sft')
    .option('benchmark', { type: 'string', default: 'ceval', choices: ['ceval', 'cmmlu'], describe: 'subject/category mapping of the data' })
    .option('data_dir', { type: 'string', describe: 'folder with <split>/ CSV files (default dataset/ceval-exam or dataset/cmmlu)' })
    .option('split', { type: 'string', default: 'val', describe: 'val | dev | test (test: writes the submission JSON; CMMLU: dev | test)' })
    .option('subjects', { type: 'string', describe: 'comma-separated subjects (default: all)' })
    .option('shots', { type: 'number', default: 0, describe: 'few-shot examples (0-5) from the dev split' })
    .option('prompt', { type: 'string', default: 'chat', choices: ['chat', 'plain'], describe: "chat: v1's system prompt and chat template; plain: no template (pretrained models)" })
    .option('limit', { type: 'number', describe: 'score only the first N questions of each subject' })
    .option('out', { type: 'string', default: 'results', describe: 'where the tables and per-question CSV are written' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted run (same settings)' })
    .option('batch_tokens', { type: 'number', default: 1024, describe: 'tokens per forward pass (prompts x longest prompt)' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress bar (--no-progress for none)' })
    .example('$0 ceval --load_from out/full_sft --data_dir dataset/ceval-exam', 'score the 1346 val questions')
    .example('$0 ceval --load_from out/pretrain --prompt plain --shots 5', '5-shot, no chat template'),
  handler: handler(async (a: Args) => {
    const shots = a.shots as number;
    if (!Number.isInteger(shots) || shots < 0 || shots > 5) throw new UserError(`--shots must be 0 to 5, got ${shots}`);
    if (a.limit !== undefined && !(Number.isInteger(a.limit) && (a.limit as number) > 0)) throw new UserError(`--limit must be a positive integer, got ${a.limit}`);
    if (!(Number(a.batch_tokens) >= 1)) throw new UserError(`--batch_tokens must be a positive number, got ${a.batch_tokens}`);
    const benchmark = a.benchmark as Benchmark, split = a.split as string;
    const dataDir = (a.data_dir as string | undefined) ?? (benchmark === 'ceval' ? 'dataset/ceval-exam' : 'dataset/cmmlu');
    const subjects = (a.subjects as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
    const mcq = loadMcq({ benchmark, dataDir, split, subjects, shots, limit: a.limit as number | undefined });
    for (const s of mcq.skipped) process.stderr.write(`${chalk.yellow('skipped:')} ${s}\n`);

    const source = modelSource(a, 'model', 'train one with `minimind full-sft`');
    const { config, params, tok } = loadDecodingModel(source);
    const scorer = await ChoiceScorer.create(config, params, await letterIds(tok), { ...sessionOptions(a), constWeights: true });
    const out = a.out as string;
    fs.mkdirSync(out, { recursive: true });
    const progressFile = path.join(out, `${benchmark}_${split}_progress.jsonl`);
    const settings = { model: path.resolve(source.loadFrom), benchmark, split, subjects: subjects ?? null, shots, prompt: a.prompt, limit: a.limit ?? null };

    let stop = false;
    const onSigint = () => { if (stop) process.exit(130); stop = true; };
    process.on('SIGINT', onSigint);
    const bar = a.progress && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, hideCursor: true, fps: 5,
      format: `${chalk.cyan(benchmark)} ${chalk.gray('{bar}')} {q}/{qt} questions | {qps} q/s | ETA {eta_formatted}` }, cliProgress.Presets.shades_classic) : null;
    const t0 = performance.now();
    let firstDone = -1;
    const { results, complete } = await scoreMcq(tok, scorer, mcq.questions, mcq.shotsOf, {
      prompt: a.prompt as PromptStyle, maxLen: config.max_position_embeddings, tokenBudget: a.batch_tokens as number,
      progressFile, resume: a.resume as boolean, settings, shouldStop: () => stop,
      // the bar runs over padded tokens (batches go shortest first), so its ETA holds
      onBatch: (q, qt, t, tt) => {
        if (firstDone < 0) { firstDone = q; bar?.start(Math.max(tt, 1), 0, { q, qt, qps: '-' }); }
        bar?.update(t, { q, qt, qps: ((q - firstDone) / Math.max((performance.now() - t0) / 1000, 1e-9)).toFixed(1) });
      },
    });
    bar?.stop();
    process.off('SIGINT', onSigint);
    await scorer.release();
    const secs = (performance.now() - t0) / 1000;
    if (!complete) {
      process.stderr.write(`${chalk.yellow('stopped:')} ${results.length} of ${mcq.questions.length} questions done, kept in ${rel(progressFile)}; run again with --resume to continue\n`);
      return 130;
    }
    const name = path.basename(path.resolve(source.loadFrom)).replace(/\.(pth|bin|safetensors)$/, '');
    const files = writeReports(out, benchmark, split, name, results, { shots, prompt: a.prompt, seconds: +secs.toFixed(2) });
    if (results[0]?.q.answer !== null) process.stdout.write('\n' + terminalTable(summarize(benchmark, results)));
    fs.rmSync(progressFile, { force: true });
    process.stderr.write(chalk.gray(`${results.length} questions in ${formatSeconds(secs)} (${(results.length / secs).toFixed(1)} q/s); wrote ${files.map(rel).join(', ')}\n`));
  }),
};
