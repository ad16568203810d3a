// The CLI's commands by name and description: what `minimind --help` lists and each command's
// module takes its own from, without loading any command (cli/commands.ts loads them).

export interface CommandInfo { command: string; describe: string }

export const COMMAND_INFO: CommandInfo[] = [
  { command: 'download <what> [files..]', describe: "download MiniMind's datasets, tokenizer or model from the Hugging Face hub (resumable)" },
  { command: 'train-tokenizer', describe: 'train a byte-level BPE tokenizer (Hugging Face tokenizer.json)' },
  { command: 'data-process', describe: 'tokenize pretrain/SFT/DPO data (JSONL, JSON, CSV, TXT) into token shards for training' },
  { command: 'pretrain', describe: 'pretrain a model from scratch on {"text": ...} JSONL (or CSV/TXT)' },
  { command: 'eval-pretrain [prompts..]', describe: 'continue prompts with a pretrained model (no chat template)' },
  { command: 'full-sft', describe: 'supervised fine-tuning of every weight on chat data ({"conversations": [...]})' },
  { command: 'lora-sft', describe: 'fine-tune LoRA adapters (base weights frozen) on chat data' },
  { command: 'merge-lora', describe: 'merge a LoRA adapter into its base model and write a full model directory' },
  { command: 'dpo-train', describe: 'align a chat model with preference pairs ({"chosen": [...], "rejected": [...]}) by DPO' },
  { command: 'distill', describe: "distil a teacher model's token distributions into a student on chat data (alpha * CE + (1 - alpha) * KL)" },
  { command: 'grpo', describe: 'reinforcement learning by GRPO or CISPO: sampled completions per prompt, rewarded, advantages normalised within each group' },
  { command: 'ppo', describe: 'reinforcement learning by PPO: an actor and a critic (value head), GAE advantages, clipped updates over minibatches' },
  { command: 'eval', describe: 'chat with a model in the terminal (/reset clears the history, /exit quits)' },
  { command: 'serve', describe: 'serve a model: OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models, /health) and a chat page at /' },
  { command: 'chat-api', describe: 'chat in the terminal with a running `minimind serve` (or any OpenAI-compatible server)' },
  { command: 'demo', describe: 'train a tiny model on a generated corpus in a few minutes and show that it learned' },
  { command: 'ceval', describe: "C-Eval / CMMLU accuracy: MiniMind's scorer (probabilities of A/B/C/D after each question), batched" },
  { command: 'eval-ppl', describe: 'perplexity and bits per byte on held-out text (.jsonl {"text"}, .txt lines) or a data-process folder' },
  { command: 'bench <what>', describe: 'measure speed and memory (one JSON line with --json)' },
  { command: 'install-cuda', describe: "install onnxruntime-node's CUDA execution provider (Linux x64, CUDA 12) for --device cuda: downloaded from NuGet, or --from files on this machine" },
  { command: 'export', describe: 'export a model for Hugging Face transformers (hf), llama.cpp/Ollama (gguf) or transformers.js (onnx)' },
  { command: 'launch <command> [args..]', describe: 'run a command as N data-parallel processes (like torchrun): each takes every N-th batch, gradients are averaged' },
];

/** A command's first word ('bench' of 'bench <what>'). */
export const commandName = (e: { command: string }) => e.command.split(' ')[0];

/** The name and description of a command, for its module. */
export function commandInfo(name: string): CommandInfo {
  const e = COMMAND_INFO.find((c) => commandName(c) === name);
  if (!e) throw new Error(`no command "${name}" in cli/command-info.ts`);
  return { command: e.command, describe: e.describe };
}
