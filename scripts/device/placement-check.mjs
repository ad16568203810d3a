#!/usr/bin/env node
// Where ONNX Runtime places each node of minimind's graphs on the GPU providers that start here
// (runtime/placement.ts: its verbose "Node placements" log and the graph as it optimized it).
// One JSON line per graph and provider: {"check":"placement","provider","graph","ok",
// "nodes":{EP: count},"shapeOnly":[...],"dataOnCpu":[...],"copies":[...]}; ok = no compute on
// the CPU and no copy of computed data. Run after `npx tsc -p tsconfig.json`.
// Environment: PLACE_PRESET (minimind-v1-small), PLACE_T (512), PLACE_PROVIDERS (webgpu,cuda).
import { resolveConfig } from '../../dist/src/model/config.js';
import { windowDecodeGraph } from '../../dist/src/model/decode-runner.js';
import { buildApplyGraph, buildChoiceGraph, buildTrainGraph } from '../../dist/src/model/minimind.js';
import { initParams } from '../../dist/src/model/params.js';
import { nodePlacement } from '../../dist/src/runtime/placement.js';

const env = (k, d) => process.env[k] || d;
const preset = env('PLACE_PRESET', 'minimind-v1-small'), T = Number(env('PLACE_T', 512));
const c = resolveConfig(preset), moe = resolveConfig('minimind-v1-moe');
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const train = (cfg, o) => buildTrainGraph(cfg, { seqLen: T, target: 'gpu', ...o });
const dense = train(c, { update: 'accumulate' });
const graphs = [
  ['train-adamw', () => train(c, { update: 'adamw' }).graph],
  ['train-accumulate', () => dense.graph],
  ['apply', () => buildApplyGraph(new Map(dense.trainable.map((n) => [n, dense.params.get(n).shape])))],
  ['train-moe', () => train(moe, { update: 'adamw' }).graph],
  ['train-dpo', () => train(c, { update: 'adamw', objective: { kind: 'dpo', beta: 0.1 } }).graph],
];
for (const provider of env('PLACE_PROVIDERS', 'webgpu,cuda').split(',')) {
  const all = [...graphs, ['choice', () => buildChoiceGraph(c, { target: 'gpu', fused: provider !== 'cuda' })], ['decode', () => windowDecodeGraph(c, initParams(c, 1), { provider })]];
  for (const [name, make] of all) {
    try {
      const p = await nodePlacement(await make(), provider);
      const data = p.dataOnCpu.map((d) => `${d.node.op} (${d.node.name}) ${d.because}`), copies = p.copies.filter((x) => x.of === 'data').map((x) => x.node.name);
      emit({ check: 'placement', provider, preset, graph: name, ok: !data.length && !copies.length, nodes: Object.fromEntries([...p.byProvider].map(([k, v]) => [k, v.length])),
        shapeOnly: p.shapeOnly.map((n) => `${n.op} (${n.name})`), dataOnCpu: data, copies: p.copies.map((x) => `${x.node.op} (${x.node.name}) of ${x.of}`) });
    } catch (e) {
      emit({ check: 'placement', provider, preset, graph: name, ok: false, error: e.message.slice(0, 400) });
      if (/could not be created/.test(e.message)) break; // the provider does not start here: the next
    }
  }
}
