// `minimind export --format hf`: Python transformers (stock classes, no trust_remote_code)
// loaded these exports and recorded logits and greedy tokens (scripts/fixtures/
// transformers_reads_export.py); ours must match. Round trip: export, import, same logits.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { exportModel } from '../src/export/export.js';
import { fromF16 } from '../src/export/dtype.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { configFrom, PRESETS } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { initLora, loraTargets, mergeLora, saveAdapter } from '../src/model/lora.js';
import { saveModelDir } from '../src/io/model-dir.js';
import { MiniTokenizer } from '../src/tokenizer/tokenizer.js';
import { allLogits, CASE_PROMPTS, EXPORT_CASES, greedy, writeCaseModel } from './export-cases.js';
import { cli, isCleanError, ROOT, tmpDir } from './helpers.js';

const FIX = path.join(ROOT, 'test', 'fixtures', 'export');
const expected = JSON.parse(fs.readFileSync(path.join(FIX, 'hf_expected.json'), 'utf8'));
const pyLogits = readSafetensors(path.join(FIX, 'hf_logits.safetensors')).tensors;
const CLASS: Record<string, string> = { llama: 'LlamaForCausalLM', qwen3: 'Qwen3ForCausalLM', qwen3_yarn: 'Qwen3ForCausalLM', qwen3_moe: 'Qwen3MoeForCausalLM', qwen3_moe_k2: 'Qwen3MoeForCausalLM' };

const maxDiff = (a: Float32Array, b: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

const work = tmpDir('minimind-export-');

for (const name of Object.keys(EXPORT_CASES)) {
  test(`hf export (${name}): transformers loads it as ${CLASS[name]} with our logits and greedy tokens; import gives identical logits`, async () => {
    const { config, params } = writeCaseModel(path.join(work, 'src'), name);
    const out = path.join(work, 'hf', name);
    const res = await exportModel({ loadFrom: path.join(work, 'src', name), format: 'hf', out, dtype: 'f32' });
    const py = expected.models[name];
    assert.equal(res.arch, CLASS[name]);
    assert.equal(py.class, CLASS[name], 'transformers chose this class when it loaded the export');
    // what Python loaded is what we export today
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')), py.config);
    const ours = await allLogits(config, params, CASE_PROMPTS[0]);
    const d = maxDiff(ours, pyLogits.get(name)!.data as Float32Array);
    console.log(`  ${name}: max |logit difference| vs transformers ${d.toExponential(2)}`);
    assert.ok(d < 1e-4, `logits differ from transformers' by ${d}`);
    assert.deepEqual(await greedy(config, params, CASE_PROMPTS, 16), py.greedy);
    // tokenizer and chat template as transformers renders them
    const tok = MiniTokenizer.load(out);
    assert.equal(tok.applyChatTemplate([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello, 世界' }], { addGenerationPrompt: true }), py.chat_text);
    assert.deepEqual(await tok.encode(py.chat_text), py.chat_ids);
    assert.equal(py.eos_token_id, tok.tokenToId('<|im_end|>'));
    // round trip: the exported directory loads as the same model, bit for bit
    const back = loadModelDir(out);
    assert.deepEqual(back.config, config);
    for (const [k, v] of params) assert.deepEqual(back.params.get(k), v, k);
    assert.deepEqual(await allLogits(back.config, back.params, CASE_PROMPTS[0]), ours);
  });
}

test('hf export in f16 and bf16 writes half-precision weights that load back rounded', async () => {
  const { params } = writeCaseModel(path.join(work, 'src'), 'qwen3');
  for (const dtype of ['f16', 'bf16'] as const) {
    const out = path.join(work, `hf-${dtype}`);
    await exportModel({ loadFrom: path.join(work, 'src', 'qwen3'), format: 'hf', out, dtype });
    const st = readSafetensors(path.join(out, 'model.safetensors')).tensors;
    const w = 'model.layers.0.self_attn.q_proj.weight';
    assert.equal(st.get(w)!.dtype, dtype === 'f16' ? 'F16' : 'BF16');
    assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype, dtype === 'f16' ? 'float16' : 'bfloat16');
    const orig = params.get(w)!, got = st.get(w)!.data as Float32Array;
    const tol = dtype === 'f16' ? 2 ** -11 : 2 ** -8; // relative rounding error of the format
    for (let i = 0; i < orig.length; i++) assert.ok(Math.abs(got[i] - orig[i]) <= tol * Math.abs(orig[i]) + 1e-7, `${w}[${i}]: ${got[i]} vs ${orig[i]}`);
    assert.notDeepEqual(got, orig);
  }
  assert.deepEqual([...fromF16(new Uint16Array([0x3c00, 0xc000, 0x7bff]))], [1, -2, 65504]);
});

test('hf export of a MiniMind2-family MoE with shared experts keeps MiniMind\'s layout and says so', async () => {
  const c = configFrom(PRESETS['minimind-v1-moe'], { hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320 });
  const dir = path.join(work, 'v1moe');
  saveModelDir(dir, c, initParams(c, 1), path.join(work, 'src', 'tok'));
  const r = cli(['export', '--load_from', dir, '--format', 'hf', '--out', path.join(work, 'v1moe-hf')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /note: kept MiniMind's layout: its MoE layers have 1 shared expert\(s\).*trust_remote_code/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(work, 'v1moe-hf', 'config.json'), 'utf8')).model_type, 'minimind');
  assert.match(fs.readFileSync(path.join(work, 'v1moe-hf', 'README.md'), 'utf8'), /\*\*Note:\*\* kept MiniMind's layout/);
  // and it still round-trips through our own loader
  assert.deepEqual(loadModelDir(path.join(work, 'v1moe-hf')).config, c);
});

test('export refuses bad input with one clear line', () => {
  const src = path.join(work, 'src', 'llama');
  if (!fs.existsSync(src)) writeCaseModel(path.join(work, 'src'), 'llama');
  const adapter = path.join(work, 'adapter');
  fs.mkdirSync(adapter, { recursive: true });
  fs.writeFileSync(path.join(adapter, 'adapter_config.json'), '{"r": 8}');
  const cases: [string[], RegExp][] = [
    [['--load_from', adapter, '--format', 'hf'], /is a LoRA adapter, not a model: export its base with --load_from BASE --lora/],
    [['--load_from', src, '--format', 'hf', '--dtype', 'f8'], /--dtype: unknown dtype "f8" \(choose one of f32, f16, bf16, q8_0\)/],
    [['--load_from', src, '--format', 'tflite'], /--format: unknown format "tflite"/],
    [['--load_from', src, '--format', 'hf', '--dtype', 'q8_0'], /--dtype q8_0 is a GGUF quantization/],
    [['--load_from', path.join(work, 'nope'), '--format', 'hf'], /--load_from .*nope does not exist/],
  ];
  for (const [args, re] of cases) {
    const err = isCleanError(cli(['export', ...args, '--out', path.join(work, 'bad-out')]), re);
    assert.equal(err, null, `${args.join(' ')}: ${err}`);
  }
  assert.ok(!fs.existsSync(path.join(work, 'bad-out')), 'a refused export writes nothing');
});

test('the model card tells how the model was trained, from the run directory', async () => {
  const dir = path.join(work, 'src', 'qwen3');
  if (!fs.existsSync(dir)) writeCaseModel(path.join(work, 'src'), 'qwen3');
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [{ step: 10, loss: 5.5, tokens_per_s: 1000, elapsed_s: 2 }, { step: 20, loss: 4.25, tokens_per_s: 500, elapsed_s: 4 }].map((m) => JSON.stringify(m)).join('\n') + '\n');
  fs.mkdirSync(path.join(dir, 'checkpoints', 'step-00000020'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'checkpoints', 'step-00000020', 'state.json'), JSON.stringify({ stage: 'full_sft', args: { data_path: '/data/sft_mini_512.jsonl', batch_size: 4, accumulation_steps: 2, max_seq_len: 128, learning_rate: 1e-4 } }));
  fs.writeFileSync(path.join(dir, 'ceval.json'), JSON.stringify({ accuracy: 0.2634 }));
  const out = path.join(work, 'card');
  await exportModel({ loadFrom: dir, format: 'hf', out, dtype: 'f32' });
  const card = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
  assert.match(card, /Qwen3ForCausalLM/);
  assert.match(card, /- Stage: full_sft on `sft_mini_512.jsonl`/);
  assert.match(card, /Optimizer steps: 20; tokens processed: about 3,000/); // 1000 tok/s * 2 s + 500 tok/s * 2 s
  assert.match(card, /Final training loss: 4\.2500/);
  assert.match(card, /C-Eval accuracy: 26\.3%/);
  const gen = JSON.parse(fs.readFileSync(path.join(out, 'generation_config.json'), 'utf8'));
  assert.deepEqual([gen.eos_token_id, gen.temperature, gen.top_p], [MiniTokenizer.load(out).tokenToId('<|im_end|>'), 0.85, 0.95]);
  fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true }); fs.rmSync(path.join(dir, 'metrics.jsonl')); fs.rmSync(path.join(dir, 'ceval.json'));
});

test('importing a transformers directory that MiniMind cannot express names the field', async () => {
  const out = path.join(work, 'hf', 'llama');
  if (!fs.existsSync(path.join(out, 'config.json'))) {
    writeCaseModel(path.join(work, 'src'), 'llama');
    await exportModel({ loadFrom: path.join(work, 'src', 'llama'), format: 'hf', out, dtype: 'f32' });
  }
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
  const bad = path.join(work, 'bad-import');
  fs.mkdirSync(bad, { recursive: true });
  fs.copyFileSync(path.join(out, 'model.safetensors'), path.join(bad, 'model.safetensors'));
  for (const [over, re] of [[{ rope_scaling: { rope_type: 'linear', factor: 2 } }, /config\.json: field rope_scaling: only MiniMind's YaRN/],
    [{ attention_bias: true }, /config\.json: field attention_bias: attention biases are not supported/],
    [{ hidden_act: 'gelu' }, /config\.json: field hidden_act: only "silu"/]] as const) {
    fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...cfg, ...over }));
    assert.throws(() => loadModelDir(bad), re);
  }
  // a config whose sizes disagree with the weights: the weight is named
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 128 }));
  assert.throws(() => loadModelDir(bad), /weight "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[96,64\], the model config implies \[128,64\]/);
});

test('export --lora merges the adapter into its base first', async () => {
  const { config, params } = writeCaseModel(path.join(work, 'src'), 'llama');
  const lc = { r: 4, alpha: 8, dropout: 0, targets: loraTargets(config, 'all') };
  const ad = initLora(config, lc, 3);
  for (const [k, v] of ad) if (k.endsWith('lora_B.weight')) for (let i = 0; i < v.length; i++) v[i] = 0.01 * Math.sin(i + k.length); // trained-looking B
  const adapter = path.join(work, 'lora');
  saveAdapter(adapter, config, lc, ad, path.join(work, 'src', 'llama'));
  const out = path.join(work, 'hf-lora');
  await exportModel({ loadFrom: path.join(work, 'src', 'llama'), format: 'hf', out, dtype: 'f32', lora: adapter });
  const back = loadModelDir(out).params, merged = mergeLora(config, params, ad, lc);
  const w = 'model.layers.1.mlp.down_proj.weight';
  assert.notDeepEqual(merged.get(w), params.get(w));
  for (const [k, v] of merged) assert.deepEqual(back.get(k), v, k);
});
