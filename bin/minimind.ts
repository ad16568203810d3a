#!/usr/bin/env node
// minimind: train a small language model from raw text to chat, on your own computer.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { demoCommand } from '../src/cli/demo.js';
import { evalPretrainCommand } from '../src/cli/eval-pretrain.js';
import { pretrainCommand } from '../src/cli/pretrain.js';
import { trainTokenizerCommand } from '../src/cli/train-tokenizer.js';

await yargs(hideBin(process.argv))
  .scriptName('minimind')
  .usage('$0 <command> [options]')
  .command(trainTokenizerCommand)
  .command(pretrainCommand)
  .command(evalPretrainCommand)
  .command(demoCommand)
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
