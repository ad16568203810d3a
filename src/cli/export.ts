// `minimind export`: a trained model as a Hugging Face transformers directory, a GGUF file
// for llama.cpp/Ollama, or an ONNX decoder for transformers.js.
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { EXPORT_DTYPES, parseDtype } from '../export/dtype.js';
import { EXPORT_FORMATS, exportModel, ExportFormat } from '../export/export.js';
import { Args, bool01, handler, rel } from './common.js';
import { stepBar } from './step-bar.js';
import { commandInfo } from './command-info.js';

export const exportCommand = {
  ...commandInfo('export'),
  builder: (y: Argv) => y
    .option('load_from', { type: 'string', demandOption: true, describe: 'model directory (ours, MiniMind\'s, or a Llama/Qwen3 transformers directory)' })
    .option('format', { type: 'string', demandOption: true, describe: `one of ${EXPORT_FORMATS.join(', ')}` })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
    .option('dtype', { type: 'string', default: 'f32', describe: `weight format: ${EXPORT_DTYPES.join(', ')} (q8_0: gguf only)` })
    .option('tokenizer', { type: 'string', describe: 'tokenizer directory (default: the model\'s own, else model/)' })
    .option('lora', { type: 'string', describe: 'LoRA adapter directory to merge into the model before export' })
    .option(...bool01('progress', 'show a progress bar', true)),
  handler: handler(async (a: Args) => {
    const bar = stepBar('export', a.progress as boolean);
    const res = await exportModel({ loadFrom: a.load_from as string, format: a.format as ExportFormat, out: a.out as string,
      dtype: parseDtype(a.dtype), tokenizer: a.tokenizer as string | undefined, lora: a.lora as string | undefined, onProgress: bar }).finally(() => bar.stop());
    if (res.note) process.stderr.write(chalk.yellow(`note: ${res.note}\n`));
    process.stderr.write(`${chalk.green('done')}: ${res.arch} (${a.dtype}) -> ${rel(a.out as string)} (${res.files.join(', ')}, tokenizer, README.md)\n`);
  }),
};
