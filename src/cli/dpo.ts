// dpo-train: preference alignment with a frozen reference model (MiniMind's stage 5).
import type { Argv } from 'yargs';
import { PairSamples } from '../data/samples.js';
import { DpoTrainee } from '../train/dpo-trainee.js';
import { runLMStage } from '../train/lm-stage.js';
import { UserError } from '../util/errors.js';
import { Args, bool01, handler, positive, runtimeOptions, sessionOptions, trainOptions } from './common.js';
import { chatSamplingFrom, dataOptionsFrom, emptyThinkOption, printNotices, resolveFromWeight, trainOptionsFrom } from './stage-args.js';
import { commandInfo } from './command-info.js';

export const dpoCommand = {
  ...commandInfo('dpo-train'),
  builder: (y: Argv) => emptyThinkOption(runtimeOptions(trainOptions(y, {
    // MiniMind-3 train_dpo.py: --epochs 1 --batch_size 4 --learning_rate 4e-8 --accumulation_steps 1 --max_seq_len 1024
    // --log_interval 100 --save_interval 100 --save_weight dpo --from_weight full_sft --data_path ../dataset/dpo.jsonl
    epochs: 1, batch_size: 4, learning_rate: 4e-8, accumulation_steps: 1, max_seq_len: 1024, log_interval: 100, save_interval: 100,
    save_weight: 'dpo', from_weight: 'full_sft', data_path: 'dataset/dpo.jsonl',
  })))
    .option('beta', { type: 'number', default: 0.15, describe: 'DPO temperature (MiniMind-3: 0.15)', group: 'DPO:' })
    .option('format', { type: 'string', default: 'auto', choices: ['auto', 'minimind', 'sharegpt'], describe: 'data format', group: 'Training:' })
    .option(...bool01('strict', 'stop at the first malformed data line', false, 'Training:'))
    .example('$0 dpo-train --from_weight out/full_sft --data_path dataset/dpo.jsonl', "MiniMind's stage 5; the starting model is also the frozen reference"),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'beta', 'max_seq_len');
    if ((a.max_seq_len as number) < 2) throw new UserError('--max_seq_len must be at least 2: DPO predicts tokens 2..max_seq_len of each sequence');
    const chat = chatSamplingFrom(a);
    const fromWeight = resolveFromWeight(a);
    if (!fromWeight) throw new UserError('--from_weight none: DPO needs a starting model (it is also the frozen reference)');
    printNotices(a);
    return (await runLMStage({
      stage: 'dpo', train: trainOptionsFrom(a), session: sessionOptions(a), data: dataOptionsFrom(a), dataStage: 'dpo', fromWeight,
      // MiniMind's DPODataset: max_seq_len tokens per sequence, the model sees all but the last
      samples: (shards, tok, maxLength) => new PairSamples(shards, maxLength, tok.padId, chat),
      trainee: (c, params, build, so) => DpoTrainee.create(c, params, a.beta as number, build, so),
    })).code;
  }),
};
