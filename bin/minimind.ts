#!/usr/bin/env node
// minimind: train a small language model from raw text to chat, on your own computer.
import fs from 'node:fs';
import yargs, { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startup, superviseGpuRun } from '../src/cli/startup.js';
import { normalizeFlags } from '../src/cli/argv.js';
import { isUserFacing } from '../src/util/errors.js';
import { apply01Defaults, helpLayout } from '../src/cli/common.js';
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

// one element type for yargs (each command's builder types its own flags)
const COMMANDS: CommandModule<any, any>[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  downloadCommand, trainTokenizerCommand, dataProcessCommand, pretrainCommand,
  evalPretrainCommand, fullSftCommand, loraSftCommand, mergeLoraCommand,
  dpoCommand, distillCommand, grpoCommand, ppoCommand, chatCommand, serveCommand, chatApiCommand,
  demoCommand, cevalCommand, evalPplCommand, benchCommand,
  installCudaCommand, exportCommand, launchCommand,
];

let argv: string[];
try {
  argv = normalizeFlags(hideBin(process.argv)); // kebab-case spellings; a flag given twice is refused
} catch (e) {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
}
if (superviseGpuRun(argv)) await new Promise(() => {}); // the supervised child does the work
startup(argv);

await yargs(argv)
  .scriptName('minimind')
  .usage('$0 <command> [options]')
  .middleware(apply01Defaults, true)
  .command(COMMANDS.map(helpLayout))
  .demandCommand(1, 'choose a command (see --help)')
  .strict()
  .recommendCommands()
  .wrap(Math.min(120, process.stdout.columns || 100))
  .fail((msg, err) => {
    if (err && !isUserFacing(err)) throw err; // a bug: its stack trace
    process.stderr.write(`error: ${msg}\nrun with --help for usage\n`);
    process.exit(1);
  })
  .help()
  .version(JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version)
  .epilogue('Every flag also takes its kebab-case spelling (--data-path for --data_path); 0/1 flags take 1/0, --flag and --no-flag.')
  .parseAsync();
