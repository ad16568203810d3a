#!/usr/bin/env python3
"""torch.mm GFLOP/s at the shapes `minimind bench matmul --shapes_out FILE` lists (one training
step's products), plus 2048^3: the PyTorch side of that benchmark, same shapes, same layout
(trans A/B: that operand is a transposed view, as nn.Linear's weight and its gradient are).

Run it as the PyTorch baseline runs (../shared/bench/README.md), e.g.
  env -u OPENBLAS_CORETYPE LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
    /usr/bin/python3 scripts/bench/torch_mm.py shapes.json      # or the JSON on stdin
Prints one JSON line, with the same fields as `minimind bench matmul --json`.
"""
import argparse
import json
import math
import platform
import statistics
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("torch_mm.py: no torch for this python (Debian: apt-get install -y python3-torch libopenblas0-openmp)")


def blas_lib():
    try:
        with open("/proc/self/maps") as f:
            return ",".join(sorted({l.split()[-1] for l in f if "blas" in l.lower() and "/" in l})) or "none-mapped"
    except OSError:
        return "unknown"


def operands(s):
    m, k, n, t = s["m"], s["k"], s["n"], s["trans"]
    a = torch.randn(k, m).t() if t == "A" else torch.randn(m, k)
    b = torch.randn(n, k).t() if t == "B" else torch.randn(k, n)
    return a, b, torch.empty(m, n)


def seconds(s, warmup, timed):
    """Median over `timed` samples, each long enough (>= 20 ms) to time, as the TS side does."""
    a, b, out = operands(s)
    t0 = time.perf_counter()
    for _ in range(max(1, warmup)):
        torch.mm(a, b, out=out)
    reps = max(1, math.ceil(0.02 / ((time.perf_counter() - t0) / max(1, warmup))))
    ts = []
    for _ in range(timed):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        ts.append((time.perf_counter() - t0) / reps)
    return statistics.median(ts)


def weighted_median(rates):
    """Median of the rates, each weighted by the FLOPs its shape does in a step."""
    rates = sorted(rates)
    total, acc = sum(w for _, w in rates), 0
    for i, (g, w) in enumerate(rates):
        acc += w
        if acc > total / 2:
            return g
        if acc == total / 2:
            return (g + rates[i + 1][0]) / 2
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shapes", nargs="?", help="shape list from `minimind bench matmul --shapes_out` (default: stdin)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2, as torch_baseline.py)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--timed", type=int, default=5)
    args = ap.parse_args()
    try:
        spec = json.load(open(args.shapes) if args.shapes else sys.stdin)
        shapes = spec["shapes"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"torch_mm.py: cannot read the shape list ({e}); write one with `minimind bench matmul --shapes_out FILE`")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    flops = lambda s: 2 * s["m"] * s["k"] * s["n"]
    measured = [dict(s, gflops=flops(s) / seconds(s, args.warmup, args.timed) / 1e9) for s in shapes]
    step = sum(flops(s) * s["count"] for s in measured)
    sq = dict(m=2048, k=2048, n=2048, trans="")
    print(json.dumps(dict(
        who="torch", bench="matmul", preset=spec.get("preset"), batch_size=spec.get("batch_size"), max_seq_len=spec.get("max_seq_len"),
        threads=args.threads, shapes=measured,
        gflops_weighted_median=weighted_median([(s["gflops"], flops(s) * s["count"]) for s in measured]),
        gflops_step=step / sum(flops(s) * s["count"] / (s["gflops"] * 1e9) for s in measured) / 1e9,
        step_gflop=step / 1e9, gflops_2048=flops(sq) / seconds(sq, args.warmup, args.timed) / 1e9,
        torch=torch.__version__, blas=blas_lib(), platform=platform.platform())), flush=True)


if __name__ == "__main__":
    main()
