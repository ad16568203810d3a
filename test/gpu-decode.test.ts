// Decoding on each GPU provider that starts (gpu-helpers.ts) gives the CPU's greedy tokens: eval-pretrain and eval (the CLI),
// C-Eval's choice scorer, serve's batch decoder, and a mixture-of-experts model (dense dispatch
// on the GPU, sparse on the CPU). The models are trained a little first, so greedy choices
// are decided by margins far above float32 differences (random weights have near ties).
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { ChoiceScorer } from '../src/eval/choice-scorer.js';
import { loadModelDir } from '../src/io/model-dir.js';
import { MiniMindConfig } from '../src/model/config.js';
import { DecodeRunner } from '../src/model/decode-runner.js';
import { Params } from '../src/model/params.js';
import { BatchDecoder } from '../src/serve/batch-decoder.js';
import { cli, flags, workspace, Workspace } from './helpers.js';
import { GPU_TIERS, GpuProvider } from './gpu-helpers.js';

const SHAPE = ['--preset', 'tiny', '--hidden_size', '32', '--num_hidden_layers', '2', '--num_attention_heads', '4', '--num_key_value_heads', '2'];
const RUN = ['--threads', '2', '--no-progress', '--learning_rate', '5e-3', '--batch_size', '8', '--max_seq_len', '48', '--accumulation_steps', '1',
  '--log_interval', '50', '--save_interval', '1000', '--max_steps', '120', '--pack'];
const PROMPTS = ['The capital of', 'Wespayor is a country', '9 plus 8'];
/** the CLI's output without its speed note ("[24 tokens, 12.0 tok/s]") */
const text = (stdout: string) => stdout.replace(/\s*\[\d+ tokens, [\d.]+ tok\/s\]/g, '');
const argmax = (l: Float32Array) => l.reduce((best, v, i) => (v > l[best] ? i : best), 0);

let ws: Workspace, dense: string, moe: string;

function train(name: string, extra: string[]): string {
  const out = path.join(ws.dir, name);
  const r = cli(['pretrain', ...flags(RUN, SHAPE, extra, ['--data_path', ws.corpus, '--tokenizer', ws.tokenizer, '--out_dir', out])]);
  assert.equal(r.code, 0, r.stderr);
  return path.join(out, 'pretrain');
}

/** Greedy tokens of one prompt through DecodeRunner (the chat and eval path). */
async function greedy(c: MiniMindConfig, params: Params, provider: 'cpu' | GpuProvider, prompt: number[], n: number): Promise<number[]> {
  const r = await DecodeRunner.create(c, params, { provider, threads: 2 });
  const cache = r.emptyCache(), out: number[] = [];
  let logits = await r.run(prompt, cache);
  for (let i = 0; i < n; i++) { const t = argmax(logits); out.push(t); logits = await r.run([t], cache); }
  await r.release();
  return out;
}

for (const { provider: gpu, skip } of GPU_TIERS) describe(`decoding on ${gpu} gives the CPU's greedy tokens`, { skip: skip ?? false }, () => {
  before(async () => {
    ws = await workspace(200);
    dense = train('dense', []);
    moe = train('moe', ['--use_moe', '1']);
  });

  test('eval-pretrain: the same continuation', () => {
    for (const prompt of PROMPTS) {
      const run = (device: string) => {
        const r = cli(['eval-pretrain', prompt, '--load_from', dense, '--device', device, '--temperature', '0', '--max_new_tokens', '24']);
        assert.equal(r.code, 0, r.stderr);
        return text(r.stdout);
      };
      const cpu = run('cpu');
      assert.ok(cpu.trim().length > prompt.length, `the CPU continued ${JSON.stringify(prompt)}: ${cpu}`);
      assert.equal(run(gpu), cpu, `continuation of ${JSON.stringify(prompt)}`);
    }
  });

  test('eval (chat): the same reply', () => {
    const run = (device: string) => {
      const r = cli(['eval', '--load_from', dense, '--device', device, '--prompt', 'What is the capital of Wespayor?', '--temperature', '0', '--max_new_tokens', '24']);
      assert.equal(r.code, 0, r.stderr);
      return text(r.stdout);
    };
    const cpu = run('cpu');
    assert.ok(cpu.trim().length > 0, 'the CPU replied');
    assert.equal(run(gpu), cpu);
  });

  test('the choice scorer (ceval): the same choices, log-probabilities within 1e-4', async () => {
    const { config, params } = loadModelDir(dense);
    // prompts of different lengths in one batch (padding and per-row last positions)
    const prompts = [[5, 9, 30, 41, 7], [12, 3], [40, 41, 42, 43, 44, 45, 46, 47, 48], [100, 7, 9, 11]];
    const choices = [65, 66, 67, 68];
    const score = async (provider: 'cpu' | GpuProvider) => {
      const s = await ChoiceScorer.create(config, params, choices, { provider, threads: 2 });
      const lp = await s.logProbs(prompts);
      await s.release();
      return lp;
    };
    const cpu = await score('cpu'), onGpu = await score(gpu);
    for (let i = 0; i < prompts.length; i++) {
      assert.equal(onGpu[i].indexOf(Math.max(...onGpu[i])), cpu[i].indexOf(Math.max(...cpu[i])), `question ${i}: chosen answer`);
      for (let k = 0; k < choices.length; k++) assert.ok(Math.abs(onGpu[i][k] - cpu[i][k]) < 1e-4, `question ${i}, choice ${k}: ${onGpu[i][k]} vs ${cpu[i][k]}`);
    }
  });

  test('serve\'s batch decoder: rows that join and leave get the CPU\'s tokens', async () => {
    const { config, params } = loadModelDir(dense);
    const prompts = [[5, 9, 30, 41, 7], [12, 3], [40, 41, 42, 43, 44, 45, 46, 47, 48]];
    const decode = async (provider: 'cpu' | GpuProvider) => {
      const d = await BatchDecoder.create(config, params, { provider, threads: 2 });
      const joined = await d.join(prompts.slice(0, 2));
      const tokens = new Map<number, number[]>(joined.map((j) => [j.key, [argmax(j.logits)]]));
      for (let step = 0; step < 10; step++) {
        if (step === 3) { const [late] = await d.join([prompts[2]]); tokens.set(late.key, [argmax(late.logits)]); }
        if (step === 6) { d.leave([joined[1].key]); }
        const live = new Map([...tokens].filter(([k]) => k !== joined[1].key || step < 6).map(([k, t]) => [k, t[t.length - 1]]));
        for (const [k, l] of await d.step(live)) tokens.get(k)!.push(argmax(l));
      }
      await d.release();
      return [...tokens.values()];
    };
    assert.deepEqual(await decode(gpu), await decode('cpu'));
  });

  test('mixture of experts: the same greedy tokens (dense dispatch on the GPU)', async () => {
    const { config, params } = loadModelDir(moe);
    assert.ok(config.use_moe);
    for (const prompt of [[5, 9, 30, 41, 7], [12, 3, 77]]) {
      assert.deepEqual(await greedy(config, params, gpu, prompt, 16), await greedy(config, params, 'cpu', prompt, 16));
    }
  });
});
