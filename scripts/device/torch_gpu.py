#!/usr/bin/env python3
"""PyTorch on the GPU, for the ratio against minimind's WebGPU training step.

Imports the model classes of the PyTorch reference (../shared/bench/torch_baseline.py, carried
in the device bundle; path in TORCH_BASELINE or the first argument) and times AdamW training
steps of its configs on CUDA in fp32, TF32 and bf16 autocast, batch 4 and 16 x 512 tokens, then
torch.mm at N^3 in fp32, TF32 and bf16. Prints one JSON line per measurement ("check":
"torch-train" / "torch-mm"), or one "torch-gpu" line with the reason when there is no CUDA GPU.

Environment: TORCH_WARMUP (3), TORCH_TIMED (10), TORCH_BATCHES (4,16), TORCH_CONFIGS (small),
TORCH_MM_N (8192); TORCH_DEVICE=cpu runs the same code on the CPU (to test this script without a GPU).
"""
import importlib.util
import json
import os
import statistics
import sys
import time

DEV = os.environ.get("TORCH_DEVICE", "cuda")


def emit(**o):
    print(json.dumps(o), flush=True)


def load_baseline(path):
    spec = importlib.util.spec_from_file_location("torch_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # defines the classes; main() runs only as __main__
    return mod


def sync(torch):
    if DEV == "cuda":
        torch.cuda.synchronize()


def timed_median(fn, warmup, timed):
    """Median wall time of fn() over `timed` runs, the GPU synchronised around each."""
    import torch
    for _ in range(warmup):
        fn()
    sync(torch)
    times = []
    for _ in range(timed):
        t = time.perf_counter()
        fn()
        sync(torch)
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def train(base, torch, name, batch, precision, warmup, timed):
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    cfg = base.CONFIGS[name]
    seq = base.SEQ
    model = base.TinyLM(cfg, max_len=seq).to(DEV)
    counts = base.param_counts(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    data = torch.randint(0, base.VOCAB, (batch, seq + 1), device=DEV)
    x, y = data[:, :-1], data[:, 1:]
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(DEV, dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(x, y)
        loss.backward()
        opt.step()
        losses.append(loss.detach())  # .item() would synchronise every step

    if DEV == "cuda":
        torch.cuda.reset_peak_memory_stats()
    med, times = timed_median(step, warmup, timed)
    fpt = base.train_flops_per_token(cfg, counts, seq)
    tps = batch * seq / med
    emit(check="torch-train", config=name, precision=precision, batch=batch, seq=seq, params=counts["total"],
         median_step_s=med, step_times_s=times, tokens_per_s=tps, achieved_tflops=fpt * tps / 1e12,
         loss_first=float(losses[0]), loss_last=float(losses[-1]),
         peak_mib=torch.cuda.max_memory_allocated() / 2**20 if DEV == "cuda" else None)
    del model, opt
    if DEV == "cuda":
        torch.cuda.empty_cache()


def matmul(torch, n, precision, reps=10):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a = torch.randn(n, n, device=DEV, dtype=dtype)
    b = torch.randn(n, n, device=DEV, dtype=dtype)
    med, _ = timed_median(lambda: torch.mm(a, b), 3, reps)
    emit(check="torch-mm", precision=precision, n=n, median_s=med, tflops=2 * n**3 / med / 1e12)
    del a, b
    if DEV == "cuda":
        torch.cuda.empty_cache()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TORCH_BASELINE", "../shared/bench/torch_baseline.py")
    try:
        import torch
    except ImportError as e:
        emit(check="torch-gpu", ok=False, python=sys.executable, error=f"no torch: {e}")
        return 1
    if DEV == "cuda" and not torch.cuda.is_available():
        emit(check="torch-gpu", ok=False, python=sys.executable, torch=torch.__version__,
             error=f"no CUDA: torch {torch.__version__} sees no GPU (built for CUDA {torch.version.cuda})")
        return 1
    if not os.path.exists(path):
        emit(check="torch-gpu", ok=False, error=f"no PyTorch reference at {path}")
        return 1
    base = load_baseline(path)
    gpu = dict(gpu=torch.cuda.get_device_name(0), sms=torch.cuda.get_device_properties(0).multi_processor_count) if DEV == "cuda" else dict(device=DEV)
    emit(check="torch-gpu", ok=True, torch=torch.__version__, cuda=torch.version.cuda, **gpu)
    warmup, timed = int(os.environ.get("TORCH_WARMUP", 3)), int(os.environ.get("TORCH_TIMED", 10))
    batches = [int(b) for b in os.environ.get("TORCH_BATCHES", "4,16").split(",") if b]
    failed = 0
    for name in [c for c in os.environ.get("TORCH_CONFIGS", "small").split(",") if c]:
        for batch in batches:
            for precision in ("fp32", "tf32", "bf16"):
                try:
                    train(base, torch, name, batch, precision, warmup, timed)
                except Exception as e:  # one failing configuration (memory, an op) must not hide the rest
                    failed += 1
                    emit(check="torch-train", config=name, precision=precision, batch=batch, error=f"{type(e).__name__}: {e}")
    n = int(os.environ.get("TORCH_MM_N", 8192))
    for precision in ("fp32", "tf32", "bf16"):
        try:
            matmul(torch, n, precision)
        except Exception as e:
            failed += 1
            emit(check="torch-mm", precision=precision, n=n, error=f"{type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
