#!/usr/bin/env node
// minimind: train a small language model from raw text to chat, on your own computer.
import fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { startup, superviseGpuRun } from '../src/cli/startup.js';
import { normalizeFlags } from '../src/cli/argv.js';
import { isUserFacing } from '../src/util/errors.js';
import { apply01Defaults, helpLayout } from '../src/cli/flags01.js';
import { commandsFor } from '../src/cli/commands.js';

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
  .command(await commandsFor(argv, helpLayout))
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
