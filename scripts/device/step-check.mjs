#!/usr/bin/env node
// Device check of the one-graph training step (forward, backward, clipping, AdamW) on a GPU
// provider against the CPU: the same model, weights and batch; one step on each, then the loss,
// the gradient norm, the gradients (AdamW's first moment after step 1 is 0.1 * clip * g) and
// the updated weights compared; then a few more steps on each (the GPU's weights stay resident
// in device buffers between steps) with the time per step. A provider that cannot start is
// recorded with its message, not thrown. Prints JSON lines: {"check":"step-compare",...} and
// one {"check":"step-provider",...} per GPU provider tried.
// Run after `npx tsc -p tsconfig.json`: node scripts/device/step-check.mjs
// Environment: STEP_PRESET (minimind-v1-small), STEP_LAYERS (the preset's), STEP_B (4),
// STEP_T (256), STEP_MORE (3 more steps), STEP_THREADS (0 = all cores), STEP_PROVIDERS (webgpu,cuda).
import { Graph } from '../../dist/src/graph/graph.js';
import { adamwScalars } from '../../dist/src/graph/adamw.js';
import { toOnnx } from '../../dist/src/graph/onnx.js';
import { resolveConfig } from '../../dist/src/model/config.js';
import { countParams, initParams } from '../../dist/src/model/params.js';
import { TrainSession } from '../../dist/src/model/train-session.js';
import { ort } from '../../dist/src/runtime/session.js';

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const preset = env('STEP_PRESET', 'minimind-v1-small');
const layers = env('STEP_LAYERS', '');
const B = Number(env('STEP_B', 4)), T = Number(env('STEP_T', 256)), more = Number(env('STEP_MORE', 3));
const threads = Number(env('STEP_THREADS', 0));
const gpus = env('STEP_PROVIDERS', 'webgpu,cuda').split(',').filter(Boolean);
const config = resolveConfig(preset, layers ? { num_hidden_layers: Number(layers) } : {});
const hyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm: 1 };

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const errText = (e) => (e instanceof Error ? e.message : String(e));

// A fixed batch: next-token labels of a pseudo-random token stream.
const rngTokens = (n, seed) => { let x = seed >>> 0; return Array.from({ length: n }, () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x % config.vocab_size; }); };
const toks = rngTokens(B * (T + 1), 7);
const ids = new BigInt64Array(B * T), labels = new BigInt64Array(B * T);
for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) { ids[b * T + t] = BigInt(toks[b * (T + 1) + t]); labels[b * T + t] = BigInt(toks[b * (T + 1) + t + 1]); }
const batch = { ids, labels, B, T };

const init = initParams(config, 42);
const copy = (p) => new Map([...p].map(([k, v]) => [k, v.slice()]));

/** Build, bind (its own copy of the weights: the CPU updates them in place), step once, snapshot, then `more` steps timed. */
async function train(provider) {
  const t0 = performance.now();
  const s = await TrainSession.create(config, { seqLen: T, update: 'adamw' }, { provider, threads, quiet: true });
  const createS = (performance.now() - t0) / 1000;
  s.bind(copy(init));
  const t1 = performance.now();
  const first = await s.step(batch, {}, adamwScalars({ ...hyper, step: 1 }));
  const firstS = (performance.now() - t1) / 1000;
  // on the CPU a snapshot holds the live arrays, which the next steps update in place
  const frozen = (m) => new Map([...m].map(([k, v]) => [k, v.slice()]));
  const snap = await s.snapshot().then((x) => ({ weights: frozen(x.weights), m: frozen(x.m), v: frozen(x.v) }));
  const losses = [first.loss], stepS = [];
  for (let i = 2; i <= more + 1; i++) {
    const t = performance.now();
    const r = await s.step(batch, {}, adamwScalars({ ...hyper, step: i }));
    stepS.push((performance.now() - t) / 1000);
    losses.push(r.loss);
  }
  const last = more > 0 ? await s.snapshot() : snap;
  const onDevice = s.state.onDevice, actual = s.session.provider;
  await s.release();
  return { provider: actual, onDevice, createS, firstS, stepS, loss: first.loss, gradNorm: first.gradNorm, losses, snap, last };
}

/** Largest differences of b against a over all tensors; `scale` per tensor: what a difference is relative to. */
const maxAbsOf = (x) => { let m = 0; for (const v of x) if (Math.abs(v) > m) m = Math.abs(v); return m; };
function compare(a, b, scale = (x) => maxAbsOf(x) || 1) {
  let maxAbs = 0, maxRel = 0, worst = '';
  for (const [name, x] of a) {
    const y = b.get(name), s = scale(x, name);
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (d > maxAbs) maxAbs = d;
      if (d / s > maxRel) { maxRel = d / s; worst = name; }
    }
  }
  return { maxAbs, maxRel, worst };
}

/** ||dGPU - dCPU|| / ||dCPU|| over all weights, d = new - init: how far the two updates differ as vectors; and how many entries moved differently by more than lr/2 (a flipped Adam sign). */
function updateDiff(cpu, gpu) {
  let num = 0, den = 0, flips = 0, n = 0;
  for (const [name, w0] of init) {
    const c = cpu.get(name), g = gpu.get(name);
    if (!c) continue;
    for (let i = 0; i < w0.length; i++) {
      const dc = c[i] - w0[i], dg = g[i] - w0[i];
      num += (dg - dc) ** 2; den += dc ** 2; n++;
      if (Math.abs(dg - dc) > hyper.lr / 2) flips++;
    }
  }
  return { relL2: Math.sqrt(num / den), flipped: flips, of: n };
}

/** The raw message of a provider that cannot start, on a one-op graph (the session layer keeps the first line only). */
async function probe(provider) {
  const g = new Graph();
  g.output(g.add(g.input('x', 'float32', [2]), 1), 'y');
  try {
    const s = await ort.InferenceSession.create(toOnnx(g), { executionProviders: [provider] });
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) });
    await s.release();
    return { started: true, y: [...out.y.data] };
  } catch (e) { return { started: false, error: errText(e) }; }
}

const base = { preset, layers: config.num_hidden_layers, hidden: config.hidden_size, params: countParams(config), B, T, lr: hyper.lr };
let cpu;
try { cpu = await train('cpu'); } catch (e) { emit({ check: 'step-compare', ok: false, ...base, error: `cpu: ${errText(e)}` }); process.exit(1); }
const timing = (r) => ({ createS: r.createS, firstStepS: r.firstS, moreStepsS: r.stepS, medianStepS: [...r.stepS].sort((a, b) => a - b)[r.stepS.length >> 1] ?? null, tokensPerS: r.stepS.length ? B * T / [...r.stepS].sort((a, b) => a - b)[r.stepS.length >> 1] : null });
emit({ check: 'step-provider', provider: 'cpu', started: true, ...base, loss: cpu.loss, gradNorm: cpu.gradNorm, losses: cpu.losses, ...timing(cpu) });

let anyFailed = false;
for (const p of gpus) {
  let gpu;
  try { gpu = await train(p); } catch (e) {
    emit({ check: 'step-provider', provider: p, started: false, ...base, error: errText(e), raw: await probe(p) });
    continue;
  }
  const grads = compare(cpu.snap.m, gpu.snap.m); // m = 0.1 * clip * g after the first step
  const weights = compare(cpu.snap.weights, gpu.snap.weights, () => hyper.lr); // relative to the step size
  const upd = updateDiff(cpu.snap.weights, gpu.snap.weights);
  const lossRel = Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss), normRel = Math.abs(gpu.gradNorm - cpu.gradNorm) / cpu.gradNorm;
  const after = more > 0 ? updateDiff(cpu.last.weights, gpu.last.weights) : null;
  const trajectory = gpu.losses.map((l, i) => Math.abs(l - cpu.losses[i]));
  // float32 sums in another order: ~1e-5 relative on loss and norm, a few sign flips of tiny gradients
  const ok = lossRel < 1e-4 && normRel < 1e-3 && grads.maxRel < 1e-2 && upd.relL2 < 5e-2;
  if (!ok) anyFailed = true;
  emit({ check: 'step-compare', provider: gpu.provider, ok, ...base, resident: gpu.onDevice,
    loss: { cpu: cpu.loss, gpu: gpu.loss, rel: lossRel }, gradNorm: { cpu: cpu.gradNorm, gpu: gpu.gradNorm, rel: normRel },
    grads, weightsOverLr: weights, update: upd, afterMoreSteps: after, lossTrajectory: { cpu: cpu.losses, gpu: gpu.losses, maxAbsDiff: maxAbsOf(trajectory) } });
  emit({ check: 'step-provider', provider: p, started: true, ...base, resident: gpu.onDevice, loss: gpu.loss, gradNorm: gpu.gradNorm, losses: gpu.losses, ...timing(gpu), cpuMedianStepS: timing(cpu).medianStepS });
}
process.exit(anyFailed ? 1 : 0);
