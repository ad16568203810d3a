// `minimind export --format onnx`: transformers.js (@huggingface/transformers in Node, the
// library that runs models in browsers) loads the exported directory and its greedy
// generation, KV cache and all, equals ours token for token.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AutoModelForCausalLM, AutoTokenizer, Tensor } from '@huggingface/transformers';
import { exportModel } from '../src/export/export.js';
import { saveModelDir } from '../src/io/model-dir.js';
import { configFrom, PRESETS } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { CASE_PROMPTS, greedy, writeCaseModel } from './export-cases.js';
import { cli, isCleanError, tmpDir } from './helpers.js';

const work = tmpDir('minimind-onnx-');
const CLASS: Record<string, string> = { llama: 'LlamaForCausalLM', qwen3_yarn: 'Qwen3ForCausalLM', qwen3_moe: 'Qwen3MoeForCausalLM' };

for (const name of Object.keys(CLASS)) {
  test(`onnx export (${name}): transformers.js generates our greedy tokens`, async () => {
    const { config, params } = writeCaseModel(path.join(work, 'src'), name);
    const out = path.join(work, `onnx-${name}`);
    const res = await exportModel({ loadFrom: path.join(work, 'src', name), format: 'onnx', out, dtype: 'f32' });
    assert.equal(res.arch, CLASS[name]);
    const ours = await greedy(config, params, CASE_PROMPTS, 16);
    const model = await AutoModelForCausalLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32', session_options: { intraOpNumThreads: 1 } } as never);
    try {
      for (const [i, p] of CASE_PROMPTS.entries()) {
        const ids = (v: (x: number) => bigint) => new Tensor('int64', BigInt64Array.from(p, v), [1, p.length]);
        const r = await model.generate({ input_ids: ids(BigInt), attention_mask: ids(() => 1n), max_new_tokens: 16, min_new_tokens: 16, do_sample: false } as never) as Tensor;
        assert.deepEqual(Array.from(r.data as BigInt64Array, Number).slice(p.length), ours[i], `prompt ${i}`);
      }
    } finally { await model.dispose(); }
    // its tokenizer and chat template, as transformers.js reads them
    const tok = await AutoTokenizer.from_pretrained(out, { local_files_only: true });
    const chat = [{ role: 'user', content: 'hello, 世界' }];
    const text = tok.apply_chat_template(chat, { tokenize: false, add_generation_prompt: true }) as string;
    const mine = MiniTokenizer.load(out);
    assert.equal(text, mine.applyChatTemplate(chat, { addGenerationPrompt: true }));
    assert.deepEqual(tok.encode(text, { add_special_tokens: false }), await mine.encode(text));
  });
}

test('onnx export: a left-padded batch of two prompts continues each prompt as if alone (padding masked per row)', async () => {
  const name = 'qwen3_yarn';
  const { config, params } = writeCaseModel(path.join(work, 'src'), name);
  const out = path.join(work, 'onnx-batch');
  await exportModel({ loadFrom: path.join(work, 'src', name), format: 'onnx', out, dtype: 'f32' });
  const prompts = [CASE_PROMPTS[2], CASE_PROMPTS[1]], T = Math.max(...prompts.map((p) => p.length));
  const ours = await greedy(config, params, prompts, 12);
  const model = await AutoModelForCausalLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32', session_options: { intraOpNumThreads: 1 } } as never);
  try {
    const ids = prompts.flatMap((p) => [...Array(T - p.length).fill(0), ...p]), mask = prompts.flatMap((p) => [...Array(T - p.length).fill(0), ...p.map(() => 1)]);
    const r = await model.generate({ input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), [2, T]), attention_mask: new Tensor('int64', BigInt64Array.from(mask, BigInt), [2, T]),
      max_new_tokens: 12, min_new_tokens: 12, do_sample: false } as never) as Tensor;
    const rows = Array.from(r.data as BigInt64Array, Number), width = rows.length / 2;
    assert.deepEqual([rows.slice(T, width), rows.slice(width + T)], ours);
  } finally { await model.dispose(); }
});

test('onnx export refuses shared-expert MoE and non-f32 weights', () => {
  const src = path.join(work, 'src');
  writeCaseModel(src, 'llama');
  const c = configFrom(PRESETS['minimind-v1-moe'], { hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320 });
  saveModelDir(path.join(src, 'v1moe'), c, initParams(c, 1), path.join(src, 'tok'));
  for (const [args, re] of [[['--load_from', path.join(src, 'llama'), '--dtype', 'f16'], /--format onnx writes float32 weights only/],
    [['--load_from', path.join(src, 'v1moe')], /cannot be exported to ONNX for transformers.js: its MoE layers have 1 shared expert/]] as const) {
    const err = isCleanError(cli(['export', ...args, '--format', 'onnx', '--out', path.join(work, 'bad')]), re);
    assert.equal(err, null, err ?? '');
  }
});
