"""Fast paths for DDGAN-family sampling (issue 11): the same T-step sampler as `samplers.ddgan_sample`, with options
that change how it runs, never what it computes (up to floating-point rounding, and bf16's precision when asked).

    from semlib.fastpath import FastPath
    x = model.sample(100, generator=g, fast=FastPath(channels_last=True, compile=True))
    x = model.sample(100, generator=g, fast="cuda_graph")            # a named option of OPTIONS

Options (each is one field of FastPath; any combination):
  channels_last  G's weights and inputs in NHWC: the layout oneDNN (CPU) and cuDNN's tensor-core kernels prefer.
  autocast       "bf16" / "fp16": G runs under torch.autocast; the posterior step stays in float32.
  compile        torch.compile(G) (inductor: fuses the norms and activations around the convolutions); the first
                 call compiles (tens of seconds), later calls of the same shape reuse it.
  cuda_graph     CUDA only: the whole fixed-shape T-step loop is captured once as a CUDA graph and replayed, which
                 removes the per-kernel launch cost that dominates small batches on a fast GPU.
  micro_batch    k > 0: G runs on slices of k images, each through all T steps (the randomness is drawn for the whole
                 batch first, so the draw is unchanged).  On a CPU a slice's activations stay in cache (issue 11's
                 profile: a third of the time is memory-bound norms and element-wise ops); on a GPU it only hurts.
  runtime        "openvino", CPU only: G is converted once per input shape to an OpenVINO model (the `openvino`
                 package) and run by its CPU plugin, which chooses its own memory layouts and kernels and fuses
                 element-wise operations into the convolutions where it can; autocast="bf16" becomes its bf16
                 precision hint.  Not combined with channels_last, compile, cuda_graph or workers (the runtime
                 does their jobs itself); micro_batch slices are converted once per slice shape.
  workers        w > 1, CPU only: the slices (of micro_batch images, else the batch cut into w parts) run concurrently
                 on w Python threads, each with torch.get_num_threads() // w intra-op threads of its own.  One slice
                 per core beats splitting every convolution over the cores: a 32 px image's ops are too small to
                 parallelise well (issue 11: bit-identical to micro-batching alone, the same kernels run).  With
                 compile, each worker's graph is built for its thread share and with inductor's C++ wrapper (which
                 releases the GIL), so it agrees with the serial compiled path to float rounding, not bit for bit.

How it stays the same sampler: every random number of a draw (z and the posterior noise of each step, in the order the
eager sampler draws them) is drawn first from the caller's generator, then a pure loop maps (x_T, z's, noises) to
x_0. With every option off, the result is bit-identical to `samplers.ddgan_sample` (tested), and a CUDA graph can
replay the loop because nothing random happens inside it.
"""
from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Callable

import torch
import torch.nn as nn

from .diffusion import DDGANProcess
from .samplers import ddgan_loop, draw_randomness   # the pure sampler; re-exported here

__all__ = ["FastPath", "OPTIONS", "FastSampler", "OpenVINONet", "draw_randomness", "ddgan_loop", "resolve", "native_bf16",
           "worth_timing", "runtime_available"]

_AUTOCAST = {None: None, "bf16": torch.bfloat16, "fp16": torch.float16}
_RUNTIMES = (None, "openvino")


@dataclass(frozen=True)
class FastPath:
    channels_last: bool = False
    autocast: str | None = None          # None | "bf16" | "fp16"
    compile: bool = False
    cuda_graph: bool = False
    micro_batch: int = 0                 # 0: the whole batch at once; k > 0: slices of k images
    workers: int = 0                     # 0 / 1: one thread runs the slices in turn; w > 1: w threads (CPU)
    runtime: str | None = None           # None: PyTorch runs G; "openvino": OpenVINO's CPU plugin does

    def __post_init__(self):
        if self.autocast not in _AUTOCAST:
            raise ValueError(f"autocast={self.autocast!r}: allowed None, 'bf16', 'fp16'")
        if isinstance(self.micro_batch, bool) or not isinstance(self.micro_batch, int) or self.micro_batch < 0:
            raise ValueError(f"micro_batch={self.micro_batch!r}: a whole number of images >= 1 (0 for off)")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ValueError(f"workers={self.workers!r}: a whole number of threads >= 2 (0 or 1 for off)")
        if self.runtime not in _RUNTIMES:
            raise ValueError(f"runtime={self.runtime!r}: allowed {list(_RUNTIMES)}")
        if self.runtime is not None:
            clash = [f for f in ("channels_last", "compile", "cuda_graph") if getattr(self, f)]
            clash += ["workers"] if self.workers > 1 else []
            if clash:
                raise ValueError(f"runtime={self.runtime!r} runs G itself: it does not combine with {', '.join(clash)} "
                                 "(micro_batch and autocast='bf16' do)")

    @property
    def name(self) -> str:
        on = [{"autocast": str(self.autocast), "micro_batch": f"mb{self.micro_batch}",
               "workers": f"w{self.workers}", "runtime": str(self.runtime)}.get(f.name, f.name)
              for f in fields(self) if getattr(self, f.name) and not (f.name == "workers" and self.workers == 1)]
        return "+".join(on) if on else "eager"

    def check(self, device) -> None:
        """One clear error for an option the device cannot run."""
        dev = torch.device(device)
        if self.cuda_graph and dev.type != "cuda":
            raise ValueError(f"cuda_graph needs a CUDA device (got {dev}); the other options run on CPU too")
        if self.autocast == "fp16" and dev.type != "cuda":
            raise ValueError("autocast='fp16' is for CUDA; on CPU use 'bf16'")
        if self.runtime is not None and dev.type != "cpu":
            raise ValueError(f"runtime={self.runtime!r} runs on the CPU (got {dev})")
        if self.workers > 1 and dev.type != "cpu":
            raise ValueError(f"workers={self.workers} is for CPU (parallel slices on the cores); on {dev} one stream "
                             "already runs the whole batch")


# the named options that the benchmark times, one at a time and all together
OPTIONS: dict[str, FastPath] = {
    "eager": FastPath(),
    "channels_last": FastPath(channels_last=True),
    "bf16": FastPath(autocast="bf16"),
    "compile": FastPath(compile=True),
    "channels_last+compile": FastPath(channels_last=True, compile=True),
    "channels_last+bf16": FastPath(channels_last=True, autocast="bf16"),
    "channels_last+bf16+compile": FastPath(channels_last=True, autocast="bf16", compile=True),
    "mb25": FastPath(micro_batch=25),
    "channels_last+mb25": FastPath(channels_last=True, micro_batch=25),
    "channels_last+compile+mb25": FastPath(channels_last=True, compile=True, micro_batch=25),
    "channels_last+bf16+compile+mb25": FastPath(channels_last=True, autocast="bf16", compile=True, micro_batch=25),
    "w2": FastPath(workers=2),
    "channels_last+w2": FastPath(channels_last=True, workers=2),
    "channels_last+compile+w2": FastPath(channels_last=True, compile=True, workers=2),
    "channels_last+mb25+w2": FastPath(channels_last=True, micro_batch=25, workers=2),
    "channels_last+compile+mb25+w2": FastPath(channels_last=True, compile=True, micro_batch=25, workers=2),
    "openvino": FastPath(runtime="openvino"),
    "mb25+openvino": FastPath(runtime="openvino", micro_batch=25),
    "bf16+openvino": FastPath(runtime="openvino", autocast="bf16"),
    "cuda_graph": FastPath(cuda_graph=True),
    "all": FastPath(channels_last=True, autocast="bf16", compile=True, cuda_graph=True),
}


def native_bf16(device, isa: list[str] | None = None) -> bool:
    """Whether bf16 autocast runs on bf16 hardware here: a CUDA device that supports it, or a CPU with AMX-BF16 or
    AVX512-BF16 (`isa`: the instruction sets of `report.host_info()`, read from /proc/cpuinfo when None).  Without
    them oneDNN emulates bf16, 5-30x slower than float32 (results/cpu/BENCH on an AVX2 EPYC)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if isa is None:
        from .report import host_info
        isa = host_info()["isa"]
    return bool({"amx_bf16", "avx512_bf16"} & set(isa))


def worth_timing(options: dict[str, FastPath], device, isa: list[str] | None = None
                 ) -> tuple[dict[str, FastPath], dict[str, str]]:
    """The options worth timing on this device, and why each other one is left out: bf16 autocast where bf16 is
    emulated (a known slow-down that costs most of a CPU benchmark's time), any option `FastPath.check` refuses."""
    keep, skipped = {}, {}
    bf16_native = native_bf16(device, isa)
    for name, fast in options.items():
        try:
            fast.check(device)
        except ValueError as e:
            skipped[name] = str(e)
            continue
        if fast.runtime is not None and not runtime_available(fast.runtime):
            skipped[name] = f"the {fast.runtime} package is not installed (pip install {fast.runtime})"
            continue
        if fast.autocast == "bf16" and not bf16_native:
            skipped[name] = "bf16 is emulated on this device (no AMX-BF16 / AVX512-BF16): a slow-down, not a fast path"
            continue
        keep[name] = fast
    return keep, skipped


def runtime_available(runtime: str) -> bool:
    """Whether the package of a FastPath runtime imports here."""
    import importlib.util
    return importlib.util.find_spec(runtime) is not None


class OpenVINONet:
    """A network run by OpenVINO's CPU plugin: called like the network (tensors in, one tensor out), it converts the
    network once per input shapes and dtypes (`openvino.convert_model`, static shapes) and keeps the compiled model.
    The weights are those of the network when a shape is first seen (as the channels-last copy: call
    `DDGAN.reset_fast_paths()` after changing them).  precision: "f32" or "bf16" (OpenVINO's inference precision
    hint); threads: OpenVINO's CPU threads."""

    def __init__(self, net: nn.Module, *, threads: int, precision: str = "f32"):
        try:
            import openvino as ov
        except ImportError as e:                        # a clear error, not a NameError deep in the sampler
            raise ImportError("runtime='openvino' needs the openvino package: pip install openvino") from e
        self._ov, self.net, self._core = ov, net.eval(), ov.Core()
        self.config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": int(threads),
                       "PERFORMANCE_HINT": "LATENCY"}
        self._requests: dict[tuple, object] = {}

    def _request(self, args: tuple[torch.Tensor, ...]):
        key = tuple((tuple(a.shape), a.dtype) for a in args)
        if key not in self._requests:
            ov = self._ov
            types = {torch.float32: ov.Type.f32, torch.int64: ov.Type.i64, torch.int32: ov.Type.i32}
            spec = [(ov.PartialShape(list(a.shape)), types[a.dtype]) for a in args]
            with torch.no_grad():
                # its own copy of the weights (by default OpenVINO shares the tensors' memory, and the CPU plugin
                # repacks some of them when it compiles: a later in-place change would reach the model in part)
                model = ov.convert_model(self.net, example_input=args, input=spec, share_weights=False)
            self._requests[key] = self._core.compile_model(model, "CPU", self.config).create_infer_request()
        return self._requests[key]

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        args = tuple(a.detach().float() if a.is_floating_point() else a.detach() for a in args)
        req = self._request(args)
        req.infer([a.contiguous().numpy() for a in args])
        return torch.from_numpy(req.get_output_tensor(0).data.copy())


def resolve(fast: FastPath | str | None) -> FastPath | None:
    if fast is None or isinstance(fast, FastPath):
        return fast
    if fast not in OPTIONS:
        raise ValueError(f"fast={fast!r}: a FastPath or one of {list(OPTIONS)}")
    return OPTIONS[fast]


def _cut(x_T, zs, noises, ab: tuple[int, int]):
    """Rows a:b of a draw: the start images, each step's z and each step's noise."""
    a, b = ab
    return x_T[a:b], [z[a:b] for z in zs], [e[a:b] for e in noises]


class FastSampler:
    """G prepared once for a FastPath (a channels-last copy, compiled), plus CUDA graphs per input shape."""

    def __init__(self, G: nn.Module, process: DDGANProcess, nz: int, fast: FastPath, device):
        fast.check(device)
        self.fast, self.nz, self.device = fast, nz, torch.device(device)
        self.process = process.to(self.device)          # coefficients on the device: nothing is copied inside the loop
        net = G.eval()
        if fast.channels_last:
            net = copy.deepcopy(G).to(memory_format=torch.channels_last).eval()
        self.threads_per_worker = max(1, torch.get_num_threads() // fast.workers) if fast.workers > 1 else None
        if fast.runtime == "openvino":
            net = OpenVINONet(G, threads=torch.get_num_threads(), precision="bf16" if fast.autocast == "bf16" else "f32")
        if fast.compile:
            # inductor fixes a kernel's OpenMP thread count when it compiles: a worker's share.  Its default Python
            # wrapper calls each fused kernel with the GIL held, so w workers would take turns through the fused
            # ops; the C++ wrapper runs the whole compiled graph with the GIL released.
            opts = ({"cpp.threads": self.threads_per_worker, "cpp_wrapper": True} if self.threads_per_worker
                    else None)
            net = torch.compile(net, dynamic=False, options=opts)
        self.net = net
        self._graphs: dict[tuple, tuple] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._warm: set[tuple] = set()                  # slice shapes already run once (compiled) by a worker
        self._lock = threading.Lock()

    def _slices(self, n: int) -> list[tuple[int, int]]:
        k = self.fast.micro_batch or -(-n // max(1, self.fast.workers))
        return [(i, min(n, i + k)) for i in range(0, n, k)]

    def _loop(self, x_T, zs, noises):
        w = self.fast.workers
        if w > 1 and x_T.shape[0] > 1:
            return self._parallel(x_T, zs, noises)
        if self.fast.micro_batch:                       # every slice runs all T steps with its rows of the draw
            return torch.cat([self._run(*_cut(x_T, zs, noises, ab)) for ab in self._slices(x_T.shape[0])])
        return self._run(x_T, zs, noises)

    def _parallel(self, x_T, zs, noises):
        """The slices on `workers` threads, each with its share of the intra-op threads; the first call of a new
        slice shape runs alone first (torch.compile traces once, not concurrently)."""
        w = self.fast.workers
        if self._pool is None:
            self._pool = ThreadPoolExecutor(w, initializer=torch.set_num_threads, initargs=(self.threads_per_worker,),
                                            thread_name_prefix="semlib-fastpath")
        parts = self._slices(x_T.shape[0])
        job = lambda ab: self._run(*_cut(x_T, zs, noises, ab))
        outs = {}
        with self._lock:
            for ab in parts:
                key = (ab[1] - ab[0], *x_T.shape[1:])
                if self.fast.compile and key not in self._warm:
                    outs[ab] = self._pool.submit(job, ab).result()
                    self._warm.add(key)
            futures = {ab: self._pool.submit(job, ab) for ab in parts if ab not in outs}
            outs.update({ab: f.result() for ab, f in futures.items()})
        return torch.cat([outs[ab] for ab in parts])

    def _run(self, x_T, zs, noises):
        with torch.no_grad():                           # worker threads do not inherit the caller's grad mode
            return ddgan_loop(self.net, self.process, x_T, zs, noises, channels_last=self.fast.channels_last,
                              autocast=None if self.fast.runtime else _AUTOCAST[self.fast.autocast])

    @torch.no_grad()
    def __call__(self, x_T: torch.Tensor, *, generator: torch.Generator | None = None,
                 z_fn: Callable[[int, int], torch.Tensor] | None = None) -> torch.Tensor:
        zs, noises = draw_randomness(self.process.T, x_T.shape[0], self.nz, tuple(x_T.shape[1:]),
                                     generator=generator, device=x_T.device, z_fn=z_fn)
        if not self.fast.cuda_graph:
            return self._loop(x_T, zs, noises)
        key = (tuple(x_T.shape), tuple(z.shape for z in zs))
        if key not in self._graphs:
            self._graphs[key] = self._capture(x_T, zs, noises)
        graph, s_x, s_zs, s_noises, s_out = self._graphs[key]
        s_x.copy_(x_T)
        for a, b in zip(s_zs, zs):
            a.copy_(b)
        for a, b in zip(s_noises, noises):
            a.copy_(b)
        graph.replay()
        return s_out.clone()

    def _capture(self, x_T, zs, noises):
        s_x, s_zs, s_noises = x_T.clone(), [z.clone() for z in zs], [e.clone() for e in noises]
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(stream):                 # warm-up outside the graph (allocations, autotuning, compile)
            for _ in range(3):
                self._loop(s_x, s_zs, s_noises)
        torch.cuda.current_stream(self.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            s_out = self._loop(s_x, s_zs, s_noises)
        return graph, s_x, s_zs, s_noises, s_out
