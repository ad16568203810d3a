// Where the NCCL backend finds libnccl.so.2 and the CUDA runtime: an explicit path from the
// environment, the dynamic loader's own search (sonames), then the libraries that Python's
// nvidia-* wheels install (what a PyTorch setup already has).
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { sitePackages } from '../util/site-packages.js';

export interface LibSpec { what: string; envVar: string; soname: string; wheelPath: string; install: string }

export const NCCL: LibSpec = {
  what: 'NCCL', envVar: 'MINIMIND_NCCL_LIB', soname: 'libnccl.so.2', wheelPath: 'nvidia/nccl/lib/libnccl.so.2',
  install: 'pip install nvidia-nccl-cu12, or apt install libnccl2',
};
export const CUDART: LibSpec = {
  what: 'the CUDA runtime', envVar: 'MINIMIND_CUDART_LIB', soname: 'libcudart.so.12', wheelPath: 'nvidia/cuda_runtime/lib/libcudart.so.12',
  install: 'pip install nvidia-cuda-runtime-cu12, or install the CUDA 12 toolkit',
};

/** The paths to try, in order. An explicit environment path is the only candidate. */
export function libraryCandidates(spec: LibSpec, env: NodeJS.ProcessEnv, sites: () => string[]): string[] {
  const explicit = env[spec.envVar];
  if (explicit) return [explicit];
  return [spec.soname, ...sites().map((d) => path.join(d, spec.wheelPath)).filter((p) => fs.existsSync(p))];
}

/** Load the first candidate that opens; otherwise a UserError saying where it looked. */
export function loadLibrary<L>(spec: LibSpec, load: (p: string) => L, env: NodeJS.ProcessEnv = process.env, sites: () => string[] = sitePackages): { lib: L; path: string } {
  const tried: string[] = [];
  for (const p of libraryCandidates(spec, env, sites)) {
    try { return { lib: load(p), path: p }; } catch (e) { tried.push(`${p} (${(e as Error).message.replace(/^Failed to load shared library: /, '')})`); }
  }
  if (env[spec.envVar]) throw new UserError(`data parallel (nccl): cannot load ${spec.what} from ${spec.envVar}=${tried[0]}`);
  throw new UserError(`data parallel (nccl): cannot find ${spec.what}: tried ${tried.join(', ')} and ${spec.wheelPath} in Python's site-packages; ` +
    `${spec.install}, or set ${spec.envVar} to the library's path`);
}
