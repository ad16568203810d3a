// ONNX Runtime sessions over our graphs: execution providers with a clear error when one
// cannot start, and `auto`, which tries the accelerators in order and falls back to the CPU.
import path from 'node:path';
import ort from 'onnxruntime-node';
import { Graph } from '../graph/graph.js';
import { toOnnx } from '../graph/onnx.js';
import { checkProviderOps, missingKernels } from './op-support.js';
import { explainMissing, missingLibraries } from './cuda-provider.js';
import { INSTALL_CUDA, ortBinDir, ProviderError } from './providers.js';

export { ProviderError };

export type Provider = 'cpu' | 'cuda' | 'webgpu' | 'auto';
export const PROVIDERS: Provider[] = ['auto', 'cpu', 'cuda', 'webgpu'];


// Provider failures are reported by us, in one line; ORT's own logger would print them too.
ort.env.logLevel = 'fatal';

/** what `auto` settled on in this process (later sessions skip the failed tries) */
let autoChoice: Exclude<Provider, 'auto'> | null = null;

const HOW_TO_GET: Record<string, string> = {
  cuda: `the CUDA execution provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9, and its files, installed by \`${INSTALL_CUDA}\` (or \`${INSTALL_CUDA} --from <folder>\` from an installed onnxruntime-gpu)`,
  webgpu: 'the WebGPU execution provider needs a GPU with a working Vulkan driver',
};

export interface SessionOptions {
  provider?: Provider;
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** print the fallback notice of `auto` (default true) */
  quiet?: boolean;
  /** ORT's per-op profiler writes a JSON trace with this prefix */
  profilePrefix?: string;
  /** ORT's CPU memory arena: faster allocation, but it grows and never shrinks (default off;
   * training sessions turn it on: their shapes repeat every step, see TrainSession.create) */
  memArena?: boolean;
  /** ORT's memory pattern: one pre-planned block per input shape (default off: it allocates
   * the plan's whole peak at once and costs memory and page faults for training graphs) */
  memPattern?: boolean;
  /** graph optimizers to turn off (by ORT name) */
  disabledOptimizers?: string[];
  /** outputs a GPU provider keeps in device memory (`gpu-buffer`), to feed back as inputs */
  deviceOutputs?: string[];
}

export interface Session {
  ort: ort.InferenceSession;
  provider: Exclude<Provider, 'auto'>;
  /**
   * fetches: outputs written into the given tensors (on the CPU in place); others are allocated.
   * onnxruntime-node (1.30) still returns every output as a fresh copy as well, a given one too.
   */
  run(feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/** ORT's options for a session of ours on this provider (also used by the placement check, runtime/placement.ts). */
export function ortSessionOptions(provider: Exclude<Provider, 'auto'>, o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: o.threads ?? 0,
    interOpNumThreads: 1,
    graphOptimizationLevel: o.optimization ?? 'all',
    ...(provider === 'webgpu' && o.deviceOutputs?.length ? { preferredOutputLocation: Object.fromEntries(o.deviceOutputs.map((n) => [n, 'gpu-buffer' as const])) } : {}),
    logSeverityLevel: 3,
    enableCpuMemArena: o.memArena ?? false,
    enableMemPattern: o.memPattern ?? false,
    enableProfiling: !!o.profilePrefix,
    profileFilePrefix: o.profilePrefix,
    // Our backward passes recompute some forward values on purpose (attention
    // probabilities) to save memory; common-subexpression elimination would undo that.
    extra: { optimization: { disable_specified_optimizers: ['CommonSubexpressionElimination', ...(o.disabledOptimizers ?? [])].join(',') } },
  };
}

/** Options that depend on the graph: ORT fuses x*sigmoid(x) into QuickGelu, which only has a float32 kernel. */
export function optionsForGraph(graph: Graph | Uint8Array, o: SessionOptions): SessionOptions {
  return !(graph instanceof Uint8Array) && graph.floatType === 'float64' ? { ...o, disabledOptimizers: [...(o.disabledOptimizers ?? []), 'QuickGeluFusion'] } : o;
}

async function create(bytes: Uint8Array, provider: Exclude<Provider, 'auto'>, o: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, ortSessionOptions(provider, o));
}

/**
 * The provider sessions of `wanted` will run on, for graphs that are built differently per
 * provider (MoE dispatch): `auto` tries the accelerators once, on a one-op graph.
 */
export async function resolveProvider(wanted: Provider = 'cpu'): Promise<Exclude<Provider, 'auto'>> {
  if (wanted !== 'auto') return wanted;
  if (!autoChoice) {
    const g = new Graph();
    g.output(g.add(g.input('x', 'float32', [1]), 1), 'y');
    const probe = toOnnx(g);
    for (const p of ['cuda', 'webgpu'] as const) {
      try { await (await create(probe, p, {})).release(); autoChoice = p; break; } catch { /* not here: the next */ }
    }
    autoChoice ??= 'cpu';
  }
  return autoChoice;
}

const usesFloat16 = (g: Graph) => g.matmulType === 'float16' || g.nodes.some((n) => n.outputs.some((t) => t.dtype === 'float16'));

let f16Probe: Promise<boolean> | null = null;

/** Whether the WebGPU adapter runs float16 kernels: ORT fails only when such a kernel first runs, so one is run once. */
function webgpuHasFloat16(): Promise<boolean> {
  f16Probe ??= (async () => {
    const g = new Graph();
    g.output(g.cast(g.cast(g.input('x', 'float32', [1]), 'float16'), 'float32'), 'y');
    try {
      const s = await ort.InferenceSession.create(toOnnx(g), { ...ortSessionOptions('webgpu', {}), logSeverityLevel: 4 });
      try { await s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) }); return true; } finally { await s.release(); }
    } catch { return false; }
  })();
  return f16Probe;
}

export async function createSession(graph: Graph | Uint8Array, o: SessionOptions = {}): Promise<Session> {
  const bytes = graph instanceof Uint8Array ? graph : toOnnx(graph);
  o = optionsForGraph(graph, o);
  const wanted = o.provider ?? 'cpu';
  // a cached accelerator may lack a kernel this graph needs: then the CPU is next
  const order: Exclude<Provider, 'auto'>[] = wanted === 'auto' ? (autoChoice ? [...new Set([autoChoice, 'cpu' as const])] : ['cuda', 'webgpu', 'cpu']) : [wanted];
  const failures: string[] = [];
  for (const p of order) {
    // checked before ORT is asked: it would silently run such nodes on the CPU. The table is
    // read from ORT's sources and checked against the runtime's placement by the WebGPU tests;
    // MINIMIND_GPU_OP_CHECK=0 lets ORT place such nodes on the CPU, to measure what that costs
    const missing = graph instanceof Uint8Array || process.env.MINIMIND_GPU_OP_CHECK === '0' ? [] : missingKernels(graph, p);
    if (missing.length) {
      if (wanted !== 'auto') checkProviderOps(graph as Graph, p);
      failures.push(`${p}: no kernel for ${missing.map((m) => m.split(' in ')[0]).join(', ')}`);
      continue;
    }
    if (p === 'webgpu' && graph instanceof Graph && usesFloat16(graph) && !(await webgpuHasFloat16())) {
      const why = 'this WebGPU adapter has no 16-bit float shaders (the shader-f16 feature; SwiftShader, for one, lacks it)';
      if (wanted !== 'auto') throw new ProviderError(`float16 on --device webgpu: ${why}; use --dtype float32, or --device cuda`);
      failures.push(`webgpu: ${why}`);
      continue;
    }
    try {
      const s = await create(bytes, p, o);
      if (wanted === 'auto' && p === 'cpu' && failures.length && !o.quiet) {
        console.error(`note: no accelerator available (${failures.join('; ')}); running on the CPU`);
      }
      if (wanted === 'auto' && !(autoChoice && p === 'cpu' && failures.length)) autoChoice = p;
      const run = (feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>) => (fetches ? s.run(feeds, fetches) : s.run(feeds));
      // a kernel failing on a GPU is the device's problem, said in one line; on the CPU it is a bug of ours
      const guarded = p === 'cpu' ? run : (feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>) => run(feeds, fetches).catch((e: Error) => {
        throw new ProviderError(`execution provider "${p}" failed while running the graph: ${e.message.split('\n')[0].replace(/^Non-zero status code returned while running /, '')}`);
      });
      return { ort: s, provider: p, run: guarded, release: () => s.release() };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      if (wanted !== 'auto') {
        if (p === 'cpu') throw e;
        // ORT's message starts with its source location and the failed condition
        const missing = p === 'cuda' ? missingLibraries(path.join(ortBinDir(), 'libonnxruntime_providers_cuda.so')) : [];
        const how = missing.length ? `${explainMissing(missing)}.` : HOW_TO_GET[p] ?? '';
        throw new ProviderError(`execution provider "${p}" could not start: ${msg.replace(/^.*? was false\. /, '').replace(/\.?$/, '.')} ${how}`.trim());
      }
      failures.push(`${p}: ${/shared library/i.test(msg) ? (p === 'cuda' ? `provider not installed (${INSTALL_CUDA})` : 'provider not installed') : /adapter/i.test(msg) ? 'no GPU adapter (needs a Vulkan driver)' : msg.slice(0, 80)}`);
    }
  }
  throw new ProviderError(`no execution provider could start: ${failures.join('; ')}`);
}

export { ort };
