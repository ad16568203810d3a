import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph } from '../src/graph/graph.js';
import { PRESETS } from '../src/model/config.js';
import { buildTrainGraph } from '../src/model/minimind.js';
import { checkProviderOps, missingKernels } from '../src/runtime/op-support.js';
import { createSession, ProviderError } from '../src/runtime/session.js';

function withSign(): Graph {
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  g.output(g.mul(g.scope('grad', () => g.sign(x)), 2), 'y');
  return g;
}

function plain(): Graph {
  const g = new Graph();
  const x = g.input('x', 'float32', [4]);
  g.output(g.mul(g.exp(x), 2), 'y');
  return g;
}

test('the table catches a missing op by name, scope and dtype, and passes a graph without one', () => {
  assert.throws(() => checkProviderOps(withSign(), 'webgpu'),
    (e: Error) => e instanceof ProviderError && /"webgpu" has no kernel for: Sign \(float32\) in grad\/sign_\d+; .*--device cpu/.test(e.message));
  assert.doesNotThrow(() => checkProviderOps(withSign(), 'cuda'));
  assert.doesNotThrow(() => checkProviderOps(plain(), 'webgpu'));
  assert.doesNotThrow(() => checkProviderOps(withSign(), 'cpu'));
});

test('type gaps: int64 Equal lacks a WebGPU kernel, float32 Equal has one', () => {
  const g = new Graph();
  const a = g.input('a', 'int64', [2]), b = g.input('b', 'float32', [2]);
  g.output(g.equal(a, g.scalar(0, 'int64')), 'e1');
  g.output(g.equal(b, 0), 'e2');
  assert.deepEqual(missingKernels(g, 'webgpu').map((m) => m.split(' in ')[0]), ['Equal (int64)']);
});

test('createSession on webgpu fails with the naming error before ONNX Runtime is asked', async () => {
  await assert.rejects(createSession(withSign(), { provider: 'webgpu' }),
    (e: Error) => e instanceof ProviderError && /has no kernel for: Sign \(float32\)/.test(e.message));
});

test('the tiny training graph: exactly the ops the table predicts', () => {
  const g = buildTrainGraph(PRESETS.tiny, { update: 'adamw', seqLen: 256 }).graph;
  const ops = (p: string) => missingKernels(g, p).map((m) => m.split(' in ')[0]).sort();
  // nothing left (AdamW's clip and NaN test use Where/Less and Equal)
  assert.deepEqual(ops('webgpu'), []);
  assert.deepEqual(ops('cuda'), []);
});

test('gradient, DPO and MoE training graphs: built for a GPU, WebGPU lacks nothing; the CPU\'s sparse MoE dispatch needs NonZero', () => {
  const ops = (g: Graph) => [...new Set(missingKernels(g, 'webgpu').map((m) => m.split(' in ')[0]))];
  assert.deepEqual(ops(buildTrainGraph(PRESETS.tiny).graph), []);
  assert.deepEqual(ops(buildTrainGraph(PRESETS.tiny, { objective: { kind: 'dpo', beta: 0.1 }, seqLen: 64 }).graph), []);
  assert.deepEqual(ops(buildTrainGraph({ ...PRESETS.tiny, use_moe: true }, { seqLen: 256, target: 'gpu' }).graph), []);
  assert.deepEqual(ops(buildTrainGraph({ ...PRESETS.tiny, use_moe: true }, { seqLen: 256, target: 'cpu' }).graph), ['NonZero (bool)']);
});
