import type { Argv } from 'yargs';
import { TokenSamples } from '../data/samples.js';
import { runLMStage } from '../train/lm-stage.js';
import { Args, bool01, handler, modelConfig, modelOptions, positive, runtimeOptions, sessionOptions, trainOptions } from './common.js';
import { dataOptionsFrom, printNotices, resolveFromWeight, trainOptionsFrom } from './stage-args.js';
import { AUTO_TOKENIZER_OPTION, ensureTokenizer } from './auto-tokenizer.js';
import { commandInfo } from './command-info.js';

export const pretrainCommand = {
  ...commandInfo('pretrain'),
  builder: (y: Argv) => runtimeOptions(modelOptions(trainOptions(y, {
    // MiniMind-3 train_pretrain.py: --epochs 2 --batch_size 32 --learning_rate 5e-4 --accumulation_steps 8
    // --max_seq_len 340 --log_interval 100 --save_interval 1000 --save_weight pretrain --from_weight none
    epochs: 2, batch_size: 32, learning_rate: 5e-4, accumulation_steps: 8, max_seq_len: 340, log_interval: 100, save_interval: 1000,
    save_weight: 'pretrain', from_weight: 'none',
    data_path: 'dataset/pretrain_hq.jsonl', // MiniMind2's pretrain data, what `minimind download dataset` fetches
  })))
    .option(...bool01('pack', 'concatenate documents into full windows (no padding)', false, 'Training:'))
    .option(...bool01('strict', 'stop at the first malformed data line instead of skipping it', false, 'Training:'))
    .option(...AUTO_TOKENIZER_OPTION)
    .example('$0 pretrain --data_path dataset/pretrain_hq.jsonl --preset minimind-v1-small', 'MiniMind-v1 small on MiniMind\'s pretrain data')
    .example('$0 pretrain --from_resume 1', 'continue the latest checkpoint of out/pretrain'),
  handler: handler(async (a: Args) => {
    positive(a, 'epochs', 'batch_size', 'learning_rate', 'accumulation_steps', 'max_seq_len', 'log_interval');
    printNotices(a);
    await ensureTokenizer(a);
    const r = await runLMStage({
      stage: 'pretrain', train: trainOptionsFrom(a), session: sessionOptions(a), data: dataOptionsFrom(a), dataStage: 'pretrain',
      fromWeight: resolveFromWeight(a), model: (vocab) => modelConfig(a, vocab),
      samples: (shards, tok, maxLength) => new TokenSamples(shards, maxLength, a.pack ? 'pack' : 'pad', tok.padId, { pretrain: true }),
    });
    return r.code;
  }),
};
