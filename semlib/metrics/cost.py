"""Cost metrics: parameters, FLOPs, peak memory, wall-clock time.

Conventions (state them when reporting):

* FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``, which counts
  matmul / conv / attention kernels only (no elementwise ops, norms,
  activations) and reports FLOPs = 2 x multiply-accumulates.
* ``peak_memory`` on CUDA is the peak of ``torch.cuda.max_memory_allocated``
  during the call minus the allocation before it (tensor memory of the caching
  allocator, not the driver/context).  On CPU it is the increase of the
  process's resident-set high-water mark (Linux ``VmHWM``, reset before the call
  through ``/proc/self/clear_refs`` when allowed, otherwise ``ru_maxrss``, which
  only grows and so gives a lower bound, possibly 0).  They measure different
  things and are named differently in :func:`peak_memory_info`.
* ``time_per_batch`` synchronises CUDA before/after each repeat and reports
  the median over repeats after warm-up; with ``fn`` sampling 100 images it is
  the "time to sample 100 images".
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch
import torch.nn as nn

__all__ = [
    "count_parameters",
    "flops_per_image",
    "peak_memory",
    "peak_memory_info",
    "time_per_batch",
]


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once)."""
    seen = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return int(total)


def _batch_size_of(x) -> int:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if isinstance(x, (tuple, list)) and x:
        return _batch_size_of(x[0])
    if isinstance(x, dict) and x:
        return _batch_size_of(next(iter(x.values())))
    raise ValueError("cannot infer the batch size; pass batch_size=")


def flops_per_image(fn: Callable, example_input, batch_size: int | None = None) -> int:
    """FLOPs of ``fn(example_input)`` divided by the batch size.

    Counted with ``FlopCounterMode`` (FLOPs = 2 x MACs of matmuls/convs; other
    ops are not counted).  ``fn`` may be a module or any callable (e.g. a
    whole multi-step sampler); a tuple input is unpacked as positional args.
    """
    from torch.utils.flop_counter import FlopCounterMode

    bs = batch_size if batch_size is not None else _batch_size_of(example_input)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        if isinstance(example_input, tuple):
            fn(*example_input)
        else:
            fn(example_input)
    total = int(counter.get_total_flops())
    return total // bs if total % bs == 0 else int(round(total / bs))


def _read_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _release_free_heap() -> None:
    """Give freed heap memory back to the OS (glibc malloc_trim), so that a call reusing memory that is still
    resident from earlier work is not measured as needing none."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory_info(fn: Callable, device="cpu") -> dict:
    """Run ``fn()`` once and measure its peak memory; returns a dict with the
    key naming what was measured:

    * CUDA: ``{"peak_cuda_allocated_bytes": int, "measure": ...}``
    * CPU:  ``{"peak_rss_increase_bytes": int | None, "measure": ...}``
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return {
            "peak_cuda_allocated_bytes": int(peak - base),
            "measure": "torch.cuda.max_memory_allocated during the call minus memory_allocated before",
        }
    # CPU: resident set size high-water mark
    _release_free_heap()
    rss0 = _read_status_kb("VmRSS")
    if rss0 is not None and _reset_hwm():
        fn()
        hwm = _read_status_kb("VmHWM")
        val = None if hwm is None else max(0, (hwm - rss0) * 1024)
        how = "Linux VmHWM after reset (clear_refs=5) minus VmRSS before the call"
    else:
        try:
            import resource
        except ImportError:  # non-Unix
            fn()
            return {"peak_rss_increase_bytes": None, "measure": "unavailable on this platform"}
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        scale = 1 if os.uname().sysname == "Darwin" else 1024  # bytes on macOS, KiB on Linux
        val = int((after - before) * scale)
        how = "increase of ru_maxrss (process lifetime peak; lower bound, may be 0)"
    return {"peak_rss_increase_bytes": val, "measure": how}


def peak_memory(fn: Callable, device="cpu") -> int | None:
    """Peak memory of ``fn()`` in bytes (see :func:`peak_memory_info` for what it means)."""
    info = peak_memory_info(fn, device)
    return info.get("peak_cuda_allocated_bytes", info.get("peak_rss_increase_bytes"))


def time_per_batch(fn: Callable, *, device="cpu", warmup: int = 3, repeats: int = 10) -> dict:
    """Wall-clock time of ``fn()``: ``dict(median_s, mean_s, std_s, min_s, repeats, times_s)``.

    CUDA work is synchronised before starting and after each call, so the time
    covers the GPU work; ``time.perf_counter`` is used as the clock.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    device = torch.device(device)
    cuda = device.type == "cuda"

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return dict(
        median_s=float(statistics.median(times)),
        mean_s=float(statistics.fmean(times)),
        std_s=float(statistics.stdev(times)) if len(times) > 1 else 0.0,
        min_s=float(min(times)),
        repeats=len(times),
        times_s=times,
        device=str(device),
    )
