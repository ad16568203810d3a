// The WebGPU test tier: it runs wherever a WebGPU adapter starts. On a machine without a GPU
// that is SwiftShader, Google's CPU Vulkan driver, which Debian's chromium package ships
// (/usr/lib/chromium/libvk_swiftshader.so) and which ONNX Runtime's WebGPU provider (Dawn on
// Vulkan) accepts; the Vulkan loader comes from Debian's libvulkan1. SwiftShader is a
// correctness check, not a speed check: no timing is asserted on it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Point Vulkan at SwiftShader when no driver was chosen (set before the first WebGPU session; children inherit it). */
function useSwiftShader(): void {
  if (process.env.VK_ICD_FILENAMES || !fs.existsSync(SWIFTSHADER_ICD)) return;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  process.env.XDG_RUNTIME_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'minimind-xdg-'));
}

/** Why the tier cannot run here, or null when a WebGPU adapter starts (probed in a child: a native failure must not end the test process). */
function probe(): string | null {
  useSwiftShader();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: path.dirname(new URL(import.meta.url).pathname), encoding: 'utf8', env: process.env, timeout: 60_000 });
  if (r.status === 0) return null;
  const why = (r.stdout + r.stderr).trim().split('\n').filter(Boolean).pop() ?? `exit ${r.status}`;
  const hint = fs.existsSync(SWIFTSHADER_ICD) ? '' : ` (for SwiftShader: apt-get install chromium libvulkan1)`;
  return `WebGPU tier skipped: no WebGPU adapter starts here: ${why}${hint}`;
}

// a one-op session on the WebGPU provider, run once
const PROBE = `
import { Graph } from '../src/graph/graph.js';
import { createSession, ort } from '../src/runtime/session.js';
const g = new Graph(); g.output(g.add(g.input('x', 'float32', [1]), 1), 'y');
try {
  const s = await createSession(g, { provider: 'webgpu' });
  const y = await s.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
  if (y.y.data[0] !== 2) throw new Error('a WebGPU session computed 1 + 1 = ' + y.y.data[0]);
  await s.release();
} catch (e) { console.error(e.message); process.exit(1); }`;

/** null: run the WebGPU tests; else the reason they skip. */
export const WEBGPU_SKIP: string | null = probe();
if (WEBGPU_SKIP) process.stderr.write(`${WEBGPU_SKIP}\n`);
