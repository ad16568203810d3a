// Ops our graphs use that a GPU execution provider has no kernel for. ONNX Runtime silently
// places such nodes on the CPU (with copies to and from the device around each), so a GPU
// run would be slow without saying why; we check the graph first and name what is missing,
// before any session is built (the runtime itself would only say that some node fell back,
// and only with its verbose log: runtime/placement.ts, which the WebGPU tests use to check
// this table against what ONNX Runtime does). Shape arithmetic (nodes that compute on
// shapes and small integer constants only) is left out: ORT keeps it on the CPU on purpose,
// where shapes live, and it costs no copy.
//
// Each entry is checked against the runtime by test/gpu-placement.test.ts (Max and Min,
// once listed here, do run on WebGPU in 1.30). Sources (read for ONNX Runtime close to 1.30;
// our graphs are opset 23):
//   webgpu: the kernel table of onnxruntime/core/providers/webgpu/webgpu_execution_provider.cc
//     (the version with opset-25 Reshape/Identity kernels and RegisterKernels(graph_capture,
//     enable_int64)), math/binary_elementwise_ops.cc (Equal: WebGpuSupportedNumberTypes =
//     float, float16, int32, uint32) and tensor/where.cc (WhereOpTypeConstraints: float16,
//     float, int32, uint32, bool).
//   cuda: docs/OperatorKernels.md, CUDAExecutionProvider (the version listing opset-25 kernels).
import { DType, Graph, Node } from '../graph/graph.js';
import { ProviderError } from './providers.js';

export type GpuProvider = 'cuda' | 'webgpu';

interface Gap {
  op: string;
  domain?: string;
  /** the kernel exists but not for this element type of input `input` (default 0) */
  dtype?: DType;
  input?: number;
}

const WEBGPU_MISSING: Gap[] = [
  // not in the kernel table at all
  { op: 'ConstantOfShape' }, { op: 'IsNaN' }, { op: 'LogSoftmax' }, { op: 'NonZero' }, { op: 'Sign' }, { op: 'Size' },
  // kernels without int64 (WGSL has no 64-bit integers)
  { op: 'Equal', dtype: 'int64' },
  { op: 'Where', dtype: 'int64', input: 1 },
  // int64 Cast and Unsqueeze are registered only when the session enables int64 for
  // WebGPU (graph capture or enable_int64), which ours do not
  { op: 'Cast', dtype: 'int64' },
  { op: 'Unsqueeze', dtype: 'int64' },
  // products in bfloat16 (--dtype bfloat16): the WebGPU kernels are float32/float16 only
  { op: 'MatMul', dtype: 'bfloat16' },
  { op: 'Gemm', dtype: 'bfloat16' },
];

const CUDA_MISSING: Gap[] = [
  // GroupQueryAttention: T = bfloat16, float16 only
  { op: 'GroupQueryAttention', domain: 'com.microsoft', dtype: 'float32' },
];

export const MISSING_KERNELS: Record<GpuProvider, readonly Gap[]> = { webgpu: WEBGPU_MISSING, cuda: CUDA_MISSING };

const isGpu = (p: string): p is GpuProvider => p === 'cuda' || p === 'webgpu';

function gapOf(n: Node, gaps: readonly Gap[]): Gap | undefined {
  return gaps.find((g) => g.op === n.op && (g.domain ?? '') === (n.domain ?? '') && (!g.dtype || n.inputs[g.input ?? 0]?.dtype === g.dtype));
}

/**
 * The graph's nodes the provider has no kernel for, one line per op and element type:
 * `Sign (float32) in grad/sign_12`, with a count when several nodes share it.
 */
export function missingKernels(graph: Graph, provider: string): string[] {
  if (!isGpu(provider)) return [];
  const found = new Map<string, { where: string; count: number }>();
  const shapes = shapeValues(graph);
  for (const n of graph.nodes) {
    if (n.inputs.every((t) => !t || shapes.has(t.name))) continue;
    const gap = gapOf(n, MISSING_KERNELS[provider]);
    if (!gap) continue;
    const key = `${n.domain ? `${n.domain}.` : ''}${n.op} (${n.inputs[gap.input ?? 0]?.dtype ?? 'none'})`;
    const seen = found.get(key);
    if (seen) seen.count++;
    else found.set(key, { where: n.outputs[0]?.name ?? '?', count: 1 });
  }
  return [...found].map(([k, v]) => `${k} in ${v.where}${v.count > 1 ? ` (+${v.count - 1} more)` : ''}`);
}

/** Integer constants up to this many elements count as shape arithmetic (perms, axes, shape pieces): here and in runtime/placement.ts. */
export const SHAPE_CONSTANT_MAX = 64;

/** Names of the graph's shape values: outputs of Shape, small integer constants, and what nodes compute from those alone. */
function shapeValues(graph: Graph): Set<string> {
  const out = new Set(graph.initializers.filter((t) => (t.dtype === 'int64' || t.dtype === 'int32') && t.data.length <= SHAPE_CONSTANT_MAX).map((t) => t.name));
  for (const n of graph.nodes) {
    if (n.op === 'Shape' || n.op === 'Size' || (n.inputs.length && n.inputs.every((t) => !t || out.has(t.name)))) for (const o of n.outputs) out.add(o.name);
  }
  return out;
}

/** Throw a ProviderError naming every op of the graph the provider cannot run. */
export function checkProviderOps(graph: Graph, provider: string): void {
  const missing = missingKernels(graph, provider);
  if (!missing.length) return;
  const other = provider === 'webgpu' ? 'cuda' : 'webgpu';
  throw new ProviderError(`execution provider "${provider}" has no kernel for: ${missing.join('; ')}; ` +
    `ONNX Runtime would run these on the CPU with a copy each way; choose --device cpu or ${other}`);
}
