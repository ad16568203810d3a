#!/usr/bin/env bash
# Side-by-side comparison with the PyTorch reference (../shared/bench/torch_baseline.py),
# interleaved per round so both sides see the same machine conditions: training per config,
# KV-cache decode (and q4), and the matmul rate at the model's own shapes (torch.mm via
# torch_mm.py vs ORT via `bench matmul`). Prints medians over rounds and the ratios; the raw
# JSON lines go to $OUT (default /tmp/compare-torch-<time>.jsonl).
# Needs python3-torch and OpenBLAS:  apt-get install -y python3-torch libopenblas0-openmp
# Usage: scripts/bench/compare-torch.sh [rounds] [--only small,base,moe]
#   env: TIMED (timed steps per run, default 5), THREADS (both sides, default 2 as the baseline),
#        QUIET_PCT (the baseline's "other CPU" limit before it discards a run; default its own 5),
#        OPENBLAS_CORE (default: chosen from the CPU's flags when OpenBLAS does not know the CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=2 ONLY=small
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?--only needs a list, e.g. small,base,moe}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    [0-9]*) ROUNDS=$1; shift ;;
    *) echo "usage: $0 [rounds] [--only small,base,moe]" >&2; exit 2 ;;
  esac
done
TIMED=${TIMED:-5} THREADS=${THREADS:-2}
REF=../shared/bench/torch_baseline.py
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-openmp
[ -f "$REF" ] || { echo "no $REF: the PyTorch reference is not here (it lives in the shared folder next to the repository)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "no torch for /usr/bin/python3: apt-get install -y python3-torch libopenblas0-openmp" >&2; exit 1; }
[ -f "$OPENBLAS/libblas.so.3" ] || { echo "no OpenBLAS in $OPENBLAS: apt-get install -y libopenblas0-openmp" >&2; exit 1; }
[ -f dist/bin/minimind.js ] || { echo "no dist/: build first (npx tsc -p tsconfig.json)" >&2; exit 1; }
declare -A PRESET=([small]=minimind-v1-small [base]=minimind-v1 [moe]=minimind-v1-moe)
IFS=, read -ra CONFIGS <<< "$ONLY"
for c in "${CONFIGS[@]}"; do [ -n "${PRESET[$c]:-}" ] || { echo "--only: unknown config '$c' (small, base, moe)" >&2; exit 2; }; done

# OpenBLAS 0.3.21 falls back to its SSE3 "Prescott" kernels on CPUs it does not know (e.g. a
# VM's "Intel Xeon Processor"), 4-5x below what the CPU does: that would not be a fair reference
DETECTED=$(env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=$OPENBLAS /usr/bin/python3 -c 'import ctypes
l = ctypes.CDLL("libopenblas.so.0"); l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())')
if [ -z "${OPENBLAS_CORE:-}" ]; then
  case "$DETECTED" in
    Prescott|Core2|Penryn|Dunnington|Nehalem|Atom|Barcelona)
      if grep -qw avx512f /proc/cpuinfo; then OPENBLAS_CORE=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then OPENBLAS_CORE=Haswell; fi ;;
  esac
fi
OUT=${OUT:-/tmp/compare-torch-$(date +%Y%m%d-%H%M%S).jsonl}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
: > "$OUT"

# every line of $OUT: {"who","kind","config","result"}
tag() { local line; while IFS= read -r line; do printf '{"who":"%s","kind":"%s","config":"%s","result":%s}\n' "$1" "$2" "$3" "$line"; done >> "$OUT"; }
pyt() {  # torch as ../shared/bench/README.md runs it, plus the CPU's OpenBLAS kernels when detection failed
  env -u OPENBLAS_CORETYPE ${OPENBLAS_CORE:+OPENBLAS_CORETYPE=$OPENBLAS_CORE} LD_LIBRARY_PATH=$OPENBLAS \
    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 /usr/bin/python3 "$@"
}
torch_train() {  # one config in this process (the baseline's --config mode), its RESULT line
  pyt -c 'import sys; sys.path.insert(0, sys.argv[1]); import torch_baseline as tb
tb.THREADS = int(sys.argv[2])
if sys.argv[3]: tb.QUIET_PCT = float(sys.argv[3])
sys.argv = ["torch_baseline.py"] + sys.argv[4:]; tb.main()' "$(dirname "$REF")" "$THREADS" "${QUIET_PCT:-}" --config "$1" --timed "$TIMED" \
    2>"$TMP/torch.err" | sed -n 's/^RESULT //p' || { cat "$TMP/torch.err" >&2; exit 1; }
}
mm() { node dist/bin/minimind.js "$@" --threads "$THREADS" --json; }

CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
BLAS="OpenBLAS core ${OPENBLAS_CORE:-$DETECTED}${OPENBLAS_CORE:+ (it detected $DETECTED)}"
echo "# $CPU, $(nproc) CPUs; threads $THREADS; $BLAS; $ROUNDS round(s), configs ${CONFIGS[*]}; quiet limit ${QUIET_PCT:-baseline default}" >&2
for r in $(seq "$ROUNDS"); do
  for c in "${CONFIGS[@]}"; do
    echo "round $r: $c: torch train" >&2; torch_train "$c" | tag torch train "$c"
    echo "round $r: $c: ours train" >&2; mm bench train --preset "${PRESET[$c]}" --timed "$TIMED" | tag ort train "$c"
  done
  if [[ " ${CONFIGS[*]} " == *" small "* ]]; then  # the baseline measures decoding with small only
    echo "round $r: ours decode, q4 decode" >&2
    mm bench decode --preset minimind-v1-small | tag ort decode small
    mm bench decode --preset minimind-v1-small --quantize q4 | tag ort decode_q4 small
  fi
  for c in "${CONFIGS[@]}"; do
    echo "round $r: $c: matmul (ours, torch.mm)" >&2
    mm bench matmul --preset "${PRESET[$c]}" --shapes_out "$TMP/shapes-$c.json" | tag ort matmul "$c"
    pyt scripts/bench/torch_mm.py "$TMP/shapes-$c.json" --threads "$THREADS" | tag torch matmul "$c"
  done
done
python3 scripts/bench/compare_summary.py "$OUT" "$CPU, $(nproc) CPUs, $THREADS threads each side; torch: $BLAS"
echo "raw JSON lines: $OUT" >&2
