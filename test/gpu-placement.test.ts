// Placement proven from ONNX Runtime itself (runtime/placement.ts reads its verbose "Node
// placements" log and the graph as it optimized it): on each GPU provider that starts
// (gpu-helpers.ts) every training and decoding graph runs on the device, except shape arithmetic (Shape, and Gathers/Slices/Concats/Casts
// over shapes and small integer constants, which ORT keeps on the CPU where shapes live),
// and no tensor data is copied between host and device inside a run. And the static table of
// kernels WebGPU lacks (runtime/op-support.ts) is checked against what the runtime does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DType, Graph, Tensor } from '../src/graph/graph.js';
import { resolveConfig } from '../src/model/config.js';
import { windowDecodeGraph } from '../src/model/decode-runner.js';
import { isLora, loraHook, loraSpecs, loraTargets } from '../src/model/lora.js';
import { buildApplyGraph, buildChoiceGraph, buildTrainGraph, BuildOptions } from '../src/model/minimind.js';
import { initParams } from '../src/model/params.js';
import { MISSING_KERNELS, missingKernels } from '../src/runtime/op-support.js';
import { describePlacement, nodePlacement } from '../src/runtime/placement.js';
import { EP_NAME, GPU_TIERS, GpuProvider } from './gpu-helpers.js';

const dense = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 });
const moe = resolveConfig('tiny', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300, use_moe: true });
const moe3 = resolveConfig('minimind3-moe', { hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 300 });
const lc = { r: 4, alpha: 4, dropout: 0, targets: loraTargets(dense, 'square') };
const T = 32;
const train = (c: typeof dense, o: BuildOptions) => buildTrainGraph(c, { seqLen: T, target: 'gpu', ...o }).graph;

/** Every graph a stage or a decoder builds for a GPU provider. */
async function graphs(provider: GpuProvider): Promise<[string, Graph][]> {
  const shapes = (c: typeof dense) => { const tg = buildTrainGraph(c, { seqLen: T }); return new Map(tg.trainable.map((n) => [n, tg.params.get(n)!.shape as number[]])); };
  const gpu = { provider };
  return [
    ['pretrain (AdamW in the graph)', train(dense, { update: 'adamw' })],
    ['pretrain, accumulation (accumulate)', train(dense, { update: 'accumulate' })],
    ['pretrain, accumulation (apply)', buildApplyGraph(shapes(dense))],
    ['loss scaling (apply, skips non-finite steps)', buildApplyGraph(shapes(dense), 'float32', true)],
    ['MoE pretrain (v1 aux loss)', train(moe, { update: 'adamw' })],
    ['MoE pretrain (minimind-3 aux loss, q/k norms)', train(moe3, { update: 'accumulate' })],
    ['LoRA', train(dense, { update: 'adamw', trainable: isLora, linearHook: loraHook(lc), extraParams: loraSpecs(dense, lc) })],
    ['DPO policy', train(dense, { update: 'adamw', objective: { kind: 'dpo', beta: 0.1 } })],
    ['DPO reference (sequence log-probabilities)', train(dense, { objective: { kind: 'seqlogp' }, trainable: () => false })],
    ['decode (KV window)', await windowDecodeGraph(dense, initParams(dense, 1), gpu)],
    ['decode, 4-bit weights', await windowDecodeGraph(dense, initParams(dense, 1), { ...gpu, quantize: 'q4' })],
    ['decode, MoE', await windowDecodeGraph(moe, initParams(moe, 1), gpu)],
    ['decode with a LoRA adapter', await windowDecodeGraph(dense, initParams(dense, 1), gpu, { hook: { linearHook: loraHook(lc), extraParams: loraSpecs(dense, lc) } })],
    ['C-Eval choice scorer', buildChoiceGraph(dense, { target: 'gpu', fused: provider !== 'cuda' })],
    ['C-Eval choice scorer, MoE', buildChoiceGraph(moe, { target: 'gpu', fused: provider !== 'cuda' })],
  ];
}

for (const { provider, skip } of GPU_TIERS) describe(`placement on ${provider}, read from ONNX Runtime`, { skip: skip ?? false }, () => {
  test('every training and decoding graph runs on the device; only shape arithmetic stays on the CPU, and no data is copied', async () => {
    for (const [what, g] of await graphs(provider)) {
      assert.deepEqual(missingKernels(g, provider), [], `${what}: the static check finds no missing kernel`);
      const p = await nodePlacement(g, provider);
      const line = describePlacement(p);
      assert.ok((p.byProvider.get(EP_NAME[provider])?.length ?? 0) > 0, `${what}: nothing on ${provider}: ${line}`);
      assert.deepEqual(p.dataOnCpu.map((d) => `${d.node.op} (${d.node.name}) ${d.because}`), [], `${what}: ${line}`);
      assert.deepEqual(p.copies.filter((c) => c.of === 'data').map((c) => c.node.name), [], `${what}: ${line}`);
    }
  });

  test('the check itself sees compute on the CPU: a sparse MoE graph (NonZero) is caught', { skip: provider !== 'webgpu' && 'CUDA has NonZero' }, async () => {
    const g = buildTrainGraph(moe, { seqLen: T, update: 'adamw', target: 'cpu' }).graph;
    assert.ok(missingKernels(g, 'webgpu').some((m) => m.startsWith('NonZero')), 'the static table names NonZero');
    const p = await nodePlacement(g, 'webgpu');
    assert.ok(p.dataOnCpu.some((d) => d.node.op === 'NonZero'), `NonZero is reported as compute on the CPU: ${describePlacement(p)}`);
  });

  test('each kernel the static table says WebGPU lacks is indeed not run by WebGPU, and the same op in float32 is', { skip: provider !== 'webgpu' && 'the WebGPU table' }, async () => {
    const wrong: string[] = [];
    for (const gap of MISSING_KERNELS.webgpu) {
      const dtype: DType = gap.dtype ?? 'float32';
      const g = oneOp(gap.op, dtype);
      assert.ok(missingKernels(g, 'webgpu').length > 0, `${gap.op} (${dtype}): the table flags it`);
      const placed = await nodePlacement(g, 'webgpu').catch((e: Error) => e);
      // no provider at all (bfloat16 products) or the CPU: either way not WebGPU
      const onGpu = (p: Awaited<ReturnType<typeof nodePlacement>> | Error) => !(p instanceof Error) && (p.byProvider.get('WebGpuExecutionProvider') ?? []).some((n) => n.op === gap.op);
      if (onGpu(placed)) wrong.push(`${gap.op} (${dtype}) runs on WebGPU`);
      if (gap.dtype && gap.op !== 'Cast' && !onGpu(await nodePlacement(oneOp(gap.op, 'float32'), 'webgpu'))) wrong.push(`${gap.op} (float32) does not run on WebGPU either`);
    }
    assert.deepEqual(wrong, [], 'the table disagrees with the runtime');
  });
});

/** A graph of one `op` on inputs of this element type (where the op's gap is about its data input). */
function oneOp(op: string, dtype: DType): Graph {
  const g = new Graph();
  const x = (name: string, t: DType = dtype) => g.input(name, t, [4]);
  let out: Tensor;
  switch (op) {
    case 'ConstantOfShape': out = g.node(op, [g.input('shape', 'int64', [1])], [{ dtype: 'float32', shape: ['?n'] }])[0]; break;
    case 'NonZero': out = g.node(op, [x('a')], [{ dtype: 'int64', shape: [1, '?n'] }])[0]; break;
    case 'IsNaN': out = g.node(op, [x('a')], [{ dtype: 'bool', shape: [4] }])[0]; break;
    case 'Size': out = g.node(op, [x('a')], [{ dtype: 'int64', shape: [] }])[0]; break;
    case 'Equal': out = g.node(op, [x('a'), x('b')], [{ dtype: 'bool', shape: [4] }])[0]; break;
    case 'Where': out = g.node(op, [g.input('c', 'bool', [4]), x('a'), x('b')], [{ dtype: dtype, shape: [4] }])[0]; break;
    case 'Cast': out = g.node(op, [x('a')], [{ dtype: 'float32', shape: [4] }], { to: { i: 1 } })[0]; break;
    case 'Unsqueeze': out = g.node(op, [x('a'), g.ints([0])], [{ dtype, shape: [1, 4] }])[0]; break;
    case 'LogSoftmax': out = g.node(op, [x('a')], [{ dtype, shape: [4] }], { axis: { i: -1 } })[0]; break;
    case 'Max': case 'Min': out = g.node(op, [x('a'), x('b')], [{ dtype, shape: [4] }])[0]; break;
    case 'Sign': out = g.node(op, [x('a')], [{ dtype, shape: [4] }])[0]; break;
    case 'MatMul': out = g.node(op, [g.input('a', dtype, [4, 4]), g.input('b', dtype, [4, 4])], [{ dtype, shape: [4, 4] }])[0]; break;
    case 'Gemm': out = g.node(op, [g.input('a', dtype, [4, 4]), g.input('b', dtype, [4, 4])], [{ dtype, shape: [4, 4] }])[0]; break;
    default: throw new Error(`oneOp: no graph for ${op}; add one`);
  }
  g.output(out, 'y');
  return g;
}
