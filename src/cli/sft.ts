// full-sft and lora-sft: supervised fine-tuning on chat data (loss on assistant tokens only).
import type { Argv } from 'yargs';
import { EMPTY_THINK_RATIO } from '../data/minimind3.js';
import { TokenSamples } from '../data/samples.js';
import { initLora, isLora, LoraConfig, loraHook, loraSpecs, loraTargets, saveAdapter } from '../model/lora.js';
import { MiniTokenizer } from '../tokenizer/tokenizer.js';
import { runLMStage } from '../train/lm-stage.js';
import { UserError } from '../util/errors.js';
import { Args, handler, positive, runtimeOptions, shardsFromArgs, trainOptions } from './common.js';

function chatDataOptions<T>(y: Argv<T>) {
  return y
    .option('from_weight', { type: 'string', describe: 'model directory to start from', group: 'Training:' })
    .option('format', { type: 'string', default: 'auto', choices: ['auto', 'minimind', 'alpaca', 'sharegpt'], describe: 'data format (auto: detect per record)', group: 'Training:' })
    .option('system_prompt_ratio', { type: 'number', default: 0.2, describe: 'add a random system prompt to this share of conversations without one, drawn per epoch (MiniMind)', group: 'Training:' })
    .option('strict', { type: 'boolean', default: false, describe: 'stop at the first malformed data line', group: 'Training:' });
}

/** The SFT samples of --data_path for this tokenizer (processed once into the run's data cache). */
export function sftSamples(a: Args) {
  return async (tok: MiniTokenizer, T: number, runDir: string) => new TokenSamples(await shardsFromArgs(a, tok, runDir, 'sft'), T, 'pad', tok.padId, false,
    { seed: a.seed as number, systemPromptRatio: a.system_prompt_ratio as number, emptyThinkRatio: EMPTY_THINK_RATIO });
}

export const fullSftCommand = {
  command: 'full-sft',
  describe: 'supervised fine-tuning of every weight on chat data ({"conversations": [...]})',
  builder: (y: Argv) => runtimeOptions(chatDataOptions(trainOptions(y, {
    epochs: 2, batch_size: 16, learning_rate: 5e-7, accumulation_steps: 1, max_seq_len: 512, save_weight: 'full_sft', data_path: 'dataset/sft_mini_512.jsonl',
  }))).example('$0 full-sft --from_weight out/pretrain --data_path dataset/sft_mini_512.jsonl', "MiniMind's stage 3"),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'log_interval');
    return (await runLMStage({ stage: 'full_sft', args: a, fromWeight: (a.from_weight as string | undefined) ?? 'out/pretrain', samples: sftSamples(a) })).code;
  }),
};

export const loraSftCommand = {
  command: 'lora-sft',
  describe: 'fine-tune LoRA adapters (base weights frozen) on chat data',
  builder: (y: Argv) => runtimeOptions(chatDataOptions(trainOptions(y, {
    epochs: 10, batch_size: 32, learning_rate: 1e-4, accumulation_steps: 1, max_seq_len: 512, save_weight: 'lora_sft', data_path: 'dataset/lora_identity.jsonl',
  })))
    .option('lora_rank', { type: 'number', default: 16, describe: 'adapter rank r', group: 'LoRA:' })
    .option('lora_alpha', { type: 'number', describe: 'scale numerator: updates are scaled by alpha/r (default: r, scale 1)', group: 'LoRA:' })
    .option('lora_dropout', { type: 'number', default: 0, describe: 'dropout on the adapter input (only 0 is supported yet)', group: 'LoRA:' })
    .option('lora_target', { type: 'string', default: 'square', describe: "layers to adapt: square (MiniMind's default: the square linear layers), all, or modules like q_proj,v_proj", group: 'LoRA:' })
    .example('$0 lora-sft --from_weight out/full_sft --data_path dataset/lora_medical.jsonl', 'a domain adapter'),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'lora_rank');
    if (a.lora_dropout !== 0) throw new UserError('--lora_dropout: only 0 is supported yet');
    const fromWeight = (a.from_weight as string | undefined) ?? 'out/full_sft';
    let lc: LoraConfig | null = null;
    const lora = (c: Parameters<typeof loraTargets>[0]) => (lc ??= { r: a.lora_rank as number, alpha: (a.lora_alpha as number | undefined) ?? (a.lora_rank as number), dropout: 0, targets: loraTargets(c, a.lora_target as string) });
    return (await runLMStage({
      stage: 'lora_sft', args: a, fromWeight, samples: sftSamples(a),
      extraParams: (c) => initLora(c, lora(c), a.seed as number),
      build: (c) => ({ trainable: isLora, linearHook: loraHook(lora(c)), extraParams: loraSpecs(c, lora(c)) }),
      save: (runDir, c, params) => saveAdapter(runDir, c, lora(c), params, fromWeight),
    })).code;
  }),
};
