#!/usr/bin/env bash
# Build .device/ (git-ignored), everything scripts/device/run.sh needs on the lent GPU machine,
# which has no Node.js and no network: this machine's node binary and our dist/ with its
# runtime node_modules (Linux x64 binaries only) in one tar.xz, the PyTorch reference from
# ../shared/bench (never committed, so it travels in the ignored bundle), and the Vulkan/EGL
# loader .debs that WebGPU needs there. Run from a clone after `npm ci` and
# `npx tsc -p tsconfig.json`. Pass it to the device run with carry [".device"].
# Environment: SKIP_GL=1 skips the .deb download (no apt here); XZ_LEVEL (default 6).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=$root/.device
baseline=${TORCH_BASELINE:-$root/../shared/bench/torch_baseline.py}

die() { echo "bundle.sh: $*" >&2; exit 1; }
[ -f dist/bin/minimind.js ] || die "no dist/: run npx tsc -p tsconfig.json first"
stale=$(find src bin -name '*.ts' -newer dist/bin/minimind.js | head -n 3)
[ -z "$stale" ] || die "dist/ is older than $(echo $stale): run npx tsc -p tsconfig.json again"
[ -d node_modules/onnxruntime-node ] || die "no node_modules/: run npm ci --ignore-scripts first"
[ "$(uname -m)" = x86_64 ] || die "the device machine is x86-64; bundle on an x86-64 machine (this is $(uname -m))"
node=$(node -p process.execPath)
# The binary must run without this machine's shared libraries (a distro node links libnode.so).
if ldd "$node" | grep -qE 'libnode|libuv|libssl|libicu'; then die "$node links system libraries ($(ldd "$node" | grep -oE 'lib(node|uv|ssl|icu)[^ ]*' | tr '\n' ' ')); use an official or NodeSource build"; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/mm/bin" "$stage/mm/app"
cp "$node" "$stage/mm/bin/node"

# The app: package.json (ESM "type") and the compiled sources; the tests stay behind.
app=$stage/mm/app
cp package.json "$app/"
mkdir -p "$app/dist" && cp -r dist/bin dist/src "$app/dist/"
[ -d dist/scripts ] && cp -r dist/scripts "$app/dist/"
mkdir -p "$app/scripts" && cp -r scripts/device "$app/scripts/"

# Runtime closure: npm's own tree of the production dependencies (what `npm ci --omit=dev`
# installs), less the type-only packages and what npm calls extraneous (the integration
# tests' tools that test/interop links into node_modules).
mapfile -t pkgs < <(npm ls --omit=dev --all --parseable --long 2>/dev/null | grep -v ':EXTRANEOUS' | cut -d: -f1 | sed "s|^$root/||" |
  grep '^node_modules/' | grep -vE '^node_modules/(@types/|undici-types$|typescript$)' | sort -u)
[ "${#pkgs[@]}" -gt 10 ] || die "npm ls found only ${#pkgs[@]} packages; is node_modules complete?"
# copy each package's files, not its nested node_modules (those are listed on their own)
for p in "${pkgs[@]}"; do
  mkdir -p "$app/$p"
  tar -C "$p" --exclude=./node_modules -cf - . | tar -C "$app/$p" -xf -
done
nm=$app/node_modules
# Prune what Linux x64 never loads: other platforms' native builds, sources, docs, CLIs.
find "$nm/onnxruntime-node/bin/napi-v6" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
find "$nm/onnxruntime-node/bin/napi-v6/linux" -mindepth 1 -maxdepth 1 ! -name x64 -exec rm -rf {} +
find "$nm/koffi/build/koffi" -mindepth 1 -maxdepth 1 ! -name linux_x64 -exec rm -rf {} +
rm -rf "$nm/koffi/src" "$nm/koffi/vendor" "$nm/koffi/doc" "$nm/protobufjs/cli" "$nm/onnxruntime-node/script"
find "$nm/tokenizers" -maxdepth 1 -name '*.node' ! -name 'tokenizers.linux-x64-gnu.node' -delete
find "$nm" -type f \( -name '*.md' -o -name '*.markdown' -o -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts' \) -delete
[ -f "$nm/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ] || die "onnxruntime-node has no linux/x64 binary"
[ -f "$nm/tokenizers/tokenizers.linux-x64-gnu.node" ] || die "tokenizers has no linux-x64-gnu binary"
ls "$nm/koffi/build/koffi/linux_x64/"*.node >/dev/null 2>&1 || die "koffi has no linux_x64 build"

# Prove the closure: the bundled node runs the CLI from a folder with no node_modules above it.
echo "checking the bundle: minimind bench train (tiny) with the bundled node..."
(cd "$app" && env -u NODE_PATH "$stage/mm/bin/node" dist/bin/minimind.js bench train --preset tiny --batch_size 1 --max_seq_len 32 \
  --warmup 0 --timed 1 --threads 1 --json) || die "the bundled CLI did not run (missing runtime package?)"

rm -rf "$out" && mkdir -p "$out"
echo "compressing (xz -${XZ_LEVEL:-6})..."
tar -C "$stage" -cf - mm | xz -T0 "-${XZ_LEVEL:-6}" > "$out/minimind.tar.xz"
if [ -f "$baseline" ]; then cp "$baseline" "$out/torch_baseline.py"; else echo "warning: no PyTorch reference at $baseline: torch_gpu.py will say so" >&2; fi

# Vulkan/EGL loaders, as /work/.library/device/README.md says: amd64 .debs, own apt lists.
if [ "${SKIP_GL:-0}" != 1 ]; then
  mkdir -p "$out/gl" /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  apt-get "${o[@]}" update -qq || die "apt-get update failed (SKIP_GL=1 bundles without the loaders)"
  (cd "$out/gl" && apt-get "${o[@]}" download -qq libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2) || die "apt-get download of the loaders failed"
fi

{
  echo "built $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+dirty')"
  echo "node $("$node" --version) ($node)"
  for p in onnxruntime-node tokenizers koffi yargs; do echo "$p $(node -p "require('./node_modules/$p/package.json').version")"; done
  (cd "$out" && find . -type f ! -name MANIFEST -print0 | sort -z | xargs -0 sha256sum)
} > "$out/MANIFEST"
cat "$out/MANIFEST"
du -ab "$out" | sort -n | tail -n 12 | awk '{printf "%8.1f MiB  %s\n", $1 / 1048576, $2}'
total=$(du -sb "$out" | cut -f1)
awk -v t="$total" -v o="$out" 'BEGIN { printf "bundle: %s, %.1f MiB (the working tree that travels is limited to 64 MiB)\n", o, t / 1048576 }'
[ "$total" -lt $((55 * 1048576)) ] || die "bundle over 55 MiB"
