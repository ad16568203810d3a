// full-sft and lora-sft: supervised fine-tuning on chat data (loss on assistant tokens only).
import type { Argv } from 'yargs';
import { ADD_SYSTEM_RATIO } from '../data/minimind3.js';
import { ShardReader } from '../data/shards.js';
import { TokenSamples } from '../data/samples.js';
import { ChatSampling } from '../data/variants.js';
import { initLora, isLora, LoraConfig, loraHook, LoraInit, loraSpecs, loraTargets, saveAdapter } from '../model/lora.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { runLMStage } from '../train/lm-stage.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, handler, modelConfig, positive, runtimeOptions, sessionOptions, trainOptions } from './common.js';
import { chatSamplingFrom, dataOptionsFrom, emptyThinkOption, printNotices, resolveFromWeight, trainOptionsFrom } from './stage-args.js';
import { commandInfo } from './command-info.js';

/** The chat-data flags of the SFT stages (and distillation, which reads SFT data). */
export function chatDataOptions<T>(y: Argv<T>) {
  return emptyThinkOption(y
    .option('format', { type: 'string', default: 'auto', choices: ['auto', 'minimind', 'alpaca', 'sharegpt'], describe: 'data format (auto: detect per record)', group: 'Training:' })
    .option('system_prompt_ratio', { type: 'number', default: ADD_SYSTEM_RATIO, describe: 'add a random system prompt to this share of conversations without one, drawn per epoch (MiniMind)', group: 'Training:' })
    .option(...bool01('strict', 'stop at the first malformed data line', false, 'Training:')));
}

/** SFT samples: padded conversations, loss on assistant tokens; system prompts and empty think blocks drawn per epoch as MiniMind does. */
const sftSamples = (chat: ChatSampling) => (shards: ShardReader, tok: MiniTokenizer, maxLength: number) => new TokenSamples(shards, maxLength, 'pad', tok.padId, { chat });

/** What every chat stage passes to runLMStage, from its flags. */
export function chatStage(a: Args) {
  printNotices(a);
  return { train: trainOptionsFrom(a), session: sessionOptions(a), data: dataOptionsFrom(a), dataStage: 'sft' as const, samples: sftSamples(chatSamplingFrom(a)) };
}

export const fullSftCommand = {
  ...commandInfo('full-sft'),
  builder: (y: Argv) => runtimeOptions(chatDataOptions(trainOptions(y, {
    // MiniMind-3 train_full_sft.py: --epochs 2 --batch_size 16 --learning_rate 1e-5 --accumulation_steps 1 --max_seq_len 768
    // --log_interval 100 --save_interval 1000 --save_weight full_sft --from_weight pretrain
    epochs: 2, batch_size: 16, learning_rate: 1e-5, accumulation_steps: 1, max_seq_len: 768, log_interval: 100, save_interval: 1000,
    save_weight: 'full_sft', from_weight: 'pretrain',
    data_path: 'dataset/sft_mini_512.jsonl', // MiniMind2's SFT data, what `minimind download dataset` fetches
  }))).example('$0 full-sft --from_weight out/pretrain --data_path dataset/sft_mini_512.jsonl', "MiniMind's stage 3"),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'log_interval');
    // --from_weight none: a fresh model of the default preset, as MiniMind's full SFT from scratch
    return (await runLMStage({ stage: 'full_sft', ...chatStage(a), fromWeight: resolveFromWeight(a), model: (vocab) => modelConfig(a, vocab) })).code;
  }),
};

export const loraSftCommand = {
  ...commandInfo('lora-sft'),
  builder: (y: Argv) => runtimeOptions(chatDataOptions(trainOptions(y, {
    // MiniMind-3 train_lora.py: --epochs 10 --batch_size 32 --learning_rate 1e-4 --accumulation_steps 1 --max_seq_len 340
    // --log_interval 10 --save_interval 1000 --from_weight full_sft (its run name is --lora_name, an alias here)
    epochs: 10, batch_size: 32, learning_rate: 1e-4, accumulation_steps: 1, max_seq_len: 340, log_interval: 10, save_interval: 1000,
    save_weight: 'lora_sft', from_weight: 'full_sft', data_path: 'dataset/lora_identity.jsonl',
  })))
    .alias('save_weight', 'lora_name')
    .option('lora_rank', { type: 'number', default: 16, describe: 'adapter rank r', group: 'LoRA:' })
    .option('lora_alpha', { type: 'number', describe: 'scale numerator: updates are scaled by alpha/r (default: r, scale 1)', group: 'LoRA:' })
    .option('lora_dropout', { type: 'number', default: 0, describe: 'dropout on the adapter input (only 0 is supported yet)', group: 'LoRA:' })
    .option('lora_target', { type: 'string', default: 'square', describe: "layers to adapt: square (MiniMind's default: the square linear layers), all, or modules like q_proj,v_proj", group: 'LoRA:' })
    .option('lora_init', { type: 'string', default: 'minimind', choices: ['minimind', 'peft'], describe: "adapter A's initialization: minimind (model_lora.py: N(0, 0.02)) or peft (kaiming-uniform, bound 1/sqrt(in)); B starts at zero", group: 'LoRA:' })
    .example('$0 lora-sft --from_weight out/full_sft --data_path dataset/lora_medical.jsonl', 'a domain adapter'),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'lora_rank');
    if (a.lora_dropout !== 0) throw new UserError('--lora_dropout: only 0 is supported yet');
    const fromWeight = resolveFromWeight(a);
    if (!fromWeight) throw new UserError('--from_weight none: LoRA adapts a base model; pass one (e.g. full_sft or out/full_sft)');
    let lc: LoraConfig | null = null;
    const lora = (c: Parameters<typeof loraTargets>[0]) => (lc ??= { r: a.lora_rank as number, alpha: (a.lora_alpha as number | undefined) ?? (a.lora_rank as number), dropout: 0, targets: loraTargets(c, a.lora_target as string) });
    const init = a.lora_init as LoraInit;
    return (await runLMStage({
      stage: 'lora_sft', ...chatStage(a), fromWeight,
      extraParams: (c) => initLora(c, lora(c), a.seed as number, init),
      build: (c) => ({ trainable: isLora, linearHook: loraHook(lora(c)), extraParams: loraSpecs(c, lora(c)) }),
      save: (runDir, c, params) => saveAdapter(runDir, c, lora(c), params, fromWeight),
    })).code;
  }),
};
