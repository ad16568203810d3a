// ONNX Runtime sessions over our graphs: execution providers with a clear error when one
// cannot start, and `auto`, which tries the accelerators in order and falls back to the CPU.
import ort from 'onnxruntime-node';
import { Graph } from '../graph/graph.js';
import { toOnnx } from '../graph/onnx.js';
import { checkProviderOps, missingKernels } from './op-support.js';
import { INSTALL_CUDA } from './providers.js';

export type Provider = 'cpu' | 'cuda' | 'webgpu' | 'auto';
export const PROVIDERS: Provider[] = ['auto', 'cpu', 'cuda', 'webgpu'];

export class ProviderError extends Error {}

// Provider failures are reported by us, in one line; ORT's own logger would print them too.
ort.env.logLevel = 'fatal';

/** what `auto` settled on in this process (later sessions skip the failed tries) */
let autoChoice: Exclude<Provider, 'auto'> | null = null;

const HOW_TO_GET: Record<string, string> = {
  cuda: `the CUDA execution provider needs an NVIDIA GPU with CUDA 12 and cuDNN 9, and its files, installed by \`${INSTALL_CUDA}\``,
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

async function create(bytes: Uint8Array, provider: Exclude<Provider, 'auto'>, o: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
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
  });
}

export async function createSession(graph: Graph | Uint8Array, o: SessionOptions = {}): Promise<Session> {
  const bytes = graph instanceof Uint8Array ? graph : toOnnx(graph);
  // ORT fuses x*sigmoid(x) into QuickGelu, which only has a float32 kernel
  if (!(graph instanceof Uint8Array) && graph.floatType === 'float64') o = { ...o, disabledOptimizers: [...(o.disabledOptimizers ?? []), 'QuickGeluFusion'] };
  const wanted = o.provider ?? 'cpu';
  // a cached accelerator may lack a kernel this graph needs: then the CPU is next
  const order: Exclude<Provider, 'auto'>[] = wanted === 'auto' ? (autoChoice ? [...new Set([autoChoice, 'cpu' as const])] : ['cuda', 'webgpu', 'cpu']) : [wanted];
  const failures: string[] = [];
  for (const p of order) {
    // checked before ORT is asked: it would silently run such nodes on the CPU. The table is
    // read from ORT's sources, not probed: MINIMIND_GPU_OP_CHECK=0 lets ORT place such nodes
    // on the CPU, to measure what a GPU really does (scripts/device)
    const missing = graph instanceof Uint8Array || process.env.MINIMIND_GPU_OP_CHECK === '0' ? [] : missingKernels(graph, p);
    if (missing.length) {
      if (wanted !== 'auto') checkProviderOps(graph as Graph, p);
      failures.push(`${p}: no kernel for ${missing.map((m) => m.split(' in ')[0]).join(', ')}`);
      continue;
    }
    try {
      const s = await create(bytes, p, o);
      if (wanted === 'auto' && p === 'cpu' && failures.length && !o.quiet) {
        console.error(`note: no accelerator available (${failures.join('; ')}); running on the CPU`);
      }
      if (wanted === 'auto' && !(autoChoice && p === 'cpu' && failures.length)) autoChoice = p;
      return { ort: s, provider: p, run: (feeds, fetches) => (fetches ? s.run(feeds, fetches) : s.run(feeds)), release: () => s.release() };
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0];
      if (wanted !== 'auto') {
        if (p === 'cpu') throw e;
        // ORT's message starts with its source location and the failed condition
        throw new ProviderError(`execution provider "${p}" could not start: ${msg.replace(/^.*? was false\. /, '').replace(/\.?$/, '.')} ${HOW_TO_GET[p] ?? ''}`.trim());
      }
      failures.push(`${p}: ${/shared library/i.test(msg) ? (p === 'cuda' ? `provider not installed (${INSTALL_CUDA})` : 'provider not installed') : /adapter/i.test(msg) ? 'no GPU adapter (needs a Vulkan driver)' : msg.slice(0, 80)}`);
    }
  }
  throw new ProviderError(`no execution provider could start: ${failures.join('; ')}`);
}

export { ort };
