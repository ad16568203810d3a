// The other side of the integration tests (llama.cpp, transformers.js, the openai client,
// playwright-core for Chromium) is a package of its own, with its own lockfile, so that a
// clone's `npm install` stays small. `npm test` runs this first: it installs that package
// when its lockfile changed, and links each tool into the project's node_modules, where
// the tests import them by name.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const stamp = path.join(here, 'node_modules', '.minimind-installed');

if (!fs.existsSync(path.join(root, 'node_modules'))) {
  console.error('test/interop: run `npm install` in the project first');
  process.exit(1);
}

// what was installed: the lockfile's and package.json's digest
const digest = crypto.createHash('sha256');
for (const f of ['package.json', 'package-lock.json']) digest.update(fs.readFileSync(path.join(here, f)));
const want = digest.digest('hex');
if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== want) {
  console.log('test/interop: installing the integration tests\' tools (llama.cpp, transformers.js, openai, playwright-core)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit', shell: process.platform === 'win32' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  fs.writeFileSync(stamp, want);
}

for (const name of Object.keys(pkg.dependencies)) {
  const target = path.join(here, 'node_modules', name), link = path.join(root, 'node_modules', name);
  let st = null;
  try { st = fs.lstatSync(link); } catch { /* absent */ }
  if (st && !st.isSymbolicLink()) continue; // installed in the project itself: that one is used
  if (st && path.resolve(path.dirname(link), fs.readlinkSync(link)) === target) continue;
  if (st) fs.unlinkSync(link);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(path.relative(path.dirname(link), target), link, 'junction');
}
