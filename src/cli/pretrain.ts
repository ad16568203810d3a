import type { Argv } from 'yargs';
import { TokenSamples } from '../data/samples.js';
import { runLMStage } from '../train/lm-stage.js';
import { Args, handler, modelOptions, positive, runtimeOptions, shardsFromArgs, trainOptions } from './common.js';

export const pretrainCommand = {
  command: 'pretrain',
  describe: 'pretrain a model from scratch on {"text": ...} JSONL (or CSV/TXT)',
  builder: (y: Argv) => runtimeOptions(modelOptions(trainOptions(y, {
    epochs: 1, batch_size: 32, learning_rate: 5e-4, accumulation_steps: 8, max_seq_len: 512, save_weight: 'pretrain', data_path: 'dataset/pretrain_hq.jsonl',
  })))
    .option('pack', { type: 'boolean', default: false, describe: 'concatenate documents into full windows (no padding)', group: 'Training:' })
    .option('strict', { type: 'boolean', default: false, describe: 'stop at the first malformed data line instead of skipping it', group: 'Training:' })
    .example('$0 pretrain --data_path dataset/pretrain_hq.jsonl --preset minimind-v1-small', 'MiniMind-v1 small on MiniMind\'s pretrain data')
    .example('$0 pretrain --from_resume 1', 'continue the latest checkpoint of out/pretrain'),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'log_interval');
    const r = await runLMStage({
      stage: 'pretrain', args: a,
      samples: async (tok, T, runDir) => new TokenSamples(await shardsFromArgs(a, tok, runDir, 'pretrain'), T, a.pack ? 'pack' : 'pad', tok.padId),
    });
    return r.code;
  }),
};
