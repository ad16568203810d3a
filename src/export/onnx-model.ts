// `export --format onnx`: the decode graph (the one generation runs) wrapped in the
// interface transformers.js and onnxruntime-web expect of a decoder: inputs input_ids,
// attention_mask, position_ids and past_key_values.<l>.key/value [B, KV, P, hd]; outputs
// logits [B, S, V] and present.<l>.key/value. RoPE tables and the causal/padding bias,
// which our runtime feeds, are computed inside; the weights become initializers.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { Graph, Tensor } from '../graph/graph.js';
import { toOnnx } from '../graph/onnx.js';
import { MiniMindConfig } from '../model/config.js';
import { modelRope } from '../model/feeds.js';
import { buildDecodeGraph } from '../model/minimind.js';
import { paramSpecs, Params } from '../model/params.js';
import { UserError } from '../util/errors.js';
import { ARCH_CLASS, exportArch, whyMiniMind } from './arch.js';
import { ExportDtype } from './dtype.js';
import { ExportResult } from './export.js';
import { configJson, stockConfig } from './hf.js';

/** The transformers.js-facing graph: positions and the attention mask per row (left padding works). */
export function buildOnnxDecoder(c: MiniMindConfig, params: Params): Graph {
  const g = new Graph('float32');
  const L = c.num_hidden_layers, KV = c.num_key_value_heads, hd = c.head_dim, rep = c.num_attention_heads / KV;
  const ids = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  const pos = g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const past = Array.from({ length: L }, (_, l) => ['key', 'value'].map((kv) => g.input(`past_key_values.${l}.${kv}`, 'float32', ['batch_size', KV, 'past_sequence_length', hd])));
  const named = (t: Tensor, name: string) => g.node('Identity', [t], [{ dtype: t.dtype, shape: t.shape, name }])[0];
  g.scope('io', () => {
    // RoPE: angle = position * frequency (MiniMind's YaRN already in the frequencies)
    const { freqs, scale } = modelRope(c);
    const half = g.mul(g.unsqueeze(g.cast(pos, 'float32'), [2]), g.constant(freqs, 'float32', [1, 1, hd / 2])); // B, S, hd/2
    const ang = g.concat([half, half], 2);
    const trig = (op: string) => { const t = g.node(op, [ang], [{ dtype: 'float32', shape: ['batch_size', 'sequence_length', hd] }])[0]; return scale === 1 ? t : g.mul(t, scale); };
    named(trig('Cos'), 'rope_cos');
    named(trig('Sin'), 'rope_sin');
    // bias [B, 1, S*rep, P+S]: 0 where key j is visible to query i (j <= P+i and unmasked), else -1e9
    const dim = (t: Tensor, axis: number) => g.gather(g.shapeOf(t), g.scalar(axis, 'int64'), 0);
    const range = (n: Tensor) => g.node('Range', [g.scalar(0, 'int64'), n, g.scalar(1, 'int64')], [{ dtype: 'int64', shape: ['?n'] }])[0];
    const P = dim(past[0][0], 2), S = dim(ids, 1), total = dim(mask, 1);
    const causal = g.not(g.greater(g.unsqueeze(range(total), [0]), g.unsqueeze(g.add(range(S), P), [1]))); // S, P+S
    const allowed = g.and(g.unsqueeze(causal, [0]), g.unsqueeze(g.cast(mask, 'bool'), [1]));           // B, S, P+S
    let bias = g.where(allowed, g.scalar(0, 'float32'), g.scalar(-1e9, 'float32'));
    bias = g.node('Expand', [g.unsqueeze(bias, [2]), g.ints([1, 1, rep, 1])], [{ dtype: 'float32', shape: ['batch_size', 'sequence_length', rep, 'total_sequence_length'] }])[0];
    const shp = g.shapeOf(bias);
    bias = g.reshapeTo(bias, g.concat([g.slice(shp, 0, 0, 1), g.ints([1, -1]), g.slice(shp, 0, 3, 4)], 0), ['batch_size', 1, '?rows', 'total_sequence_length']);
    named(bias, 'attn_bias');
    for (let l = 0; l < L; l++) {
      named(g.transpose(past[l][0], [0, 2, 1, 3]), `past_key.${l}`);
      named(g.transpose(past[l][1], [0, 2, 1, 3]), `past_value.${l}`);
    }
  });
  // the decode graph, inlined: its inputs are now the tensors named above, or weights
  const dg = buildDecodeGraph(c, { kvCache: 'concat', allLogits: true, ropePerRow: true });
  const shapes = new Map(paramSpecs(c).map((s) => [s.name, s.shape]));
  for (const t of dg.inputs) {
    const shape = shapes.get(t.name);
    if (shape) g.initializers.push({ name: t.name, dtype: 'float32', dims: shape, data: params.get(t.name)! });
  }
  g.initializers.push(...dg.initializers);
  g.nodes.push(...dg.nodes);
  const out = (name: string) => dg.outputs.find((t) => t.name === name)!;
  g.scope('out', () => {
    g.output(out('logits'), 'logits');
    for (let l = 0; l < L; l++) {
      g.output(g.transpose(out(`present_key.${l}`), [0, 2, 1, 3]), `present.${l}.key`);
      g.output(g.transpose(out(`present_value.${l}`), [0, 2, 1, 3]), `present.${l}.value`);
    }
  });
  return g;
}

export function checkOnnxExportable(c: MiniMindConfig, dtype: ExportDtype): void {
  if (exportArch(c) === 'minimind') throw new UserError(`this model cannot be exported to ONNX for transformers.js: ${whyMiniMind(c)}, and transformers.js only runs stock architectures; use --format hf`);
  if (dtype !== 'f32') throw new UserError(`--format onnx writes float32 weights only (got --dtype ${dtype})`);
}

export async function writeOnnxExport(out: string, c: MiniMindConfig, params: Params, dtype: ExportDtype): Promise<ExportResult> {
  checkOnnxExportable(c, dtype);
  fs.mkdirSync(path.join(out, 'onnx'), { recursive: true });
  writeFileAtomic(path.join(out, 'onnx', 'model.onnx'), toOnnx(buildOnnxDecoder(c, params), 'minimind-decoder'));
  const cfg = { ...stockConfig(c), 'transformers.js_config': { dtype: 'fp32', use_external_data_format: false } };
  writeFileAtomic(path.join(out, 'config.json'), configJson(cfg));
  return { arch: ARCH_CLASS[exportArch(c)], files: ['onnx/model.onnx', 'config.json'] };
}
