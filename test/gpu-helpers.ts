// The GPU test tier: the same checks for each GPU execution provider that starts here. WebGPU
// starts on a machine without a GPU through SwiftShader, Google's CPU Vulkan driver, which
// Debian's chromium package ships (/usr/lib/chromium/libvk_swiftshader.so) and which ONNX
// Runtime's WebGPU provider (Dawn on Vulkan) accepts; the Vulkan loader is Debian's libvulkan1.
// CUDA starts where its provider is installed (`minimind install-cuda`) on an NVIDIA GPU.
// SwiftShader is a correctness check, not a speed check: no timing is asserted.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type GpuProvider = 'webgpu' | 'cuda';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Point Vulkan at SwiftShader when no driver was chosen (set before the first WebGPU session; children inherit it). */
function useSwiftShader(): void {
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES || !fs.existsSync(SWIFTSHADER_ICD)) return;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  process.env.XDG_RUNTIME_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-xdg-'));
}

// a one-op session on the provider, run once, in a child: a native failure must not end the test process
const probeScript = (provider: GpuProvider) => `
import { Graph } from '../src/graph/graph.js';
import { createSession, ort } from '../src/runtime/session.js';
const g = new Graph(); g.output(g.add(g.input('x', 'float32', [1]), 1), 'y');
try {
  const s = await createSession(g, { provider: '${provider}' });
  const y = await s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
  if (y.y.data[0] !== 2) throw new Error('a session computed 1 + 1 = ' + y.y.data[0]);
  await s.release();
} catch (e) { console.error(e.message); process.exit(1); }`;

/** Why the provider's tier cannot run here, or null when it starts. */
function probe(provider: GpuProvider): string | null {
  if (provider === 'webgpu') useSwiftShader();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probeScript(provider)], { cwd: path.dirname(new URL(import.meta.url).pathname), encoding: 'utf8', env: process.env, timeout: 120_000 });
  if (r.status === 0) return null;
  const why = (r.stdout + r.stderr).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status ?? r.signal}`;
  const hint = provider === 'webgpu' && !fs.existsSync(SWIFTSHADER_ICD) ? ' (for SwiftShader: apt-get install chromium libvulkan1)' : '';
  return `${provider} tier skipped: ${provider} does not start here: ${why}${hint}`;
}

/** The tiers: each GPU provider with null (run) or the reason its tests skip. */
export const GPU_TIERS: { provider: GpuProvider; skip: string | null }[] = (['webgpu', 'cuda'] as const).map((provider) => ({ provider, skip: probe(provider) }));
for (const t of GPU_TIERS) if (t.skip) process.stderr.write(`${t.skip}\n`);

/** ONNX Runtime's name for the provider in its placement log. */
export const EP_NAME: Record<GpuProvider, string> = { webgpu: 'WebGpuExecutionProvider', cuda: 'CUDAExecutionProvider' };
