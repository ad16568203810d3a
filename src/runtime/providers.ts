// Where onnxruntime-node keeps the CUDA execution provider, whether it is there, and how to
// get it. The npm package ships the CPU (and WebGPU) binaries; the CUDA ones (~400 MB) come
// from NuGet through the package's own install script, which "allowScripts" in package.json
// denies so that `npm install` needs only the npm registry. `minimind install-cuda` runs it on
// demand, or copies the provider from this machine (--from, runtime/cuda-provider.ts).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/** An execution provider that cannot start, or cannot run a graph (a user-facing error: one line, no stack). */
export class ProviderError extends Error {}

/** The one command a GPU user runs to get the CUDA execution provider. */
export const INSTALL_CUDA = 'npx minimind install-cuda';

/** onnxruntime-node publishes CUDA provider files only for this platform. */
const CUDA_PLATFORM = 'linux/x64';
const CUDA_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

export const platform = () => `${os.platform()}/${os.arch()}`;

/** onnxruntime-node's package directory. */
export function ortPackageDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
}

/** The folder the native binding loads providers from, for this platform. */
export function ortBinDir(): string {
  return path.join(ortPackageDir(), 'bin', 'napi-v6', platform());
}

export function cudaProviderInstalled(): boolean {
  return platform() === CUDA_PLATFORM && CUDA_FILES.every((f) => fs.existsSync(path.join(ortBinDir(), f)));
}

/** Fail before any work when `--device cuda` cannot possibly start. */
export function checkDevice(device: unknown): void {
  if (device !== 'cuda' || cudaProviderInstalled()) return;
  if (platform() !== CUDA_PLATFORM) {
    throw new UserError(`--device cuda: onnxruntime-node has a CUDA execution provider for Linux x64 only (this is ${platform()}); use --device cpu or webgpu`);
  }
  throw new UserError(`--device cuda: the CUDA execution provider is not installed; install it with \`${INSTALL_CUDA}\` (from NuGet), or \`${INSTALL_CUDA} --from <folder>\` from an installed onnxruntime-gpu (needs an NVIDIA GPU with CUDA 12 and cuDNN 9)`);
}
