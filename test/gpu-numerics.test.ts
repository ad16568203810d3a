// Each GPU provider's own numerics against the CPU's (gpu-helpers.ts): float16 loss scaling's
// overflow skip inside the graph (with float32 products: the same graph's scaling and skip),
// resident state (on WebGPU in device memory: uploaded, updated, read back), and half
// precision where the device has it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { adamwScalars } from '../src/graph/adamw.js';
import { resolveConfig } from '../src/model/config.js';
import { initParams, Params } from '../src/model/params.js';
import { TrainSession } from '../src/model/train-session.js';
import { Rng } from '../src/util/rng.js';
import { cli, isCleanError, workspace } from './helpers.js';
import { readMetrics } from '../src/train/loop.js';
import { GPU_TIERS } from './gpu-helpers.js';

const T = 32, B = 2;
const c = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 });
function batch(seed: number) {
  const r = new Rng(seed);
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(r.int(64)));
  return { ids, labels: ids, B, T };
}
const copy = (p: Map<string, Float32Array>): Params => new Map([...p].map(([k, v]) => [k, Float32Array.from(v)]));
const scalars = (step: number) => adamwScalars({ lr: 1e-3, step, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1 });
const maxDiff = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
  let m = 0;
  for (const [k, x] of a) { const y = b.get(k)!; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i])); }
  return m;
};

for (const { provider: gpu, skip } of GPU_TIERS) describe(`${gpu} numerics`, { skip: skip ?? false }, () => {
  test('loss scaling on the device: an overflowed step is skipped inside the graph, as on the CPU', async () => {
    for (const update of ['adamw', 'accumulate'] as const) {
      const result: Record<string, { norms: number[]; weights: Map<string, Float32Array> }> = {};
      for (const provider of ['cpu', gpu] as const) {
        const s = await TrainSession.create(c, { seqLen: T, lossScaling: true, update }, { provider, threads: 2 });
        s.bind(initParams(c, 2));
        const run = async (scale: number, step: number) => {
          const sc = { ...scalars(step), grad_scale: 1 / scale };
          const r = await s.step(batch(step), {}, update === 'adamw' ? sc : undefined, scale);
          return update === 'adamw' ? r.gradNorm! : s.apply(sc);
        };
        const norms = [await run(1024, 1)];
        const before = copy((await s.snapshot()).weights), m = copy((await s.snapshot()).m);
        norms.push(await run(1e38, 2)); // overflows the backward pass
        const after = await s.snapshot();
        assert.equal(maxDiff(before, after.weights), 0, `${provider} ${update}: weights changed on a skipped step`);
        assert.equal(maxDiff(m, after.m), 0, `${provider} ${update}: moments changed on a skipped step`);
        norms.push(await run(1024, 2));
        result[provider] = { norms, weights: copy((await s.snapshot()).weights) };
        await s.release();
      }
      const [cpu, dev] = [result.cpu, result[gpu]];
      assert.ok(Number.isFinite(dev.norms[0]) && !Number.isFinite(dev.norms[1]) && Number.isFinite(dev.norms[2]), `${update}: ${gpu} norms ${dev.norms}`);
      assert.ok(Math.abs(dev.norms[2] - cpu.norms[2]) < 1e-5 * cpu.norms[2], `${update}: the step after the skip: norm ${dev.norms[2]} vs ${cpu.norms[2]}`);
      // two AdamW steps of lr 1e-3 from the same weights: the same within float32 sums (a flipped tiny gradient moves one weight by 2e-3)
      assert.ok(maxDiff(cpu.weights, dev.weights) < 2.5e-3, `${update}: weights after the skip differ by ${maxDiff(cpu.weights, dev.weights)}`);
    }
  });

  test('resident state: restored values come back exactly, and an accumulation group sums as on the CPU', async () => {
    const s = await TrainSession.create(c, { seqLen: T, update: 'accumulate' }, { provider: gpu, threads: 2 });
    // WebGPU keeps it in device memory; CUDA's outputs come back to the host arrays
    assert.equal(s.state.onDevice, gpu === 'webgpu');
    s.bind(initParams(c, 2));
    const target = initParams(c, 9);
    await s.restore(target, new Map(), new Map());
    await s.step(batch(1)); // the restored weights go up with this run
    assert.equal(maxDiff(target, (await s.snapshot()).weights), 0, 'weights read back from the device equal what was written');
    // two micro-batches summed on the device equal the CPU's sums
    const cpu = await TrainSession.create(c, { seqLen: T, update: 'accumulate' }, { provider: 'cpu', threads: 2 });
    cpu.bind(copy(target));
    await cpu.step(batch(1));
    for (const x of [cpu, s]) await x.step(batch(2));
    const [a, b] = [await cpu.accumulators(), await s.accumulators()];
    let worst = 0;
    a.forEach((x, i) => { const scale = Math.max(...x.map(Math.abs)) || 1; for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j] - b[i][j]) / scale); });
    assert.ok(worst < 1e-4, `summed gradients differ by ${worst} of each tensor's largest`);
    // the apply graph resets the device's sums itself
    await s.apply(scalars(1));
    assert.ok((await s.accumulators()).every((x) => x.every((v) => v === 0)), 'sums are zero after the optimizer step');
    await s.release(); await cpu.release();
  });

  test('half precision: float16 trains where the device has 16-bit shaders (else a one-line error); bfloat16 is refused by WebGPU by name', async () => {
    const ws = await workspace(60);
    const args = (dtype: string, device: string = gpu) => ['pretrain', '--device', device, '--dtype', dtype, '--data_path', ws.corpus, '--tokenizer', ws.tokenizer,
      '--out_dir', path.join(ws.dir, `${device}-${dtype}`), '--preset', 'tiny', '--hidden_size', '32', '--num_hidden_layers', '2', '--num_attention_heads', '4',
      '--num_key_value_heads', '2', '--max_steps', '8', '--batch_size', '2', '--max_seq_len', '32', '--accumulation_steps', '1', '--no-progress', '--log_interval', '1'];
    const f16 = cli(args('float16'));
    if (f16.code === 0) {
      // float16 products against float32 training on the CPU: torch.autocast's split, within half precision's rounding
      assert.equal(cli(args('float32', 'cpu')).code, 0);
      const half = readMetrics(path.join(ws.dir, `${gpu}-float16`, 'pretrain')), full = readMetrics(path.join(ws.dir, 'cpu-float32', 'pretrain'));
      assert.equal(half.length, full.length);
      half.forEach((m, i) => assert.ok(Math.abs(m.loss - full[i].loss) < 0.02 * full[i].loss, `step ${i + 1}: float16 ${m.loss} vs float32 ${full[i].loss}`));
    } else {
      // SwiftShader has no shader-f16: float16 numerics are checked on real GPUs (scripts/device)
      assert.equal(gpu, 'webgpu', f16.stderr);
      const err = isCleanError(f16, /float16 on --device webgpu: this WebGPU adapter has no 16-bit float shaders .*use --dtype float32/);
      assert.equal(err, null, err ?? '');
    }
    if (gpu === 'webgpu') {
      const err = isCleanError(cli(args('bfloat16')), /"webgpu" has no kernel for: MatMul \(bfloat16\)/);
      assert.equal(err, null, err ?? '');
    }
  });
});
