// The engine against PyTorch: logits, loss, every gradient and one clipped AdamW step of
// tiny MiniMind models (dense, QK-norm, MoE), from scripts/fixtures/make_fixtures.py.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readSafetensors } from '../src/io/safetensors.js';
import { MiniMindConfig, resolveConfig } from '../src/model/config.js';
import { TrainSession } from '../src/model/train-session.js';
import { AdamW, clipGradNorm, clipScale, sumOfSquares } from '../src/runtime/optimizer.js';
import { ort } from '../src/runtime/session.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');

/** max |a-b| relative to max |b| over the tensor */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
  return diff / Math.max(scale, 1e-30);
}

for (const name of ['tiny_dense', 'tiny_qknorm', 'tiny_moe']) {
  test(`matches PyTorch: ${name} logits, loss, gradients and one AdamW step`, async () => {
    const { tensors: t, metadata } = readSafetensors(path.join(dir, `${name}.safetensors`));
    const raw = JSON.parse(metadata.config);
    const cfg: MiniMindConfig = resolveConfig('tiny', raw);
    const opt = JSON.parse(metadata.optimizer);
    const params = new Map<string, Float32Array>();
    for (const [k, v] of t) if (k.startsWith('param.')) params.set(k.slice(6), v.data as Float32Array);
    const sess = await TrainSession.create(cfg, { logits: true }, { threads: 1 });
    sess.bind(params);
    const ids = t.get('input_ids')!;
    const [B, T] = ids.shape;
    const r = await sess.step({ ids: ids.data as BigInt64Array, labels: t.get('labels')!.data as BigInt64Array, B, T });
    assert.ok(relErr([r.loss], t.get('loss')!.data as Float32Array) < 1e-5, `loss ${r.loss} vs ${(t.get('loss')!.data as Float32Array)[0]}`);
    const aux = (t.get('aux_loss')!.data as Float32Array)[0];
    if (cfg.use_moe) assert.ok(aux > 0 && relErr([r.auxLoss], [aux]) < 1e-5, `MoE aux loss ${r.auxLoss} vs ${aux}`);
    else assert.equal(r.auxLoss, 0);
    assert.ok(relErr(r.logits!, t.get('logits')!.data as Float32Array) < 1e-5, 'logits');
    assert.ok(params.size > 0 && r.grads.size === params.size, `${r.grads.size} gradients for ${params.size} parameters`);
    for (const [k, gv] of r.grads) {
      const e = relErr(gv, t.get(`grad.${k}`)!.data as Float32Array);
      assert.ok(e < 1e-5, `gradient of ${k}: relative error ${e.toExponential(2)}`);
    }
    assert.ok(Math.abs(Math.sqrt(r.gradSumSq) - Number(metadata.grad_norm)) / Number(metadata.grad_norm) < 1e-5, `in-graph grad norm ${Math.sqrt(r.gradSumSq)} vs ${metadata.grad_norm}`);
    const norm = clipGradNorm(r.grads.values(), opt.clip);
    assert.ok(Math.abs(norm - Number(metadata.grad_norm)) / norm < 1e-5, `grad norm ${norm} vs ${metadata.grad_norm}`);
    // The optimizer step starts from PyTorch's exact gradients: Adam's first step is
    // about lr*sign(g), so float32 noise on near-zero gradients would flip updates by lr.
    const exact = new Map([...params.keys()].map((k) => [k, Float32Array.from(t.get(`grad.${k}`)!.data as Float32Array)]));
    // the training loop's path: the clip factor folded into the update, no pass over the gradients
    const folded = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
    new AdamW({ weightDecay: opt.weight_decay }).update(folded, exact, opt.lr, clipScale(Math.sqrt(sumOfSquares(exact.values())), opt.clip));
    clipGradNorm(exact.values(), opt.clip);
    new AdamW({ weightDecay: opt.weight_decay }).update(params, exact, opt.lr);
    for (const [k, p] of params) {
      const e = relErr(p, t.get(`updated.${k}`)!.data as Float32Array);
      assert.ok(e < 1e-5, `updated ${k}: relative error ${e.toExponential(2)}`);
      const f = relErr(folded.get(k)!, t.get(`updated.${k}`)!.data as Float32Array);
      assert.ok(f < 1e-5, `updated ${k} with folded clipping: relative error ${f.toExponential(2)}`);
    }
    await sess.release();
  });
}

test('matches PyTorch: DPO loss, reference log-probs and policy gradients', async () => {
  const { tensors: t, metadata } = readSafetensors(path.join(dir, 'tiny_dpo.safetensors'));
  const cfg: MiniMindConfig = resolveConfig('tiny', JSON.parse(metadata.config));
  const beta = Number(metadata.beta);
  const weights = (prefix: string) => new Map([...t].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v.data as Float32Array]));
  const ids = t.get('input_ids')!;
  const batch = { ids: ids.data as BigInt64Array, labels: t.get('labels')!.data as BigInt64Array, B: ids.shape[0], T: ids.shape[1] };
  const ref = await TrainSession.create(cfg, { objective: { kind: 'seqlogp' }, trainable: () => false }, { threads: 1 });
  ref.bind(weights('ref.'));
  const refLogps = (await ref.step(batch)).values.seq_logps;
  assert.ok(relErr(refLogps, t.get('ref_logps')!.data as Float32Array) < 1e-5, 'reference log-probs');
  const pol = await TrainSession.create(cfg, { objective: { kind: 'dpo', beta } }, { threads: 1 });
  pol.bind(weights('param.'));
  const r = await pol.step(batch, { ref_logps: new ort.Tensor('float32', refLogps, [batch.B]) });
  assert.ok(relErr([r.loss], t.get('loss')!.data as Float32Array) < 1e-5, `DPO loss ${r.loss}`);
  assert.ok(relErr(r.values.reward_margin, t.get('reward_margin')!.data as Float32Array) < 1e-4, 'reward margin');
  const policy = weights('param.');
  assert.ok(policy.size > 0 && r.grads.size === policy.size, `${r.grads.size} DPO gradients for ${policy.size} parameters`);
  for (const [k, gv] of r.grads) {
    const e = relErr(gv, t.get(`grad.${k}`)!.data as Float32Array);
    assert.ok(e < 1e-5, `DPO gradient of ${k}: relative error ${e.toExponential(2)}`);
  }
  await ref.release(); await pol.release();
});
