#!/usr/bin/env python3
"""Table of compare-torch.sh's results: medians over rounds per side and ours/torch ratios.
Usage: compare_summary.py RESULTS.jsonl [header]   (lines: {"who","kind","config","result"})"""
import json
import statistics
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    rounds = max([sum(1 for l in lines if l["who"] == "ort" and l["kind"] == "train" and l["config"] == c)
                  for c in {l["config"] for l in lines}] or [0])

    def vals(who, kind, config, pick):
        out = []
        for l in lines:
            if l["who"] == who and l["kind"] == kind and (config is None or l["config"] == config):
                try:
                    out.append(float(pick(l["result"])))
                except (KeyError, TypeError):
                    pass
        return out

    rows = []

    def row(label, torch_vals, ort_vals, unit):
        t = statistics.median(torch_vals) if torch_vals else None
        o = statistics.median(ort_vals) if ort_vals else None
        ratio = f"{o / t:.2f}x" if t and o is not None else "n/a"
        fmt = lambda v, n: "n/a" if v is None else f"{v:,.1f} ({n})"
        # the i-th figure of each side comes from the same round, run back to back: the
        # median of those ratios is steadier than the ratio of medians when the machine drifts
        pairs = [b / a for a, b in zip(torch_vals, ort_vals) if a] if len(torch_vals) == len(ort_vals) else []
        paired = f"{statistics.median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f})" if pairs else "n/a"
        rows.append((label, unit, fmt(t, len(torch_vals)), fmt(o, len(ort_vals)), ratio, paired))

    configs = [c for c in ("small", "base", "moe") if any(l["config"] == c for l in lines)]
    for c in configs:
        row(f"train {c}", vals("torch", "train", c, lambda r: r["train_tokens_per_s"]),
            vals("ort", "train", c, lambda r: r["tokens_per_s"]), "tok/s")
        row(f"train {c} peak RSS", vals("torch", "train", c, lambda r: r["peak_rss_mib_train"]),
            vals("ort", "train", c, lambda r: r["peak_rss_mb"]), "MiB")
    if "small" in configs:
        kv = vals("torch", "train", "small", lambda r: r["gen_kv_cache"]["tokens_per_s"])
        row("decode small (KV cache)", kv, vals("ort", "decode", "small", lambda r: r["tokens_per_s"]), "tok/s")
        row("decode small q4 vs torch fp32", kv, vals("ort", "decode_q4", "small", lambda r: r["tokens_per_s"]), "tok/s")
    for c in configs:
        row(f"matmul at {c}'s shapes (FLOP-weighted median)", vals("torch", "matmul", c, lambda r: r["gflops_weighted_median"]),
            vals("ort", "matmul", c, lambda r: r["gflops_weighted_median"]), "GFLOP/s")
    row("matmul 2048^3 (machine constant)", vals("torch", "matmul", None, lambda r: r["gflops_2048"]),
        vals("ort", "matmul", None, lambda r: r["gflops_2048"]), "GFLOP/s")

    header = sys.argv[2] if len(sys.argv) > 2 else ""
    print(f"# {header}\n# medians over {rounds} round(s), (n) = runs; ratio = ours / torch (above 1: ours higher);"
          " per round: the median (range) of each round's own ratio")
    head = ("", "unit", "torch", "ours (ORT)", "ratio", "per round")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(6)]
    for r in [head] + rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}  {r[4]:>{widths[4]}}  {r[5]:>{widths[5]}}")


if __name__ == "__main__":
    main()
