"""semlib.fastpath: the fast sampling options run the same sampler (issue 11)."""
import pytest
import torch

from semlib import DDGAN, ddgan_preset
from semlib import fastpath
from semlib.fastpath import OPTIONS, FastPath, draw_randomness, native_bf16, worth_timing
from semlib.methods import PDDGAN
from semlib.config import pddgan_preset

from conftest import live


def model(**kw):
    m = DDGAN(ddgan_preset("smoke", resolution=16, **kw), in_ch=3)
    live(m.G_ema, std=0.2)                      # a G whose output depends on x, t and z (at init it predicts 0)
    return m


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_eager_option_is_bit_identical_to_the_sampler_and_draws_the_same_random_numbers():
    m = model(num_timesteps=3)
    ref = m.sample(5, generator=gen(), batch_size=3)
    assert ref.abs().max() > 0.05                                  # the live G draws something
    assert torch.equal(m.sample(5, generator=gen(), batch_size=3, fast="eager"), ref)
    assert torch.equal(m.sample(5, generator=gen(), batch_size=3, fast=FastPath()), ref)
    # a different seed gives a different draw: the option does not ignore the generator
    assert not torch.allclose(m.sample(5, generator=gen(1), batch_size=3, fast="eager"), ref)


def test_pddgan_semantic_z2_goes_through_the_fast_path_unchanged():
    c = pddgan_preset("smoke", "encoder", resolution=16)
    m = PDDGAN(c, in_ch=3)
    live(m.G_ema, std=0.2)
    a = m.sample(4, generator=gen(), prior="standard")
    assert torch.equal(m.sample(4, generator=gen(), prior="standard", fast="eager"), a)


def test_channels_last_matches_within_float_rounding_and_leaves_the_model_alone():
    m = model()
    ref = m.sample(4, generator=gen())
    out = m.sample(4, generator=gen(), fast="channels_last")
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)     # other conv kernels: rounding differs
    w = next(p for p in m.G_ema.parameters() if p.dim() == 4)
    assert w.is_contiguous()                                     # the copy is channels-last, not G itself


def test_bf16_autocast_is_close_but_runs_in_bf16():
    m = model()
    ref = m.sample(4, generator=gen())
    out = m.sample(4, generator=gen(), fast="bf16")
    assert out.dtype == torch.float32
    diff = (out - ref).abs()
    assert diff.max() > 0                                        # it did run in bf16 (8 bits of mantissa) ...
    assert diff.mean() < 0.05 * ref.abs().mean()                 # ... and stays close: mean error < 5% of the signal


def test_micro_batches_run_the_same_draw_slice_by_slice():
    m = model(num_timesteps=3)
    ref = m.sample(7, generator=gen())
    calls = []
    G = m.G_ema
    hook = G.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    out = m.sample(7, generator=gen(), fast=FastPath(micro_batch=3))
    hook.remove()
    assert sorted(calls) == [1] * 3 + [3] * 6                      # slices 3, 3, 1, each through all 3 steps
    # each image keeps its own rows of z and noise (another image's would differ by far more than rounding); the
    # kernels chosen for another batch size may round differently
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    assert FastPath(micro_batch=25, channels_last=True).name == "channels_last+mb25"
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="micro_batch"):
            FastPath(micro_batch=bad)


def test_parallel_workers_run_each_slice_with_its_own_draw_and_leave_the_callers_threads_alone():
    m = model(num_timesteps=3)
    threads = torch.get_num_threads()
    one = m.sample(7, generator=gen(), fast=FastPath(micro_batch=3))
    seen = []
    hook = m.G_ema.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].shape[0], torch.get_num_threads())))
    par = m.sample(7, generator=gen(), fast=FastPath(micro_batch=3, workers=2))
    hook.remove()
    assert torch.equal(par, one)                 # the same slices through the same kernels, only concurrently
    assert sorted(b for b, _ in seen) == [1] * 3 + [3] * 6
    assert {n for _, n in seen} == {max(1, threads // 2)}          # each worker ran with its share of the threads
    assert torch.get_num_threads() == threads
    # without micro_batch the batch is cut into one part per worker
    whole = m.sample(6, generator=gen(), fast=FastPath(micro_batch=3))
    torch.testing.assert_close(m.sample(6, generator=gen(), fast=FastPath(workers=2)), whole, atol=0, rtol=0)
    assert FastPath(channels_last=True, workers=2).name == "channels_last+w2"
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="workers"):
            FastPath(workers=bad)
    with pytest.raises(ValueError, match="workers=2 is for CPU"):
        FastPath(workers=2).check("cuda")


@pytest.mark.slow
def test_compiled_generator_gives_the_same_samples():
    m = model()
    ref = m.sample(4, generator=gen())
    torch.testing.assert_close(m.sample(4, generator=gen(), fast="compile"), ref, atol=1e-4, rtol=1e-4)


def test_compiled_workers_ask_inductor_for_the_cpp_wrapper_and_their_share_of_threads(monkeypatch):
    """Inductor's default Python wrapper calls each fused kernel with the GIL held, so compiled slices on w threads
    took turns (BENCH at 2 threads: compile + workers 1.27x against 1.54x without compile); the C++ wrapper releases
    the GIL for the whole graph. The compiled function is a stand-in here: compiling takes minutes on CI."""
    seen = []

    def fake_compile(net, **kw):
        seen.append(kw)
        return net

    monkeypatch.setattr(torch, "compile", fake_compile)
    m = model()
    threads = torch.get_num_threads()
    ref = m.sample(4, generator=gen(), fast=FastPath(micro_batch=2))
    out = m.sample(4, generator=gen(), fast=FastPath(compile=True, micro_batch=2, workers=2))
    torch.testing.assert_close(out, ref, atol=0, rtol=0)
    assert seen[-1]["options"] == {"cpp.threads": max(1, threads // 2), "cpp_wrapper": True}
    m.sample(4, generator=gen(), fast=FastPath(compile=True))          # one thread of slices: inductor's defaults
    assert seen[-1]["options"] is None


def test_openvino_runtime_runs_the_same_sampler_slice_by_slice():
    pytest.importorskip("openvino")              # in the test extras (pyproject): present wherever run_tests.sh runs
    m = model(num_timesteps=3)
    ref = m.sample(7, generator=gen())
    calls = []
    hook = m.G_ema.register_forward_hook(lambda mod, inp, out: calls.append(int(inp[0].shape[0])))   # traced: a tensor
    out = m.sample(7, generator=gen(), fast="openvino")
    sliced = m.sample(7, generator=gen(), fast=FastPath(runtime="openvino", micro_batch=3))
    hook.remove()
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)     # float32 in another library: rounding differs
    torch.testing.assert_close(sliced, ref, atol=1e-4, rtol=1e-4)
    # PyTorch ran G only to convert it (once per input shape: 7; then 3 and 1), not at every step of every slice
    # (that would be 3 + 9 calls)
    assert set(calls) <= {7, 3, 1} and len(calls) < 12
    sampler = m._fast_samplers[(OPTIONS["openvino"], True, "cpu")]
    assert len(sampler.net._requests) == 1
    assert len(m._fast_samplers[(FastPath(runtime="openvino", micro_batch=3), True, "cpu")].net._requests) == 2
    assert FastPath(runtime="openvino", micro_batch=25).name == "mb25+openvino"
    assert OPTIONS["bf16+openvino"].name == "bf16+openvino"
    # the weights are those at conversion: stale after a change until reset_fast_paths
    with torch.no_grad():
        for p in m.G_ema.parameters():
            p.mul_(0.5)
    stale = m.sample(7, generator=gen(), fast="openvino")
    torch.testing.assert_close(stale, out, atol=0, rtol=0)
    m.reset_fast_paths()
    torch.testing.assert_close(m.sample(7, generator=gen(), fast="openvino"), m.sample(7, generator=gen()),
                               atol=1e-4, rtol=1e-4)


def test_openvino_runtime_carries_pddgans_semantic_z2():
    pytest.importorskip("openvino")
    m = PDDGAN(pddgan_preset("smoke", "encoder", resolution=16), in_ch=3)
    live(m.G_ema, std=0.2)
    ref = m.sample(4, generator=gen(), prior="standard")
    torch.testing.assert_close(m.sample(4, generator=gen(), prior="standard", fast="openvino"), ref, atol=1e-4, rtol=1e-4)


def test_openvino_runtime_refuses_what_it_does_not_combine_with():
    for kw in ({"compile": True}, {"channels_last": True}, {"cuda_graph": True}, {"workers": 2}):
        with pytest.raises(ValueError, match="runs G itself"):
            FastPath(runtime="openvino", **kw)
    with pytest.raises(ValueError, match="runtime"):
        FastPath(runtime="tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU"):
        FastPath(runtime="openvino").check("cuda")
    keep, skipped = worth_timing({"openvino": OPTIONS["openvino"]}, "cpu", isa=["avx2"])
    assert ("openvino" in keep) == fastpath.runtime_available("openvino")
    assert ("openvino" in skipped) != ("openvino" in keep)


def test_prepared_samplers_are_kept_and_reset():
    m = model()
    m.sample(2, generator=gen(), fast="channels_last")
    m.sample(2, generator=gen(), fast="channels_last")
    assert len(m._fast_samplers) == 1
    with torch.no_grad():                                        # new weights: the kept channels-last copy is stale
        for p in m.G_ema.parameters():
            p.mul_(0.5)
    stale = m.sample(2, generator=gen(), fast="channels_last")
    m.reset_fast_paths()
    fresh = m.sample(2, generator=gen(), fast="channels_last")
    torch.testing.assert_close(fresh, m.sample(2, generator=gen()), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(stale, fresh)


def test_clear_errors():
    m = model()
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device"):
        m.sample(2, generator=gen(), fast="cuda_graph", device="cpu")
    with pytest.raises(ValueError, match="one of"):
        m.sample(2, generator=gen(), fast="fastest")
    with pytest.raises(ValueError, match="autocast"):
        FastPath(autocast="int8")
    with pytest.raises(ValueError, match="on CPU use 'bf16'"):
        FastPath(autocast="fp16").check("cpu")
    assert FastPath(channels_last=True, autocast="bf16").name == "channels_last+bf16"
    assert OPTIONS["eager"].name == "eager"


def test_randomness_is_drawn_in_the_eager_order():
    g = gen()
    zs, noises = draw_randomness(2, 3, 4, (1, 2, 2), generator=g, device="cpu")
    g2 = gen()
    z1, e1, z0, e0 = (torch.randn(3, 4, generator=g2), torch.randn(3, 1, 2, 2, generator=g2),
                      torch.randn(3, 4, generator=g2), torch.randn(3, 1, 2, 2, generator=g2))
    assert torch.equal(zs[1], z1) and torch.equal(noises[1], e1) and torch.equal(zs[0], z0) and torch.equal(noises[0], e0)


def test_loop_entered_at_step_k_runs_only_the_last_k_steps():
    from semlib.samplers import ddgan_loop
    m = model(num_timesteps=3)
    x = torch.randn(2, 3, 16, 16, generator=gen())
    zs, noises = draw_randomness(3, 2, m.config.nz, (3, 16, 16), generator=gen(1), device="cpu")
    _, traj = ddgan_loop(m.G_ema, m.process, x, zs, noises, return_trajectory=True)
    # entering at the full sampler's x_1 and running one step reproduces its last step exactly
    assert torch.equal(ddgan_loop(m.G_ema, m.process, traj[2], zs, noises, start=1), traj[3])
    assert torch.equal(ddgan_loop(m.G_ema, m.process, x, zs, noises, start=3), traj[3])
    assert not torch.equal(ddgan_loop(m.G_ema, m.process, x, zs, noises, start=1), traj[3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graph_replays_the_same_sampler():
    m = model()
    for net in (m.G, m.G_ema, m.D):
        net.cuda()
    g = torch.Generator(device="cuda")
    ref = m.sample(8, generator=g.manual_seed(0), device="cuda")
    for _ in range(2):                                           # capture, then replay
        out = m.sample(8, generator=g.manual_seed(0), device="cuda", fast="cuda_graph")
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_benchmark_times_every_system_and_compares_fast_paths_with_eager():
    from semlib import benchmark
    systems = benchmark.build_systems("smoke", resolution=16, dpm_k=(3,), pdae_k=2)
    assert [s.name for s in systems] == ["DDGAN", "PDDGAN", "WDDGAN", "LDDGAN", "DDIM K=3", "PDAE K=2"]
    by = {s.name: s for s in systems}
    r = benchmark.measure_system(by["WDDGAN"], n=4, repeats=1, train_repeats=1)
    assert r["NFE"] == 4 and r["time_s_per_4"] > 0 and r["train_images_per_s"] > 0
    # FLOPs of one whole image: WDDGAN diffuses on a quarter of the pixels, so it costs less than DDGAN at equal width
    assert r["GFLOPs_image"] < benchmark.measure_system(by["DDGAN"], n=4, repeats=1, train_repeats=1)["GFLOPs_image"]
    with pytest.raises(ValueError, match="no fast path"):
        benchmark.measure_system(by["DDIM K=3"], n=2, fast="channels_last")
    rows = benchmark.fast_path_table(benchmark.reference_ddgan("smoke", resolution=16),
                                     {k: OPTIONS[k] for k in ("eager", "channels_last")}, n=4, repeats=1, warmup=0)
    assert rows[0]["max_abs_diff"] == 0 and rows[0]["speedup"] == 1.0
    assert rows[1]["max_abs_diff"] < 1e-3                        # the layout changes the rounding at most


def test_bf16_options_are_left_out_only_where_bf16_is_emulated():
    opts = {k: OPTIONS[k] for k in ("eager", "bf16", "channels_last+bf16+compile+mb25", "channels_last", "cuda_graph")}
    keep, skipped = worth_timing(opts, "cpu", isa=["avx512f", "avx2"])
    assert list(keep) == ["eager", "channels_last"]
    assert set(skipped) == {"bf16", "channels_last+bf16+compile+mb25", "cuda_graph"}
    assert "emulated" in skipped["bf16"] and "CUDA" in skipped["cuda_graph"]
    for isa in (["avx512_bf16", "avx512f", "avx2"], ["amx_bf16", "avx2"]):
        keep, skipped = worth_timing(opts, "cpu", isa=isa)
        assert list(keep) == ["eager", "bf16", "channels_last+bf16+compile+mb25", "channels_last"]
        assert list(skipped) == ["cuda_graph"]
    assert native_bf16("cpu", ["avx2"]) is False and native_bf16("cpu", ["avx512_bf16"]) is True
