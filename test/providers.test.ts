// Execution providers: `npm install` leaves out onnxruntime-node's CUDA download (package.json
// allowScripts), `minimind install-cuda` forces it, and `--device cuda`
// without it fails first, in one line, naming that command.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { installCudaSpawn } from '../src/cli/install-cuda.js';
import { cudaProviderInstalled, INSTALL_CUDA, ortPackageDir, platform } from '../src/runtime/providers.js';
import { cli, isCleanError, ROOT, tmpDir } from './helpers.js';

const expectError = (r: ReturnType<typeof cli>, re: RegExp) => { const why = isCleanError(r, re); assert.equal(why, null, why ?? ''); };
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What onnxruntime-node's own install script makes of its flags under this environment. */
function ortInstallFlag(env: NodeJS.ProcessEnv): unknown {
  const utils = path.join(ortPackageDir(), 'script', 'install-utils.js');
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(utils)}).parseInstallFlag() ?? null))`], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** The environment npm gives scripts in this project (npm exec, npx, lifecycle scripts), with the project's .npmrc. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, npm_config_local_prefix: ROOT, npm_package_json: path.join(ROOT, 'package.json') };
  for (const line of fs.readFileSync(path.join(ROOT, '.npmrc'), 'utf8').split('\n')) {
    const m = /^\s*([\w-]+)\s*=\s*(\S*)/.exec(line);
    if (m) env[`npm_config_${m[1].replace(/-/g, '_')}`] = m[2];
  }
  return env;
}

test('npm install skips the CUDA download: package.json denies the script (npm >= 11.16), and .npmrc has no key npm warns about', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.allowScripts?.['onnxruntime-node'], false);
  // npm 11 warns "Unknown project config" (on every npx minimind too) for keys it does not know
  const npm = spawnSync('npm', ['config', 'get', 'fund'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(npm.status, 0, npm.stderr);
  assert.doesNotMatch(npm.stderr, /warn/i);
});

test('install-cuda forces the download despite the project .npmrc, also when run by npx', () => {
  const s = installCudaSpawn(npmEnv());
  assert.equal(s.env.npm_config_onnxruntime_node_install, undefined);
  assert.equal(ortInstallFlag(s.env), true, 'the script must see a forced install (on Linux x64: the cuda12 manifest)');
  assert.ok(fs.existsSync(s.args[0]), s.args[0]);
});

test('--device cuda without the provider fails before any work, naming the install command', { skip: cudaProviderInstalled() && 'the CUDA provider is installed here' }, () => {
  const missing = path.join(tmpDir(), 'missing');
  const want = platform() === 'linux/x64'
    ? new RegExp(`^error: --device cuda: the CUDA execution provider is not installed; install it with \`${escape(INSTALL_CUDA)}\``)
    : /^error: --device cuda: onnxruntime-node has a CUDA execution provider for Linux x64 only/;
  // the model directory and the data file are missing too: the device is checked first
  for (const r of [cli(['eval-pretrain', '--load_from', missing, '--device', 'cuda']), cli(['pretrain', '--data_path', missing, '--device', 'cuda'])]) {
    expectError(r, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
