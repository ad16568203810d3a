#!/usr/bin/env node
// minimind: train a small language model from raw text to chat, on your own computer.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { relaunchWithTunables } from '../src/cli/relaunch.js';
import { apply01Defaults } from '../src/cli/common.js';
import { benchCommand } from '../src/cli/bench.js';
import { cevalCommand } from '../src/cli/ceval.js';
import { evalPplCommand } from '../src/cli/eval-ppl.js';
import { chatCommand, mergeLoraCommand } from '../src/cli/chat.js';
import { fullSftCommand, loraSftCommand } from '../src/cli/sft.js';
import { dpoCommand } from '../src/cli/dpo.js';
import { distillCommand } from '../src/cli/distill.js';
import { grpoCommand } from '../src/cli/grpo.js';
import { ppoCommand } from '../src/cli/ppo.js';
import { dataProcessCommand } from '../src/cli/data-process.js';
import { downloadCommand } from '../src/cli/download.js';
import { demoCommand } from '../src/cli/demo.js';
import { evalPretrainCommand } from '../src/cli/eval-pretrain.js';
import { installCudaCommand } from '../src/cli/install-cuda.js';
import { launchCommand } from '../src/cli/launch.js';
import { exportCommand } from '../src/cli/export.js';
import { pretrainCommand } from '../src/cli/pretrain.js';
import { chatApiCommand, serveCommand } from '../src/cli/serve.js';
import { trainTokenizerCommand } from '../src/cli/train-tokenizer.js';

if (relaunchWithTunables()) await new Promise(() => {}); // the child does the work

const argv = hideBin(process.argv);
// yargs merges a repeated numeric flag by adding the values; say so instead of guessing
const LIST_OPTIONS = new Set(['data', 'input']);
const seen = new Set<string>();
for (const a of argv) {
  const m = /^--(?:no-)?([A-Za-z_][\w-]*)/.exec(a);
  if (!m || LIST_OPTIONS.has(m[1])) continue;
  if (seen.has(m[1])) { process.stderr.write(`error: --${m[1]} is given more than once\n`); process.exit(1); }
  seen.add(m[1]);
}

await yargs(argv)
  .scriptName('minimind')
  .usage('$0 <command> [options]')
  .middleware(apply01Defaults, true)
  .command(downloadCommand)
  .command(trainTokenizerCommand)
  .command(dataProcessCommand)
  .command(pretrainCommand)
  .command(evalPretrainCommand)
  .command(fullSftCommand)
  .command(loraSftCommand)
  .command(mergeLoraCommand)
  .command(dpoCommand)
  .command(distillCommand)
  .command(grpoCommand)
  .command(ppoCommand)
  .command(chatCommand)
  .command(serveCommand)
  .command(chatApiCommand)
  .command(demoCommand)
  .command(cevalCommand)
  .command(evalPplCommand)
  .command(benchCommand)
  .command(installCudaCommand)
  .command(exportCommand)
  .command(launchCommand)
  .demandCommand(1, 'choose a command (see --help)')
  .strict()
  .recommendCommands()
  .wrap(Math.min(120, process.stdout.columns || 100))
  .fail((msg, err) => {
    if (err) throw err;
    process.stderr.write(`error: ${msg}\nrun with --help for usage\n`);
    process.exit(1);
  })
  .help()
  .parseAsync();
