// The CLI's commands: each one's name and description here, the rest (its flags and handler,
// and everything they import: ONNX Runtime, the tokenizers, the graph builder) loaded only for
// the command that runs, so `minimind --help` and a command's start do not load all of them.
import type { CommandModule } from 'yargs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandModule<any, any>;

export interface CommandEntry { command: string; describe: string; load: () => Promise<AnyCommand> }

export const COMMANDS: CommandEntry[] = [
  { command: 'download <what> [files..]', describe: "download MiniMind's datasets, tokenizer or model from the Hugging Face hub (resumable)",
    load: async () => (await import('./download.js')).downloadCommand as AnyCommand },
  { command: 'train-tokenizer', describe: 'train a byte-level BPE tokenizer (Hugging Face tokenizer.json)',
    load: async () => (await import('./train-tokenizer.js')).trainTokenizerCommand as AnyCommand },
  { command: 'data-process', describe: 'tokenize pretrain/SFT/DPO data (JSONL, JSON, CSV, TXT) into token shards for training',
    load: async () => (await import('./data-process.js')).dataProcessCommand as AnyCommand },
  { command: 'pretrain', describe: 'pretrain a model from scratch on {"text": ...} JSONL (or CSV/TXT)',
    load: async () => (await import('./pretrain.js')).pretrainCommand as AnyCommand },
  { command: 'eval-pretrain [prompts..]', describe: 'continue prompts with a pretrained model (no chat template)',
    load: async () => (await import('./eval-pretrain.js')).evalPretrainCommand as AnyCommand },
  { command: 'full-sft', describe: 'supervised fine-tuning of every weight on chat data ({"conversations": [...]})',
    load: async () => (await import('./sft.js')).fullSftCommand as AnyCommand },
  { command: 'lora-sft', describe: 'fine-tune LoRA adapters (base weights frozen) on chat data',
    load: async () => (await import('./sft.js')).loraSftCommand as AnyCommand },
  { command: 'merge-lora', describe: 'merge a LoRA adapter into its base model and write a full model directory',
    load: async () => (await import('./chat.js')).mergeLoraCommand as AnyCommand },
  { command: 'dpo-train', describe: 'align a chat model with preference pairs ({"chosen": [...], "rejected": [...]}) by DPO',
    load: async () => (await import('./dpo.js')).dpoCommand as AnyCommand },
  { command: 'distill', describe: "distil a teacher model's token distributions into a student on chat data (alpha * CE + (1 - alpha) * KL)",
    load: async () => (await import('./distill.js')).distillCommand as AnyCommand },
  { command: 'grpo', describe: 'reinforcement learning by GRPO or CISPO: sampled completions per prompt, rewarded, advantages normalised within each group',
    load: async () => (await import('./grpo.js')).grpoCommand as AnyCommand },
  { command: 'ppo', describe: 'reinforcement learning by PPO: an actor and a critic (value head), GAE advantages, clipped updates over minibatches',
    load: async () => (await import('./ppo.js')).ppoCommand as AnyCommand },
  { command: 'eval', describe: 'chat with a model in the terminal (/reset clears the history, /exit quits)',
    load: async () => (await import('./chat.js')).chatCommand as AnyCommand },
  { command: 'serve', describe: 'serve a model: OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models, /health) and a chat page at /',
    load: async () => (await import('./serve.js')).serveCommand as AnyCommand },
  { command: 'chat-api', describe: 'chat in the terminal with a running `minimind serve` (or any OpenAI-compatible server)',
    load: async () => (await import('./serve.js')).chatApiCommand as AnyCommand },
  { command: 'demo', describe: 'train a tiny model on a generated corpus in a few minutes and show that it learned',
    load: async () => (await import('./demo.js')).demoCommand as AnyCommand },
  { command: 'ceval', describe: "C-Eval / CMMLU accuracy: MiniMind's scorer (probabilities of A/B/C/D after each question), batched",
    load: async () => (await import('./ceval.js')).cevalCommand as AnyCommand },
  { command: 'eval-ppl', describe: 'perplexity and bits per byte on held-out text (.jsonl {"text"}, .txt lines) or a data-process folder',
    load: async () => (await import('./eval-ppl.js')).evalPplCommand as AnyCommand },
  { command: 'bench <what>', describe: 'measure speed and memory (one JSON line with --json)',
    load: async () => (await import('./bench.js')).benchCommand as AnyCommand },
  { command: 'install-cuda', describe: "install onnxruntime-node's CUDA execution provider (Linux x64, CUDA 12) for --device cuda: downloaded from NuGet, or --from files on this machine",
    load: async () => (await import('./install-cuda.js')).installCudaCommand as AnyCommand },
  { command: 'export', describe: 'export a model for Hugging Face transformers (hf), llama.cpp/Ollama (gguf) or transformers.js (onnx)',
    load: async () => (await import('./export.js')).exportCommand as AnyCommand },
  { command: 'launch <command> [args..]', describe: 'run a command as N data-parallel processes (like torchrun): each takes every N-th batch, gradients are averaged',
    load: async () => (await import('./launch.js')).launchCommand as AnyCommand },
];

/** A command's first word ('bench' of 'bench <what>'). */
export const commandName = (e: { command: string }) => e.command.split(' ')[0];

/** The name and description of a command, for its module. */
export function commandInfo(name: string): { command: string; describe: string } {
  const e = COMMANDS.find((c) => commandName(c) === name);
  if (!e) throw new Error(`no command "${name}" in cli/commands.ts`);
  return { command: e.command, describe: e.describe };
}

/**
 * The commands for yargs: the one `argv` names loaded in full, the others as their name and
 * description (enough for help and suggestions). When argv does not start with a command
 * (flags first), every command is loaded, so the one yargs picks can run.
 */
export async function commandsFor(argv: string[], layout: (c: AnyCommand) => AnyCommand): Promise<AnyCommand[]> {
  const first = argv[0];
  const named = COMMANDS.find((e) => commandName(e) === first);
  const loadAll = !named && first !== undefined && !['--help', '-h', '--version'].includes(first);
  // (a stub never runs: yargs runs the command argv starts with, which is loaded)
  const stub = (e: CommandEntry): AnyCommand => ({ command: e.command, describe: e.describe, handler: () => { throw new Error(`internal: command ${commandName(e)} was not loaded`); } });
  return Promise.all(COMMANDS.map(async (e) => (e === named || loadAll ? layout(await e.load()) : stub(e))));
}
