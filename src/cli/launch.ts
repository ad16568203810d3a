// `minimind launch`: torchrun-style data parallel on one machine; starts N copies of this CLI
// running the given command (see src/parallel/launch.ts). It does no work of its own.
import type { Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { launch } from '../parallel/launch.js';
import { UserError } from '../util/errors.js';
import { Args, handler } from './common.js';
import { WATCH_PID } from './startup.js';
import { commandInfo } from './command-info.js';

/** The ranks' command line: the tokens from the first non-option after `launch` on, verbatim
 * (yargs would convert numbers and take flags such as --help for itself). Launch's own
 * options all take a value. Null when no command is given. */
export function rankArgv(argv: string[]): string[] | null {
  let i = argv.indexOf('launch') + 1;
  if (i === 0) return null;
  while (i < argv.length && argv[i].startsWith('-')) i += argv[i].includes('=') ? 1 : 2;
  return i < argv.length ? argv.slice(i) : null;
}

export const launchCommand = {
  ...commandInfo('launch'),
  builder: (y: Argv) => {
    // the command's own flags (its --help too) belong to the ranks, not to launch
    if (rankArgv(hideBin(process.argv))) y.help(false).version(false);
    return y
      .parserConfiguration({ 'unknown-options-as-args': true })
      .positional('command', { type: 'string', describe: 'the minimind command each rank runs (pretrain, full-sft, ...)' })
      .positional('args', { type: 'string', array: true, describe: "the command's own options" })
      .option('nproc_per_node', { alias: 'nproc', type: 'number', demandOption: true, describe: 'number of processes (ranks)' })
      .option('master_port', { type: 'number', describe: 'TCP port of the rendezvous on 127.0.0.1 (default: a free port)' })
      .example('$0 launch --nproc_per_node 2 pretrain --batch_size 16', 'pretrain on two processes')
      .epilog('Each rank gets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. Rank 0 prints as usual; ' +
        "the other ranks' stdout and stderr go to stderr, each line prefixed [rank N]. Ctrl-C reaches every rank; " +
        'when one fails, the others are stopped and launch exits non-zero naming it.');
  },
  handler: handler(async (a: Args) => {
    const script = process.argv[1];
    const args = rankArgv(hideBin(process.argv));
    if (!script || !args) throw new UserError('launch: give the command the ranks run, e.g. `minimind launch --nproc_per_node 2 pretrain`');
    // the ranks stop as on SIGTERM if launch is killed (src/cli/startup.ts)
    return launch({ nproc: a.nproc_per_node as number, masterPort: a.master_port as number | undefined, script, args, env: { [WATCH_PID]: String(process.pid) } });
  }),
};
