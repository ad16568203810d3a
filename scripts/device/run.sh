#!/usr/bin/env bash
# The GPU check the device `run` tool runs on a lent NVIDIA machine (no Node.js, no network):
#   run(command="bash scripts/device/run.sh", carry=[".device"], timeout_s=540)
# after scripts/device/bundle.sh built .device/ here. Unpacks node + dist + node_modules to
# /tmp/mm, installs the Vulkan/EGL loaders, prints the GPU, then runs each check under its own
# timeout (and all of them within RUN_BUDGET_S), logging everything to $OUT/log.txt and one
# JSON line per result to $OUT/results.jsonl (see scripts/device/README.md).
# Without a GPU (a local dry run: OUT=/tmp/devout bash scripts/device/run.sh) the loaders go to
# a scratch root instead of /, and the GPU checks record why they could not start.
# Environment: RUN_BUDGET_S (480), MM_DIR (/tmp/mm), CHECKS (all, in this order: step,placement,
# bench-webgpu-b4,torch,bench-webgpu-f16,bench-webgpu-v1,bench-webgpu-v1-f16,profile-webgpu,
# cuda-provider,bench-cuda-b4,bench-webgpu-b16,nccl,bench-cpu), plus the scripts' own knobs (STEP_*, TORCH_*, PLACE_*).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bundle=$repo/.device
OUT=${OUT:?set OUT to the folder whose files come back}
mkdir -p "$OUT"
log=$OUT/log.txt results=$OUT/results.jsonl
: >"$log"; : >"$results"
exec > >(tee -a "$log") 2>&1
budget=${RUN_BUDGET_S:-480} start=$SECONDS
mm=${MM_DIR:-/tmp/mm}
checks=",${CHECKS:-step,placement,bench-webgpu-b4,torch,bench-webgpu-f16,bench-webgpu-v1,bench-webgpu-v1-f16,profile-webgpu,cuda-provider,bench-cuda-b4,bench-webgpu-b16,nccl,bench-cpu},"
say() { echo "== $*"; }
note() { printf '{"run":"%s","rc":%s,"result":null,"error":"%s"}\n' "$1" "$2" "$3" >>"$results"; }

say "minimind device check, $(date -u +%FT%TZ), $(uname -srm), $(nproc) cpus, budget ${budget}s"
[ -f "$bundle/minimind.tar.xz" ] || { note setup 1 "no .device/minimind.tar.xz: run scripts/device/bundle.sh and carry .device"; say "no bundle"; exit 1; }
head -n 6 "$bundle/MANIFEST" 2>/dev/null

# -- unpack: node, dist, node_modules (xz if there is one, else Python's lzma)
rm -rf "$mm" && mkdir -p "$mm"
if command -v xz >/dev/null; then xz -dc "$bundle/minimind.tar.xz"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$bundle/minimind.tar.xz"; fi |
  tar -C "$mm" --strip-components=1 -xf - || { note setup 1 "cannot unpack the bundle"; exit 1; }
app=$mm/app
cp "$repo"/scripts/device/*.mjs "$app/scripts/device/" # this checkout's scripts over the bundled copies
export PATH=$mm/bin:$PATH
say "node $(node --version) at $(command -v node)"

# -- Vulkan/EGL loaders (WebGPU runs on Vulkan), as the device README says
gpu=0; command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && gpu=1
if ldconfig -p | grep -q 'libvulkan.so.1'; then
  say "libvulkan already installed"
elif ls "$bundle"/gl/*.deb >/dev/null 2>&1; then
  if [ "$gpu" = 1 ] || [ "${FORCE_GL_ROOT:-0}" = 1 ]; then
    for f in "$bundle"/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
    say "loaders unpacked to /"
  else # no GPU here: prove the debs unpack without touching this machine's /
    for f in "$bundle"/gl/*.deb; do dpkg -x "$f" "$mm/glroot"; done
    export LD_LIBRARY_PATH=$mm/glroot/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    say "no GPU: loaders unpacked to $mm/glroot (LD_LIBRARY_PATH)"
  fi
else
  say "no loader .debs in the bundle (built with SKIP_GL=1?)"
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && ! grep -ls nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$icd __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  say "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi

# -- CUDA libraries for the NCCL check: our lookup names libcudart.so.12; the image's torch is
# built for CUDA 13 (nvidia-* cu13 wheels), whose libcudart.so.13 has the same entry points.
pysites=$(python3 -c 'import site, sys; print("\n".join(site.getsitepackages()))' 2>/dev/null)
findlib() { # first existing file among the loader's cache, the Python wheels and the toolkit
  local name
  for name in "$@"; do
    ldconfig -p | awk -v n="$name" '$1 == n { print $NF; exit }' | grep . && return 0
    for d in $pysites; do find "$d/nvidia" -name "$name" 2>/dev/null | head -n 1 | grep . && return 0; done
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/lib/x86_64-linux-gnu; do
      [ -e "$d/$name" ] && { echo "$d/$name"; return 0; }
    done
  done
  return 1
}
[ -n "${MINIMIND_CUDART_LIB:-}" ] || { p=$(findlib libcudart.so.12 libcudart.so.13) && export MINIMIND_CUDART_LIB=$p; }
[ -n "${MINIMIND_NCCL_LIB:-}" ] || { p=$(findlib libnccl.so.2) && export MINIMIND_NCCL_LIB=$p; }
say "MINIMIND_CUDART_LIB=${MINIMIND_CUDART_LIB:-<not found>} MINIMIND_NCCL_LIB=${MINIMIND_NCCL_LIB:-<not found>}"

# -- what the machine is
if [ "$gpu" = 1 ]; then timeout 20 nvidia-smi; else say "no nvidia-smi / no GPU"; fi
if command -v vulkaninfo >/dev/null; then timeout 20 vulkaninfo --summary; else say "no vulkaninfo"; fi
ldconfig -p | grep -E 'libvulkan|libEGL\.|libcuda\.|libnccl|libcudart' || true
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>/dev/null
python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -n 1

# check NAME TIMEOUT_S COMMAND...: run in the app folder under min(TIMEOUT_S, budget left),
# output live into the log and into results.jsonl through record.mjs
check() {
  local name=$1 want=$2; shift 2
  case $checks in *",$name,"*|*",all,"*) ;; *) return 0 ;; esac
  local left=$((budget - (SECONDS - start))) t=$want
  [ "$left" -lt "$t" ] && t=$left
  if [ "$t" -lt 15 ]; then say "$name: skipped, ${left}s of the budget left"; note "$name" 124 "skipped: ${left}s of the run's budget left"; return 0; fi
  say "$name (timeout ${t}s): $*"
  local o=$mm/out.$name t0=$SECONDS
  (cd "$app" && timeout -k 10 "$t" "$@") 2>&1 | tee "$o"
  local rc=${PIPESTATUS[0]}
  say "$name: exit $rc after $((SECONDS - t0))s"
  node "$app/scripts/device/record.mjs" "$name" "$rc" "$((SECONDS - t0))" "$t" "$o" "$results" || note "$name" "$rc" "record.mjs failed"
}

bench() { echo node dist/bin/minimind.js bench train --preset minimind-v1-small --max_seq_len 512 --json "$@"; }
# correctness first (one step against the CPU, where each node runs), then the figures the
# README reports: WebGPU at v1-small and v1 in float32 and float16, PyTorch on the same card,
# ORT's profile of a WebGPU step; CUDA where an onnxruntime-gpu of ONNX Runtime's version is
# installed on the machine (no NuGet here); the rest as the budget allows
check step 110 node scripts/device/step-check.mjs
check placement 60 node scripts/device/placement-check.mjs
check bench-webgpu-b4 75 $(bench --device webgpu --batch_size 4)
check torch 100 env PYTHONUNBUFFERED=1 TORCH_CONFIGS=small,base python3 "$repo/scripts/device/torch_gpu.py" "$bundle/torch_baseline.py"
check bench-webgpu-f16 75 $(bench --device webgpu --batch_size 4 --dtype float16)
check bench-webgpu-v1 90 $(bench --device webgpu --batch_size 4 --preset minimind-v1 --warmup 1 --timed 3)
check bench-webgpu-v1-f16 90 $(bench --device webgpu --batch_size 4 --preset minimind-v1 --dtype float16 --warmup 1 --timed 3)
check profile-webgpu 75 $(bench --device webgpu --batch_size 4 --warmup 1 --timed 2 --profile "$mm/profile/webgpu")
ortgpu=$(python3 -c 'import os, onnxruntime as o; print(os.path.dirname(o.__file__)) if "CUDAExecutionProvider" in o.get_available_providers() else None' 2>/dev/null | grep -v None)
if [ -n "$ortgpu" ]; then
  check cuda-provider 30 node dist/bin/minimind.js install-cuda --from "$ortgpu"
  check bench-cuda-b4 75 $(bench --device cuda --batch_size 4)
else note cuda-provider 1 "no onnxruntime-gpu in this machine's Python: the CUDA provider cannot be installed here (NuGet is unreachable)"; fi
check bench-webgpu-b16 90 $(bench --device webgpu --batch_size 16)
check nccl 60 node scripts/device/nccl-check.mjs
check bench-cpu 90 $(bench --device cpu --threads "${CPU_THREADS:-16}" --batch_size 4 --warmup 1 --timed 3)

say "done in $((SECONDS - start))s; $(wc -l <"$results") result lines in $results"
exec >&- 2>&-; sleep 1 # let tee finish log.txt before the files are collected
