// Every training stage on each GPU provider that starts (gpu-helpers.ts: WebGPU on SwiftShader
// in CI, CUDA where installed) against the same run on the CPU, step by step: the loss and
// gradient norm of each optimizer step (metrics.jsonl, --log_interval 1) and the weights at
// the end; and Ctrl-C / --from_resume on the device. Skips, saying why, where none starts.
//
// Tolerances: both providers compute in float32 but sum in other orders (GPU reductions in
// workgroups, the CPU's blocked kernels), about 1e-7 relative per operation. Through a step
// that becomes ~1e-6 on the loss; AdamW then amplifies it where a gradient is near zero (its
// update is lr * sign-like m/sqrt(v), so a tiny gradient's sign decides a whole lr step).
// The weights are therefore compared as updates: ||w_gpu - w_cpu|| over ||w_cpu - w_start||,
// how far the two runs' moves differ relative to how far they moved.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { demoCorpus } from '../src/demo/corpus.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { initParams } from '../src/model/params.js';
import { readMetrics } from '../src/train/loop.js';
import { cli, flags, interruptedAndResumed, workspace, Workspace } from './helpers.js';
import { GPU_TIERS, GpuProvider } from './gpu-helpers.js';

const SHAPE = ['--preset', 'tiny', '--hidden_size', '32', '--num_hidden_layers', '2', '--num_attention_heads', '4', '--num_key_value_heads', '2'];
const RUN = ['--threads', '2', '--no-progress', '--log_interval', '1', '--save_interval', '1000', '--learning_rate', '3e-3', '--batch_size', '4',
  '--max_seq_len', '32', '--accumulation_steps', '1', '--seed', '7'];
const LR = 3e-3;

let ws: Workspace, chats: string, pairs: string, base: string;
const corpus = demoCorpus(7, 200, 40, 200);

/** Run a stage on the CPU and on the GPU provider with the same flags; returns both run directories. */
function onBoth(gpu: GpuProvider, stage: string, name: string, args: string[]): { cpu: string; gpu: string } {
  const dirs = { cpu: '', gpu: '' };
  for (const device of ['cpu', gpu] as const) {
    const out = path.join(ws.dir, `${name}-${device}`);
    const r = cli([stage, ...flags(RUN, args, ['--device', device, '--out_dir', out])]);
    assert.equal(r.code, 0, `${stage} --device ${device}: ${r.stderr}`);
    const saved = fs.readdirSync(out)[0];
    dirs[device === 'cpu' ? 'cpu' : 'gpu'] = path.join(out, saved);
  }
  return dirs;
}

interface Diff { steps: number; lossRel: number; normRel: number; updateRel: number }

/** Step-by-step differences of two runs' metrics, and of their final tensors as updates from `start`. */
function compare(cpu: string, gpu: string, file: string, start: (name: string) => Float32Array | undefined, lr = LR): Diff {
  const a = readMetrics(cpu), b = readMetrics(gpu);
  assert.equal(b.length, a.length, 'both runs log every step');
  assert.deepEqual(b.map((m) => m.step), a.map((m) => m.step));
  const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(x), 1e-12);
  const lossRel = Math.max(...a.map((m, i) => rel(m.loss, b[i].loss)));
  const normRel = Math.max(...a.map((m, i) => rel(m.grad_norm as number, b[i].grad_norm as number)));
  const wa = readSafetensors(path.join(cpu, file)).tensors, wb = readSafetensors(path.join(gpu, file)).tensors;
  let num = 0, den = 0, n = 0;
  for (const [k, t] of wa) {
    const s0 = start(k);
    if (!s0) continue;
    const x = t.data as Float32Array, y = wb.get(k)!.data as Float32Array;
    for (let i = 0; i < x.length; i++) { num += (y[i] - x[i]) ** 2; den += (x[i] - s0[i]) ** 2; }
    n += x.length;
  }
  // AdamW moves a weight by about lr per step at most: a larger distance means `start` is not where the runs started
  assert.ok(n > 0 && Math.sqrt(den) < 1.5 * lr * a.length * Math.sqrt(n), `the CPU run moved ${Math.sqrt(den)} from the given start`);
  return { steps: a.length, lossRel, normRel, updateRel: Math.sqrt(num / den) };
}

/**
 * Measured on SwiftShader (6 steps, this file's models): loss and gradient norm within
 * 1.2e-6 relative (DPO; the others 1e-7 to 3e-7), updates within 2.1e-5 (DPO; the others
 * 4e-7 to 6e-6). Asserted with a 10x margin on the loss and norm and 50x on the updates,
 * still far below what a real error does (a wrong gradient or a missed update moves them
 * by 1e-2 to 1).
 */
function assertClose(d: Diff, what: string): void {
  assert.ok(d.lossRel < 1e-5, `${what}: loss differs by ${d.lossRel} (relative) at some step`);
  assert.ok(d.normRel < 1e-5, `${what}: gradient norm differs by ${d.normRel} (relative) at some step`);
  assert.ok(d.updateRel < 1e-3, `${what}: the weights' updates differ by ${d.updateRel} of their size`);
}

for (const { provider, skip } of GPU_TIERS) describe(`training stages on ${provider} match the CPU step by step`, { skip: skip ?? false }, () => {
  before(async () => {
    ws = await workspace(200);
    chats = path.join(ws.dir, 'sft.jsonl');
    fs.writeFileSync(chats, corpus.chats.map((c) => JSON.stringify(c)).join('\n') + '\n');
    pairs = path.join(ws.dir, 'dpo.jsonl');
    fs.writeFileSync(pairs, corpus.chatProbes.slice(0, 24).map((p) => JSON.stringify({
      chosen: [...p.messages, { role: 'assistant', content: p.answer }], rejected: [...p.messages, { role: 'assistant', content: p.distractors[0] }],
    })).join('\n') + '\n');
    // the later stages start from a model trained a little on the CPU
    base = path.join(ws.dir, 'base');
    const r = cli(['pretrain', ...flags(RUN, SHAPE, ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--out_dir', base, '--max_steps', '40', '--log_interval', '10'])]);
    assert.equal(r.code, 0, r.stderr);
    base = path.join(base, 'pretrain');
  });

  const fresh = (dir: string) => { const { config } = loadModelDir(dir); const p = initParams(config, 7); return (k: string) => p.get(k); };
  const fromBase = () => { const { params } = loadModelDir(base); return (k: string) => params.get(k); };

  test('pretrain, dense', () => {
    const d = onBoth(provider, 'pretrain', 'dense', [...SHAPE, '--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--max_steps', '6']);
    assertClose(compare(d.cpu, d.gpu, 'model.safetensors', fresh(d.cpu)), 'dense');
  });

  test('pretrain, dense, gradient accumulation (accumulate + apply graphs)', () => {
    const d = onBoth(provider, 'pretrain', 'accum', [...SHAPE, '--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--max_steps', '4', '--accumulation_steps', '3']);
    assertClose(compare(d.cpu, d.gpu, 'model.safetensors', fresh(d.cpu)), 'accum');
  });

  test('pretrain, mixture of experts (dense dispatch on the GPU, sparse on the CPU)', () => {
    const d = onBoth(provider, 'pretrain', 'moe', [...SHAPE, '--use_moe', '1', '--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--max_steps', '6']);
    assertClose(compare(d.cpu, d.gpu, 'model.safetensors', fresh(d.cpu)), 'moe');
  });

  test('full SFT', () => {
    const d = onBoth(provider, 'full-sft', 'sft', ['--from_weight', base, '--data_path', chats, '--max_steps', '6', '--max_seq_len', '96']);
    assertClose(compare(d.cpu, d.gpu, 'model.safetensors', fromBase()), 'sft');
  });

  test('LoRA', () => {
    const d = onBoth(provider, 'lora-sft', 'lora', ['--from_weight', base, '--data_path', chats, '--max_steps', '6', '--max_seq_len', '96', '--lora_rank', '4']);
    // B starts at zero (PEFT and MiniMind alike): its update is its value
    assertClose(compare(d.cpu, d.gpu, 'adapter_model.safetensors', (k) => (k.includes('lora_B') ? new Float32Array(1e6) : undefined)), 'lora');
  });

  test('DPO (policy and frozen reference on the device)', () => {
    const d = onBoth(provider, 'dpo-train', 'dpo', ['--from_weight', base, '--data_path', pairs, '--max_steps', '6', '--max_seq_len', '96', '--learning_rate', '1e-3', '--batch_size', '2']);
    assertClose(compare(d.cpu, d.gpu, 'model.safetensors', fromBase()), 'dpo');
  });

  // A checkpoint written from the device (weights and moments read back from GPU memory) and
  // resumed there continues as if never stopped: the resumed run's weights equal an
  // uninterrupted run's bit for bit (graphs built for a GPU are deterministic: see the
  // embedding gradient in Graph.gatherGradAsProduct). Ctrl-C lands at step 2 of 6: a signal
  // that arrives during the last step lets the run finish instead.
  const resumeCases: [string, string, string[], string][] = [
    ['pretrain', 'pretrain with accumulation', ['--accumulation_steps', '2', '--max_steps', '6', ...SHAPE], 'model.safetensors'],
    ['full-sft', 'full SFT', ['--max_steps', '6', '--max_seq_len', '96'], 'model.safetensors'],
    ['lora-sft', 'LoRA', ['--max_steps', '6', '--max_seq_len', '96', '--lora_rank', '4'], 'adapter_model.safetensors'],
    ['dpo-train', 'DPO', ['--max_steps', '6', '--max_seq_len', '96', '--batch_size', '2'], 'model.safetensors'],
  ];
  for (const [stage, what, args, file] of resumeCases) {
    test(`${what}: Ctrl-C on ${provider} saves a checkpoint from the device, and --from_resume continues exactly`, async () => {
      const data = stage === 'pretrain' ? ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer] : ['--from_weight', base, '--data_path', stage === 'dpo-train' ? pairs : chats];
      const out = (name: string) => path.join(ws.dir, `resume-${provider}-${stage}-${name}`);
      const [full, resumed] = await interruptedAndResumed((name) => [stage, ...flags(RUN, data, args, ['--device', provider, '--out_dir', out(name), '--save_weight', 'run'])],
        (name) => path.join(out(name), 'run'), file, 2);
      assert.ok(full.equals(resumed), `${what}: the resumed run's ${file} differs from the uninterrupted run's`);
    });
  }
});
