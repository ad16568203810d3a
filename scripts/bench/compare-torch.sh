#!/usr/bin/env bash
# Side-by-side comparison with the PyTorch reference (../shared/bench/torch_baseline.py),
# interleaved so both see the same machine conditions. Needs python3-torch and OpenBLAS:
#   apt-get install -y python3-torch libopenblas0-openmp
# Usage: scripts/bench/compare-torch.sh [rounds] > results.jsonl
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-2}
REF=../shared/bench/torch_baseline.py
[ -f "$REF" ] || { echo "no $REF: the PyTorch reference is not here" >&2; exit 1; }
torch() {
  env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
    /usr/bin/python3 "$REF" --config small --timed 5 2>/dev/null | grep '^RESULT' | sed 's/^RESULT //' \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps({"who":"torch","train_tokens_per_s":d["train_tokens_per_s"],"peak_rss_mib":d["peak_rss_mib_train"],"decode_tokens_per_s":d["gen_kv_cache"]["tokens_per_s"]}))'
}
for r in $(seq "$ROUNDS"); do
  torch
  node dist/bin/minimind.js bench train --preset minimind-v1-small --batch_size 4 --max_seq_len 512 --json
  node dist/bin/minimind.js bench decode --preset minimind-v1-small --json
  node dist/bin/minimind.js bench decode --preset minimind-v1-small --quantize q4 --json
done
