// A CUDA execution provider from files already on this machine, for machines that cannot
// reach NuGet (which onnxruntime-node's own install script downloads from): the provider
// libraries from a directory, one of its files, or the `capi/` folder of an installed
// `onnxruntime-gpu` Python package (or that package's folder, or a site-packages folder
// holding it). The provider must be the ONNX Runtime version onnxruntime-node was built as:
// the binding loads it through ORT's provider bridge, which has no stable interface.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { sitePackages } from '../util/site-packages.js';
import { ortBinDir, ortPackageDir } from './providers.js';

/** The files the binding loads for --device cuda, next to libonnxruntime. */
export const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;

export interface LocalCudaProvider {
  /** folder holding both provider files */
  dir: string;
  /** the provider's ONNX Runtime version where it says (Python package metadata, a NuGet folder name, the library's own strings) */
  version: string | null;
  /** where the version was read */
  versionFrom: string | null;
  /** CUDA / cuDNN versions an onnxruntime-gpu package was built for, where it says */
  built?: { cuda?: string; cudnn?: string };
}

/** onnxruntime-node's version: the provider must be this one. */
export function ortNodeVersion(): string {
  return (createRequire(import.meta.url)(path.join(ortPackageDir(), 'package.json')) as { version: string }).version;
}

/** Find the provider files from what the user gave: a file, a folder, capi/, an onnxruntime package folder or site-packages. */
export function findLocalProvider(given: string): LocalCudaProvider {
  if (!fs.existsSync(given)) throw new UserError(`--from ${given} does not exist`);
  const start = fs.statSync(given).isDirectory() ? given : path.dirname(given);
  const tries = [start, path.join(start, 'capi'), path.join(start, 'onnxruntime', 'capi'), path.join(start, 'runtimes', 'linux-x64', 'native')];
  const dir = tries.find((d) => CUDA_PROVIDER_FILES.every((f) => fs.existsSync(path.join(d, f))));
  if (!dir) {
    const near = tries.find((d) => fs.existsSync(d) && CUDA_PROVIDER_FILES.some((f) => fs.existsSync(path.join(d, f)))) ?? start;
    const missing = CUDA_PROVIDER_FILES.filter((f) => !fs.existsSync(path.join(near, f)));
    // the CPU wheel's capi/ has the Python binding and the shared bridge, but no CUDA provider
    const cpuWheel = fs.readdirSync(near).some((f) => f.startsWith('onnxruntime_pybind11_state'));
    throw new UserError(`--from ${given}: no ${missing.join(' and ')} in ${near}${cpuWheel ? ' (this is the CPU package onnxruntime; the CUDA provider comes with onnxruntime-gpu)' : ''}`);
  }
  return { dir, ...versionOf(dir) };
}

function versionOf(dir: string): Pick<LocalCudaProvider, 'version' | 'versionFrom' | 'built'> {
  // an installed Python package: capi/build_and_package_info.py
  const info = path.join(dir, 'build_and_package_info.py');
  if (fs.existsSync(info)) {
    const text = fs.readFileSync(info, 'utf8');
    const field = (k: string) => new RegExp(`^${k}\\s*=\\s*['"]([^'"]+)['"]`, 'm').exec(text)?.[1];
    return { version: field('__version__') ?? null, versionFrom: info, built: { cuda: field('cuda_version'), cudnn: field('cudnn_version') } };
  }
  // an unpacked NuGet package: Microsoft.ML.OnnxRuntime.Gpu.Linux.1.30.0/runtimes/linux-x64/native
  const nuget = /OnnxRuntime[.\w]*?\.(\d+\.\d+\.\d+)(?=[/\\])/i.exec(dir + path.sep);
  if (nuget) return { version: nuget[1], versionFrom: dir };
  // the library itself: ORT embeds its version as a string
  const lib = path.join(dir, 'libonnxruntime_providers_cuda.so');
  const wanted = ortNodeVersion();
  if (fs.readFileSync(lib).includes(Buffer.from(`\0${wanted}\0`))) return { version: wanted, versionFrom: lib };
  return { version: null, versionFrom: null };
}

/** What the dynamic loader cannot find for the CUDA provider, by `ldd` (empty when all found or ldd is absent). */
export function missingLibraries(lib: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const r = spawnSync('ldd', [lib], { encoding: 'utf8', env, timeout: 20_000 });
  if (r.status !== 0 || r.error) return [];
  return r.stdout.split('\n').map((l) => /^\s*(\S+) => not found/.exec(l)?.[1]).filter((x): x is string => !!x);
}

/** What each library the CUDA provider needs comes with, for the message. */
const COMES_WITH: [RegExp, string][] = [
  [/^libcudnn/, 'cuDNN 9 (pip install nvidia-cudnn-cu12, or NVIDIA\'s cudnn9-cuda-12 package)'],
  [/^libcudart\.so\.12/, 'the CUDA 12 runtime (pip install nvidia-cuda-runtime-cu12, or the CUDA 12 toolkit)'],
  [/^libcublas/, 'cuBLAS for CUDA 12 (pip install nvidia-cublas-cu12)'],
  [/^libcufft/, 'cuFFT for CUDA 12 (pip install nvidia-cufft-cu12)'],
  [/^libcurand/, 'cuRAND for CUDA 12 (pip install nvidia-curand-cu12)'],
  [/^libnvrtc/, 'NVRTC for CUDA 12 (pip install nvidia-cuda-nvrtc-cu12)'],
  [/^libcuda\.so/, 'the NVIDIA driver'],
];

/** Folders of Python's nvidia-* wheels that hold libraries (what LD_LIBRARY_PATH would need). */
export function nvidiaWheelLibDirs(sites: () => string[] = sitePackages): string[] {
  const out: string[] = [];
  for (const site of sites()) {
    const base = path.join(site, 'nvidia');
    let names: string[] = [];
    try { names = fs.readdirSync(base); } catch { continue; }
    for (const n of names) if (fs.existsSync(path.join(base, n, 'lib'))) out.push(path.join(base, n, 'lib'));
  }
  return out;
}

/** One sentence naming the missing libraries, what provides each, and the LD_LIBRARY_PATH that would find those in Python's wheels. */
export function explainMissing(missing: string[], wheelDirs: string[] = nvidiaWheelLibDirs()): string {
  const why = [...new Set(missing.map((m) => COMES_WITH.find(([re]) => re.test(m))?.[1] ?? m))];
  const found = wheelDirs.filter((d) => missing.some((m) => fs.existsSync(path.join(d, m))));
  return `the CUDA provider cannot find ${missing.join(', ')}: install ${why.join('; ')}`
    + (found.length ? `; Python's nvidia wheels have some of them: export LD_LIBRARY_PATH=${[...found, '$LD_LIBRARY_PATH'].join(':')}` : '');
}

/** Check the version, then copy the provider files next to onnxruntime-node's library (each through a temporary name). */
export function installLocalProvider(p: LocalCudaProvider, dest = ortBinDir()): string[] {
  const wanted = ortNodeVersion();
  if (p.version && p.version !== wanted) {
    throw new UserError(`the CUDA provider in ${p.dir} is ONNX Runtime ${p.version} (${p.versionFrom}); onnxruntime-node here is ${wanted}, and loads only a provider of its own version (pip install onnxruntime-gpu==${wanted})`);
  }
  const copied: string[] = [];
  for (const f of CUDA_PROVIDER_FILES) {
    const to = path.join(dest, f), tmp = `${to}.tmp-${process.pid}`;
    fs.copyFileSync(path.join(p.dir, f), tmp);
    fs.renameSync(tmp, to);
    copied.push(to);
  }
  return copied;
}
