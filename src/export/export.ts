// `minimind export`: one model, three destinations. Each format module writes the weights;
// this one loads the model (merging a LoRA adapter when one is named), checks that the
// format can hold it, and adds the tokenizer, generation config and model card.
import fs from 'node:fs';
import path from 'node:path';
import { loadModelDir } from '../io/model-dir.js';
import { MiniMindConfig } from '../model/config.js';
import { loadAdapter, mergeLora } from '../model/lora.js';
import { Params } from '../model/params.js';
import { UserError } from '../util/errors.js';
import { findTokenizerDir, writeModelCard, writeTokenizerAndGeneration } from './companions.js';
import { ExportDtype } from './dtype.js';
import { checkGgufExportable, writeGgufExport } from './gguf-model.js';
import { checkHfDtype, writeHfWeights } from './hf.js';
import { checkOnnxExportable, writeOnnxExport } from './onnx-model.js';

export type ExportFormat = 'hf' | 'gguf' | 'onnx';
export const EXPORT_FORMATS: ExportFormat[] = ['hf', 'gguf', 'onnx'];

export interface ExportOptions {
  loadFrom: string; format: ExportFormat; out: string; dtype: ExportDtype; tokenizer?: string; lora?: string;
  /** `done` of `total` in a stage: reading, merging (LoRA layers), converting (tensors), writing */
  onProgress?: (stage: string, done: number, total: number) => void;
}
export interface ExportResult { arch: string; files: string[]; note?: string }

/** Weights of a model directory, with --lora merged in; a bare adapter is refused. */
export function loadForExport(loadFrom: string, lora?: string, onProgress?: ExportOptions['onProgress']): { config: MiniMindConfig; params: Params } {
  if (fs.existsSync(path.join(loadFrom, 'adapter_config.json'))) {
    throw new UserError(`${loadFrom} is a LoRA adapter, not a model: export its base with --load_from BASE --lora ${loadFrom} (or merge it first with minimind merge-lora)`);
  }
  const { config, params } = loadModelDir(loadFrom);
  if (!lora) return { config, params };
  const { lc, params: ad } = loadAdapter(lora, config);
  return { config, params: mergeLora(config, params, ad, lc, (d, t) => onProgress?.('merging', d, t)) };
}

interface Writer {
  /** refuse, before anything is written, what the format cannot hold */
  check: (c: MiniMindConfig, dtype: ExportDtype) => void;
  /** `onTensor`: tensors converted so far, of all */
  write: (out: string, c: MiniMindConfig, params: Params, dtype: ExportDtype, tokDir: string, onTensor?: (done: number, total: number) => void) => Promise<ExportResult>;
}

const WRITERS: Record<ExportFormat, Writer> = {
  hf: { check: (_c, dtype) => checkHfDtype(dtype), write: async (out, c, params, dtype, _tok, onTensor) => ({ ...writeHfWeights(out, c, params, dtype, onTensor), files: ['model.safetensors', 'config.json'] }) },
  gguf: { check: (c) => { checkGgufExportable(c); }, write: writeGgufExport },
  onnx: { check: checkOnnxExportable, write: writeOnnxExport },
};

export async function exportModel(o: ExportOptions): Promise<ExportResult> {
  if (!EXPORT_FORMATS.includes(o.format)) throw new UserError(`--format: unknown format ${JSON.stringify(o.format)} (choose one of ${EXPORT_FORMATS.join(', ')})`);
  if (!fs.existsSync(o.loadFrom)) throw new UserError(`--load_from ${o.loadFrom} does not exist`);
  if (fs.existsSync(o.out) && fs.readdirSync(o.out).length && path.resolve(o.out) === path.resolve(o.loadFrom)) {
    throw new UserError(`--out ${o.out} is the model's own directory: choose another`);
  }
  const p = o.onProgress;
  p?.('reading', 0, 1);
  const { config, params } = loadForExport(o.loadFrom, o.lora, p);
  p?.('reading', 1, 1);
  const tokDir = findTokenizerDir(o.loadFrom, o.tokenizer);
  const w = WRITERS[o.format];
  w.check(config, o.dtype);
  writeTokenizerAndGeneration(o.out, tokDir, config); // (checks that the tokenizer fits the model)
  const res = await w.write(o.out, config, params, o.dtype, tokDir, (d, t) => p?.('converting', d, t));
  p?.('writing', 1, 1);
  writeModelCard(o.out, config, { format: o.format, arch: res.arch, dtype: o.dtype, note: res.note, source: o.loadFrom, files: res.files });
  return res;
}
