// dpo-train: preference alignment with a frozen reference model (MiniMind's stage 5).
import type { Argv } from 'yargs';
import { PairSamples } from '../data/samples.js';
import { DpoTrainee } from '../train/dpo-trainee.js';
import { runLMStage } from '../train/lm-stage.js';
import { Args, handler, positive, runtimeOptions, shardsFromArgs, trainOptions } from './common.js';

export const dpoCommand = {
  command: 'dpo-train',
  describe: 'align a chat model with preference pairs ({"chosen": [...], "rejected": [...]}) by DPO',
  builder: (y: Argv) => runtimeOptions(trainOptions(y, {
    epochs: 1, batch_size: 4, learning_rate: 4e-8, accumulation_steps: 1, max_seq_len: 1024, save_weight: 'dpo', data_path: 'dataset/dpo.jsonl',
  }))
    .option('from_weight', { type: 'string', describe: 'model directory to start from (default out/full_sft); it is also the frozen reference', group: 'Training:' })
    .option('beta', { type: 'number', default: 0.15, describe: 'DPO temperature', group: 'DPO:' })
    .option('format', { type: 'string', default: 'auto', choices: ['auto', 'minimind', 'sharegpt'], describe: 'data format', group: 'Training:' })
    .option('strict', { type: 'boolean', default: false, describe: 'stop at the first malformed data line', group: 'Training:' })
    .example('$0 dpo-train --from_weight out/full_sft --data_path dataset/dpo.jsonl', "MiniMind's stage 5"),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'beta', 'max_seq_len');
    return (await runLMStage({
      stage: 'dpo', args: a, fromWeight: (a.from_weight as string | undefined) ?? 'out/full_sft',
      samples: async (tok, T, runDir) => new PairSamples(await shardsFromArgs(a, tok, runDir, 'dpo'), T, tok.padId),
      trainee: (c, params, build, so) => DpoTrainee.create(c, params, a.beta as number, build.seqLen!, so),
    })).code;
  }),
};
