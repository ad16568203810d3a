// The CLI's commands for yargs: each one's module (its flags and handler, and everything they
// import: ONNX Runtime, the tokenizers, the graph builder) is loaded only for the command that
// runs, so `minimind --help` and a command's start do not load all of them.
import type { CommandModule } from 'yargs';
import { COMMAND_INFO, CommandInfo, commandName } from './command-info.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandModule<any, any>;

/** Each command's module, by name. */
export const LOADERS: Record<string, () => Promise<AnyCommand>> = {
  'download': async () => (await import('./download.js')).downloadCommand as AnyCommand,
  'train-tokenizer': async () => (await import('./train-tokenizer.js')).trainTokenizerCommand as AnyCommand,
  'data-process': async () => (await import('./data-process.js')).dataProcessCommand as AnyCommand,
  'pretrain': async () => (await import('./pretrain.js')).pretrainCommand as AnyCommand,
  'eval-pretrain': async () => (await import('./eval-pretrain.js')).evalPretrainCommand as AnyCommand,
  'full-sft': async () => (await import('./sft.js')).fullSftCommand as AnyCommand,
  'lora-sft': async () => (await import('./sft.js')).loraSftCommand as AnyCommand,
  'merge-lora': async () => (await import('./chat.js')).mergeLoraCommand as AnyCommand,
  'dpo-train': async () => (await import('./dpo.js')).dpoCommand as AnyCommand,
  'distill': async () => (await import('./distill.js')).distillCommand as AnyCommand,
  'grpo': async () => (await import('./grpo.js')).grpoCommand as AnyCommand,
  'ppo': async () => (await import('./ppo.js')).ppoCommand as AnyCommand,
  'eval': async () => (await import('./chat.js')).chatCommand as AnyCommand,
  'serve': async () => (await import('./serve.js')).serveCommand as AnyCommand,
  'chat-api': async () => (await import('./serve.js')).chatApiCommand as AnyCommand,
  'demo': async () => (await import('./demo.js')).demoCommand as AnyCommand,
  'ceval': async () => (await import('./ceval.js')).cevalCommand as AnyCommand,
  'eval-ppl': async () => (await import('./eval-ppl.js')).evalPplCommand as AnyCommand,
  'bench': async () => (await import('./bench.js')).benchCommand as AnyCommand,
  'install-cuda': async () => (await import('./install-cuda.js')).installCudaCommand as AnyCommand,
  'export': async () => (await import('./export.js')).exportCommand as AnyCommand,
  'launch': async () => (await import('./launch.js')).launchCommand as AnyCommand,
};

/**
 * The commands for yargs: the one `argv` names loaded in full, the others as their name and
 * description (enough for help and suggestions). When argv does not start with a command
 * (flags first), every command is loaded, so the one yargs picks can run.
 */
export async function commandsFor(argv: string[], layout: (c: AnyCommand) => AnyCommand): Promise<AnyCommand[]> {
  const first = argv[0];
  const named = COMMAND_INFO.find((e) => commandName(e) === first);
  const loadAll = !named && first !== undefined && !['--help', '-h', '--version'].includes(first);
  // (a stub never runs: yargs runs the command argv starts with, which is loaded)
  const stub = (e: CommandInfo): AnyCommand => ({ ...e, handler: () => { throw new Error(`internal: command ${commandName(e)} was not loaded`); } });
  return Promise.all(COMMAND_INFO.map(async (e) => (e === named || loadAll ? layout(await LOADERS[commandName(e)]()) : stub(e))));
}
