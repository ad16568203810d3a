// `minimind install-cuda`: runs onnxruntime-node's own install script, forced, which
// downloads the CUDA execution provider (Microsoft.ML.OnnxRuntime.Gpu.Linux from
// api.nuget.org) next to the CPU binaries. `npm install` skips that script (see .npmrc).
// `--from` takes the provider from this machine instead (runtime/cuda-provider.ts).
import { spawn } from 'node:child_process';
import path from 'node:path';
import chalk from 'chalk';
import type { Argv } from 'yargs';
import { explainMissing, findLocalProvider, installLocalProvider, missingLibraries } from '../runtime/cuda-provider.js';
import { cudaProviderInstalled, ortBinDir, ortPackageDir, platform } from '../runtime/providers.js';
import { UserError } from '../util/errors.js';
import { Args, handler, rel } from './common.js';
import { commandInfo } from './command-info.js';

/** How to run the script. `ONNXRUNTIME_NODE_INSTALL=1` forces the download of every file
 * the package leaves out, which on Linux x64 is the cuda12 manifest; the script reads that
 * variable before npm's config (the project's `onnxruntime-node-install=skip`, which npm and
 * npx pass on). Not `=cuda12`: onnxruntime-node 1.30's flag parser drops named values, and the
 * script then exits quietly when npm's variables say it runs inside a project (as under npx). */
export function installCudaSpawn(base: NodeJS.ProcessEnv = process.env): { file: string; args: string[]; cwd: string; env: NodeJS.ProcessEnv } {
  const dir = ortPackageDir();
  const env: NodeJS.ProcessEnv = { ...base, ONNXRUNTIME_NODE_INSTALL: '1' };
  for (const k of ['npm_config_onnxruntime_node_install', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'npm_config_onnxruntime_node_install_cuda']) delete env[k];
  return { file: process.execPath, args: [path.join(dir, 'script', 'install.js')], cwd: dir, env };
}

export const installCudaCommand = {
  ...commandInfo('install-cuda'),
  builder: (y: Argv) => y
    .option('from', { type: 'string', describe: 'take the provider from here instead of NuGet: a folder or file with libonnxruntime_providers_cuda.so, or an installed onnxruntime-gpu (its capi/ folder, its package folder, or site-packages); it must be the same ONNX Runtime version' })
    .example('$0 install-cuda --from ~/.local/lib/python3.11/site-packages/onnxruntime/capi', 'the provider of `pip install onnxruntime-gpu==<onnxruntime-node\'s version>`'),
  handler: handler(async (a: Args) => {
    if (platform() !== 'linux/x64') throw new UserError(`onnxruntime-node has a CUDA execution provider for Linux x64 only (this is ${platform()})`);
    if (a.from) return installFrom(a.from as string);
    if (cudaProviderInstalled()) {
      process.stderr.write(`the CUDA execution provider is already installed in ${rel(ortBinDir())}\n`);
      return;
    }
    const s = installCudaSpawn();
    process.stderr.write(`installing the CUDA execution provider into ${rel(ortBinDir())}\n`);
    // The script's own failure is an unhandled rejection with a stack; keep its stderr and
    // report its error line instead.
    const child = spawn(s.file, s.args, { cwd: s.cwd, env: s.env, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const code = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('close', resolve); });
    if (code !== 0) {
      const why = err.split('\n').map((l) => l.trim()).find((l) => /^\w*Error\b/.test(l)) ?? err.trim().split('\n').pop() ?? `exit code ${code}`;
      throw new UserError(`installing the CUDA execution provider failed: ${why} (it downloads from api.nuget.org; a proxy can be set with GLOBAL_AGENT_HTTPS_PROXY, or take the files from an installed onnxruntime-gpu with --from)`);
    }
    process.stderr.write(err);
    if (!cudaProviderInstalled()) throw new UserError(`onnxruntime-node's install script ended without the CUDA provider files in ${rel(ortBinDir())}`);
    process.stderr.write(`${chalk.green('installed')}: the CUDA execution provider; use --device cuda (needs CUDA 12 and cuDNN 9)\n`);
  }),
};

/** Copy a provider found on this machine, then say what the GPU still needs (libraries the loader cannot find). */
function installFrom(given: string): void {
  const p = findLocalProvider(given);
  const [, cuda] = installLocalProvider(p);
  const built = [p.built?.cuda && `CUDA ${p.built.cuda}`, p.built?.cudnn && `cuDNN ${p.built.cudnn}`].filter(Boolean).join(', ');
  process.stderr.write(`${chalk.green('installed')}: the CUDA execution provider from ${rel(p.dir)} into ${rel(ortBinDir())}`
    + (p.version ? ` (ONNX Runtime ${p.version}${built ? `, built for ${built}` : ''})` : ' (its version could not be read: if --device cuda fails to load it, use the provider of onnxruntime-node\'s own version)') + '\n');
  const missing = missingLibraries(cuda);
  if (missing.length) process.stderr.write(`${chalk.yellow('note')}: ${explainMissing(missing)}\n`);
}
