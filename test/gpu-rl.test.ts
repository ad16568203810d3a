// The post-training stages past DPO on each GPU provider that starts (gpu-helpers.ts: WebGPU on
// SwiftShader here): GRPO, CISPO and PPO replay MiniMind's recorded batches on the GPU and
// must land where MiniMind did; a distillation step (teacher and student graphs) matches the
// CPU's; rollouts, which on a GPU rebuild their decoder from the trained weights, decode as
// on the CPU.
//
// Tolerances: measured on SwiftShader, losses within 5.1e-7 of MiniMind's (CISPO; GRPO 7e-8),
// final weights within 4.1e-5 of their update (CISPO; PPO 1.4e-5); asserted 5e-5 and 1e-3,
// the GPU stage tests' bound on updates (GPU reductions sum in other orders; AdamW
// magnifies that where a gradient is near zero: gpu-stages.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adamwScalars } from '../src/graph/adamw.js';
import { Batch } from '../src/data/loader.js';
import { resolveConfig } from '../src/model/config.js';
import { initParams } from '../src/model/params.js';
import { DistillTrainee } from '../src/train/distill-trainee.js';
import { CRITIC } from '../src/train/ppo-trainee.js';
import { RolloutEngine, RolloutRow } from '../src/train/rollout.js';
import { Rng } from '../src/util/rng.js';
import { replayGrpo, replayPpo, weightErrors } from './rl-helpers.js';
import { GPU_TIERS } from './gpu-helpers.js';

for (const { provider, skip } of GPU_TIERS) describe(`GRPO, PPO and distillation on ${provider}`, { skip: skip ?? false }, () => {
  const GPU = { provider };
  for (const name of ['grpo', 'cispo']) {
    test(`${name}: MiniMind's batches on ${provider} give its losses, gradient norms and weights`, async () => {
      const r = await replayGrpo(name, GPU), h = r.e.hyper;
      r.e.steps.forEach((s, i) => assert.ok(Math.abs(r.seen[i].loss - s.micro_loss) / Math.max(Math.abs(s.micro_loss), 1) < 5e-5, `batch ${i + 1}: loss ${r.seen[i].loss} vs ${s.micro_loss}`));
      r.e.steps.filter((s) => s.grad_norm !== undefined).forEach((s, i) => assert.ok(Math.abs(r.metrics[i].grad_norm - s.grad_norm!) / s.grad_norm! < 5e-5, `step ${i + 1}: norm`));
      const w = weightErrors(r, () => h.learning_rate);
      assert.ok(w.update < 1e-3, `final weights: ${w.update} of the update`);
      if (process.env.MINIMIND_SHOW_ERRORS) console.log(`${name} on ${provider}: losses ${r.e.steps.map((s, i) => Math.abs(r.seen[i].loss - s.micro_loss).toExponential(1))}, weights ${JSON.stringify(w)}`);
    });
  }

  test(`ppo: MiniMind's batches on ${provider} (the critic's values read back from the device each batch)`, async () => {
    const r = await replayPpo('ppo', GPU), h = r.e.hyper;
    r.e.steps.forEach((s, b) => s.losses.forEach((want, i) => assert.ok(Math.abs(r.traces[b].losses[i] - want) / Math.max(Math.abs(want), 1) < 5e-5, `batch ${b + 1} minibatch ${i + 1}`)));
    const w = weightErrors(r, (k) => (k.startsWith(CRITIC) ? h.critic_learning_rate : h.learning_rate));
    assert.ok(w.update < 1e-3, `final weights: ${w.update} of the update`);
    if (process.env.MINIMIND_SHOW_ERRORS) console.log(`ppo on ${provider}: weights ${JSON.stringify(w)}`);
  });

  test(`distillation: a step of student and MoE teacher on ${provider} equals the CPU's`, async () => {
    const c = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 96 });
    const tc = resolveConfig('tiny', { hidden_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 96, use_moe: true, n_routed_experts: 4 });
    const rng = new Rng(3), B = 2, T = 16;
    const batch: Batch = { ids: BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(96))), labels: BigInt64Array.from({ length: B * T }, (_, i) => (i % T < 4 ? -100n : BigInt(rng.int(96)))), B, T, labelTokens: B * (T - 4) };
    const out: { loss: number; norm: number; w: Map<string, Float32Array> }[] = [];
    for (const so of [{ threads: 1 }, GPU]) {
      const params = initParams(c, 1);
      const t = await DistillTrainee.create(c, params, { config: tc, params: initParams(tc, 2) }, { alpha: 0.5, temperature: 1.5 }, { seqLen: T }, so);
      const r = await t.step(batch, adamwScalars({ lr: 1e-3, step: 1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1 }));
      out.push({ loss: r.loss, norm: r.gradNorm!, w: (await t.snapshot()).weights });
      await t.release();
    }
    const [cpu, gpu] = out;
    assert.ok(Math.abs(cpu.loss - gpu.loss) / cpu.loss < 1e-5 && Math.abs(cpu.norm - gpu.norm) / cpu.norm < 1e-5, `loss ${gpu.loss} vs ${cpu.loss}, norm ${gpu.norm} vs ${cpu.norm}`);
    const start = initParams(c, 1);
    let d = 0, u = 0;
    for (const [k, a] of cpu.w) { const b = gpu.w.get(k)!, s = start.get(k)!; for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; u += (a[i] - s[i]) ** 2; } }
    assert.ok(Math.sqrt(d / u) < 1e-3, `weights: ${Math.sqrt(d / u)} of the update`);
  });

  test(`rollouts on ${provider} (a decoder rebuilt from the weights) decode greedily as on the CPU, with the same log-probabilities`, async () => {
    const c = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 64, max_position_embeddings: 64 });
    const params = initParams(c, 5), prompts = [[1, 5, 9], [1, 7, 7, 7, 2]];
    const o = { numGenerations: 2, maxNewTokens: 8, temperature: 0, topK: 0, topP: 1, stopIds: [2] };
    const rows: RolloutRow[][] = [];
    for (const so of [{ threads: 1 }, GPU]) {
      const e = new RolloutEngine(c, async () => params, 'rebuild', so);
      rows.push(await e.rollout(prompts, o, new Rng(1)));
      await e.release();
    }
    assert.deepEqual(rows[1].map((r) => r.completion), rows[0].map((r) => r.completion));
    rows[0].forEach((r, i) => r.logps.forEach((v, k) => assert.ok(Math.abs(v - rows[1][i].logps[k]) < 1e-4, `row ${i} token ${k}`)));
  });
});
