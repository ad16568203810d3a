// `install-cuda --from`: the CUDA execution provider from files on this machine (an installed
// onnxruntime-gpu, an unpacked NuGet package, a folder), version-checked, and what the GPU
// still needs said by name. The provider files here are stand-ins (no GPU in CI).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { CUDA_PROVIDER_FILES, explainMissing, findLocalProvider, installLocalProvider, missingLibraries, ortNodeVersion } from '../src/runtime/cuda-provider.js';
import { ortBinDir } from '../src/runtime/providers.js';
import { UserError } from '../src/util/errors.js';
import { cli, isCleanError, tmpDir } from './helpers.js';

const version = ortNodeVersion();

/** A folder with the provider files (their bytes: `cuda` for the CUDA one). */
function providerDir(dir: string, cuda = 'stand-in'): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, CUDA_PROVIDER_FILES[0]), 'shared');
  fs.writeFileSync(path.join(dir, CUDA_PROVIDER_FILES[1]), cuda);
  return dir;
}

/** site-packages with onnxruntime-gpu of this version installed. */
function gpuWheel(v: string): string {
  const site = tmpDir();
  const capi = providerDir(path.join(site, 'onnxruntime', 'capi'));
  fs.writeFileSync(path.join(capi, 'onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so'), '');
  fs.writeFileSync(path.join(capi, 'build_and_package_info.py'), `package_name = 'onnxruntime-gpu'\n__version__ = '${v}'\ncuda_version = '12.8'\ncudnn_version = '9.8'\n`);
  return site;
}

test('an installed onnxruntime-gpu is found from its capi/ folder, its package folder or site-packages, with its versions', () => {
  const site = gpuWheel(version);
  for (const given of [path.join(site, 'onnxruntime', 'capi'), path.join(site, 'onnxruntime'), site, path.join(site, 'onnxruntime', 'capi', CUDA_PROVIDER_FILES[1])]) {
    const p = findLocalProvider(given);
    assert.equal(p.dir, path.join(site, 'onnxruntime', 'capi'), given);
    assert.equal(p.version, version);
    assert.deepEqual(p.built, { cuda: '12.8', cudnn: '9.8' });
  }
  const dest = tmpDir();
  const copied = installLocalProvider(findLocalProvider(site), dest);
  assert.deepEqual(copied, CUDA_PROVIDER_FILES.map((f) => path.join(dest, f)));
  assert.equal(fs.readFileSync(copied[1], 'utf8'), 'stand-in');
  assert.deepEqual(fs.readdirSync(dest).sort(), [...CUDA_PROVIDER_FILES].sort(), 'no temporary file left behind');
});

test('another ONNX Runtime version is refused, naming both and the pip command', () => {
  const p = findLocalProvider(gpuWheel('1.22.0'));
  assert.throws(() => installLocalProvider(p, tmpDir()), (e: Error) => e instanceof UserError
    && e.message.includes('ONNX Runtime 1.22.0') && e.message.includes(`onnxruntime-node here is ${version}`) && e.message.includes(`onnxruntime-gpu==${version}`));
});

test('the version is read from an unpacked NuGet package\'s folder name, or from the library\'s own strings', () => {
  const nuget = providerDir(path.join(tmpDir(), `microsoft.ml.onnxruntime.gpu.linux.${version}`, 'runtimes', 'linux-x64', 'native'));
  assert.equal(findLocalProvider(path.dirname(path.dirname(path.dirname(nuget)))).version, version);
  const bare = providerDir(path.join(tmpDir(), 'lib'), `....\0${version}\0....`);
  assert.equal(findLocalProvider(bare).version, version);
  assert.equal(findLocalProvider(providerDir(path.join(tmpDir(), 'lib'))).version, null, 'unknown when nothing says');
});

test('the CPU package, or a folder without the provider, gets a message that says what is missing', () => {
  const site = tmpDir(), capi = path.join(site, 'onnxruntime', 'capi');
  fs.mkdirSync(capi, { recursive: true });
  fs.writeFileSync(path.join(capi, CUDA_PROVIDER_FILES[0]), '');
  fs.writeFileSync(path.join(capi, 'onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so'), '');
  assert.throws(() => findLocalProvider(site), /no libonnxruntime_providers_cuda\.so in .*capi \(this is the CPU package onnxruntime; the CUDA provider comes with onnxruntime-gpu\)/);
  assert.throws(() => findLocalProvider(tmpDir()), /no libonnxruntime_providers_shared\.so and libonnxruntime_providers_cuda\.so in/);
});

test('missing CUDA libraries are named with what provides them, and the wheels that have them', () => {
  assert.deepEqual(missingLibraries(path.join(ortBinDir(), 'libonnxruntime.so.1')), [], 'ONNX Runtime\'s own library loads here');
  const wheels = tmpDir(), cudnn = path.join(wheels, 'nvidia', 'cudnn', 'lib');
  fs.mkdirSync(cudnn, { recursive: true });
  fs.writeFileSync(path.join(cudnn, 'libcudnn.so.9'), '');
  const msg = explainMissing(['libcudnn.so.9', 'libcublasLt.so.12', 'libcudart.so.12'], [cudnn]);
  assert.match(msg, /cannot find libcudnn\.so\.9, libcublasLt\.so\.12, libcudart\.so\.12: install cuDNN 9 .*; cuBLAS for CUDA 12 .*; the CUDA 12 runtime/);
  assert.match(msg, new RegExp(`export LD_LIBRARY_PATH=${cudnn}:\\$LD_LIBRARY_PATH`));
});

test('the CLI: --from a path that does not exist, and --device cuda without a provider, each say what to do in one line', () => {
  const r = cli(['install-cuda', '--from', '/nonexistent/onnxruntime']);
  const err = isCleanError(r, /--from \/nonexistent\/onnxruntime does not exist/);
  assert.equal(err, null, err ?? '');
  if (!fs.existsSync(path.join(ortBinDir(), CUDA_PROVIDER_FILES[1]))) {
    const e = isCleanError(cli(['bench', 'train', '--device', 'cuda', '--preset', 'tiny']), /install-cuda --from <folder>/);
    assert.equal(e, null, e ?? '');
  }
});
