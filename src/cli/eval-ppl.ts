// `minimind eval-ppl`: perplexity and bits per byte of a model on held-out text or token shards.
import type { Argv } from 'yargs';
import { Scorer } from '../model/score.js';
import { UserError } from '../util/errors.js';
import { perplexity, pplSamples } from '../eval/ppl.js';
import { Args, bool01, handler, loadOptions, modelSource, runtimeOptions, sessionOptions } from './common.js';
import { stepBar } from './step-bar.js';
import { loadDecodingModel } from '../eval/chat.js';
import { commandInfo } from './command-info.js';

export const evalPplCommand = {
  ...commandInfo('eval-ppl'),
  builder: (y: Argv) => loadOptions(runtimeOptions(y), 'out/pretrain')
    .option('data_path', { type: 'string', demandOption: true, describe: 'held-out text or token shards' })
    .option('max_seq_len', { type: 'number', describe: "window length (default: the model's context)" })
    .option('limit', { type: 'number', describe: 'score only the first N samples' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON line' })
    .option(...bool01('progress', 'show a progress bar', true))
    .example('$0 eval-ppl --load_from out/pretrain --data_path dataset/heldout.jsonl', 'perplexity of a pretrained model'),
  handler: handler(async (a: Args) => {
    const { config, params, tok } = loadDecodingModel(modelSource(a, 'model', 'train one with `minimind pretrain`'));
    const maxLen = (a.max_seq_len as number | undefined) ?? config.max_position_embeddings;
    if (!Number.isInteger(maxLen) || maxLen < 2) throw new UserError(`--max_seq_len must be an integer >= 2, got ${maxLen}`);
    const samples = await pplSamples(a.data_path as string, tok, (a.limit as number | undefined) ?? Infinity);
    const scorer = await Scorer.create(config, params, sessionOptions(a));
    const t0 = performance.now();
    const bar = stepBar('eval-ppl', a.progress as boolean);
    const r = await perplexity(scorer, samples, maxLen, (i) => bar('samples', i, samples.length)).finally(() => bar.stop());
    await scorer.release();
    const out = { ...r, seconds: (performance.now() - t0) / 1000 };
    if (a.json) process.stdout.write(JSON.stringify(out) + '\n');
    else process.stdout.write(`perplexity ${r.perplexity.toFixed(3)}  bits/byte ${r.bits_per_byte.toFixed(4)}  (${r.tokens} tokens, ${r.bytes} bytes, ${r.samples} samples)\n`);
  }),
};
