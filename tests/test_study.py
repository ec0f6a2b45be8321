"""The pipeline around the notebooks: registry, ledger, result folders, figures."""
import dataclasses
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from semlib import report, study
from semlib.config import SCALES, ddgan_preset, with_overrides

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_notebook_is_a_parameterised_template():
    for e in study.REGISTRY:
        nb = nbformat.read(ROOT / e.notebook, as_version=4)
        tags = [c.metadata.get("tags", []) for c in nb.cells]
        assert any("parameters" in t for t in tags), e.notebook
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "template carries outputs"
        # what JupyterLab's ipykernel reports, so that opening a template does not rewrite its metadata
        assert nb.metadata["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        # and the language_info the kernel reports (JupyterLab fills it in on open: a partial one dirties the file);
        # the version is the project's Python (tests/test_jupyterlab.py checks the whole on a live JupyterLab)
        li = dict(nb.metadata["language_info"])
        assert li.pop("version").startswith("3.") and li == {
            "codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py", "mimetype": "text/x-python",
            "name": "python", "nbconvert_exporter": "python", "pygments_lexer": "ipython3"}, e.notebook
        src = "\n".join(c.source for c in nb.cells)
        assert "cuda:0" not in src and "NBVAL_CHECK_OUTPUT" in src
        params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for k in e.params:
            assert f"\n{k}:" in "\n" + params, f"{e.id}: parameter {k} is not in {e.notebook}'s parameters cell"


def test_registry_ids_are_unique_and_items_are_claims():
    ids = [e.id for e in study.REGISTRY]
    assert len(ids) == len(set(ids))
    claims = {c["id"] for c in study._claims()}
    assert all(e.item in claims for e in study.REGISTRY)
    assert study.entries("smoke", "DDGAN-BASE*") and not study.entries("smoke", "NOPE*")
    # an exact entry id selects that entry alone; a glob or a claim id still selects every entry serving the claim
    assert [e.id for e in study.entries("cpu", "PDDGAN-F2")] == ["PDDGAN-F2"]
    # (PDDGAN-F2*: the five rows that also draw Figure 2, PDDGAN-F2 and its Fashion-MNIST variant)
    assert len(study.entries("cpu", "PDDGAN-F2*")) == 7 and len(study.entries("cpu", "DDPM/DDIM-BASE")) >= 2
    assert [e.id for e in study.entries("cpu", "PDDGAN-F2,PDDGAN-T1-full")] == ["PDDGAN-T1-full", "PDDGAN-F2"]


def test_committed_ledger_is_what_the_results_generate(tmp_path):
    committed = (ROOT / "results" / "LEDGER.md").read_text()
    fresh = study.write_ledger(tmp_path / "LEDGER.md").read_text()
    assert fresh == committed, "results/LEDGER.md is stale: run `python -m semlib.study ledger`"
    for c in study._claims():
        assert f"| {c['id']} |" in committed


def test_every_result_folder_has_meta_with_provenance():
    metas = list((ROOT / "results").glob("*/[!.]*/meta.json"))   # not a result set aside during a rerun
    assert metas, "no results committed"
    for m in metas:
        meta = json.loads(m.read_text())
        for k in ("commit", "scale", "seed", "device", "feature_extractor", "item"):
            assert k in meta, f"{m}: {k} missing"
        assert meta["scale"] == m.parts[-3] and meta["item"] == m.parts[-2]
        assert (m.parent / "metrics.json").exists()
        v = m.parent / "verdict.json"
        if meta["scale"] == "smoke" and v.exists():
            assert json.loads(v.read_text())["verdict"] == "not run"
        metrics = json.loads((m.parent / "metrics.json").read_text())
        assert not any(k.startswith("FID") and "inception" in k for k in metrics) or \
            "inception" in (meta["feature_extractor"] or {}), f"{m}: FID_inception without Inception weights"


def test_meta_records_the_cpu_model_and_its_instruction_sets(monkeypatch):
    """CPU timings depend on the machine (bf16 autocast speeds up an AVX512-BF16 CPU and slows an AVX2 one), so the
    device string and meta.json name the CPU model and its best instruction set, parsed from /proc/cpuinfo."""
    text = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu avx2 avx512f avx512_bf16 "
            "amx_tile\n\nprocessor\t: 1\nmodel name\t: other\nflags\t\t: fpu\n")
    assert report.parse_cpuinfo(text) == {"cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
                                          "isa": ["avx512_bf16", "avx512f", "avx2"]}
    assert report.parse_cpuinfo("model name : AMD EPYC\nflags : sse avx2\n")["isa"] == ["avx2"]
    monkeypatch.setattr(report, "host_info", lambda: {"cpu_model": "Test CPU", "isa": ["avx512_bf16", "avx2"],
                                                      "cpu_count": 2})
    assert report.device_name("cpu") == f"cpu (Test CPU, avx512_bf16, {torch.get_num_threads()} threads)"
    meta = report.make_meta(scale="smoke", item="X", seed=0, device="cpu", extractor=None)
    assert meta["host"]["cpu_model"] == "Test CPU" and meta["device"].startswith("cpu (Test CPU")


def test_smoke_verdict_is_never_a_claim(tmp_path):
    v = study.write_verdict(tmp_path, "reproduced", "x", "c", scale="smoke")
    assert v["verdict"] == "not run"
    assert study.write_verdict(tmp_path, "partly", "x", "c", scale="cpu")["verdict"] == "partly"
    with pytest.raises(ValueError):
        study.write_verdict(tmp_path, "great", "x", "c", scale="cpu")


def test_committed_sample_grids_look_like_images():
    # figures are checked through their arrays: right size, not blank, not saturated noise
    from PIL import Image
    grids = list((ROOT / "results").glob("*/DDGAN-BASE-*/samples.png"))
    assert grids
    for g in grids:
        a = np.asarray(Image.open(g).convert("RGB")).astype(np.float32)
        assert a.shape[0] > 100 and a.shape[1] > 100
        assert a.std() > 10, f"{g} is nearly constant"


def test_image_grid_layout():
    x = torch.zeros(5, 1, 4, 4)
    x[2] = 1.0
    g = report.image_grid(x, nrow=3, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and g.dtype == np.uint8
    assert (g[1:5, 11:15] == 255).all() and (g[1:5, 1:5] == 128).all()   # image 2 is white, image 0 is grey
    assert (g[0] == 255).all()                                           # padding


def test_presets_and_overrides():
    for s in SCALES:
        assert ddgan_preset(s).batch_size > 0
    c = ddgan_preset("smoke", ch_mult=[1, 2, 2])
    assert c.ch_mult == (1, 2, 2)
    with pytest.raises(ValueError, match="unknown config field"):
        with_overrides(c, chanels=3)
    with pytest.raises(ValueError, match="unknown scale"):
        ddgan_preset("huge")
    assert type(c).from_dict(json.loads(c.to_json())) == c
    # the notebooks' summary: every field with its value, a few lines of at most the width
    text = c.summary(width=100)
    assert all(len(line) <= 100 for line in text.splitlines()) and len(text.splitlines()) <= 8
    pairs = dict(re.findall(r"(\w+)=(.*?)(?= \w+=|$)", " ".join(x.strip() for x in text.splitlines())))
    assert pairs == {k: repr(v) for k, v in vars(c).items()}
    assert ddgan_preset("paper").ch == 128 and ddgan_preset("paper").num_timesteps == 4


def test_verdict_rules():
    # one system beats another only by more than both spreads together
    assert study.clearly_less((1.0, 0.1), (1.5, 0.1)) and not study.clearly_less((1.0, 0.3), (1.5, 0.3))
    assert not study.clearly_less((2.0, 0.0), (1.0, 0.0))
    assert [study.from_checks(c) for c in ([True, True], [True, False], [False, False])] == \
        ["reproduced", "partly", "not reproduced"]
    ov = study.overall_verdict
    assert ov(["reproduced", "reproduced"]) == "reproduced"
    assert ov(["reproduced", "not run"]) == "partly"            # a part not judged never counts as passed
    assert ov(["not reproduced", "not run"]) == "not reproduced"
    assert ov(["reproduced", "not reproduced"]) == "partly"
    assert ov(["not run", "not run"]) == "not run"
    # a part read on a model below its learning bar is not judged either (`parts_below_bar`)
    assert ov(["reproduced", study.INCONCLUSIVE]) == "partly"
    assert ov(["not reproduced", study.INCONCLUSIVE, "not run"]) == "not reproduced"
    assert ov([study.INCONCLUSIVE, "not run"]) == study.INCONCLUSIVE
    # F3: the first step <= 3 sigma with flip >= 0.5, flip - random >= 0.3 and keep >= 0.8
    steps = [1.0, 2.0, 3.0, 4.0]
    assert study.edit_works_at([0.2, 0.6, 0.9, 1.0], [0.0, 0.1, 0.1, 0.1], [1, 1, 1, 1], steps) == 2.0
    assert study.edit_works_at([0.2, 0.6, 0.9, 1.0], [0.0, 0.4, 0.4, 0.1], [1, 1, 1, 1], steps) == 3.0
    assert study.edit_works_at([0.2, 0.6, 0.9, 1.0], [0.0, 0.1, 0.1, 0.1], [1, 0.7, 0.7, 1], steps) is None
    assert study.edit_works_at([0.0, 0.0, 0.0, 1.0], [0.0] * 4, [1] * 4, steps) is None   # only beyond 3 sigma
    # PDDGAN claim (d) = Figure 2 observation (5): judged on attribute readings by one rule
    only_z2 = study.only_z2_moves_semantics
    assert only_z2(0.01, 0.02, 0.4)
    assert not only_z2(0.01, 0.12, 0.4)          # z_1 changes one reading in eight: not "barely"
    assert not only_z2(0.0, 0.0, 0.0)            # a generator that ignores every input does not pass
    assert not only_z2(0.05, 0.0, 0.4)           # the bound is strict
    # DDGAN-BASE: below the learning bar a verdict is inconclusive, never "not reproduced"
    assert study.judge_ddgan_base(0.5, 0.9)[0] == study.INCONCLUSIVE
    assert study.judge_ddgan_base(0.8, 0.2)[0] == study.INCONCLUSIVE
    assert study.judge_ddgan_base(0.8, 0.4)[0] == "partly"
    assert study.judge_ddgan_base(0.95, 0.6)[0] == "reproduced"
    assert study.gap_closed(10.0, 30.0, 0.0) == 2 / 3
    assert study.combine_verdicts({"a": "partly", "b": study.INCONCLUSIVE}).startswith("inconclusive (a: partly")
    assert study.combine_verdicts({"a": "reproduced", "b": "reproduced"}) == "reproduced"
    assert study.combine_verdicts({"a": "reproduced", "b": "not run"}) == "incomplete (a: reproduced; b: not run)"



def test_pddgan_table1_claims_follow_one_rule_over_training_seeds():
    """Table 1's claims (a)-(c) compare rows by `clearly_less` on the mean over training seeds, (d) reads Figure 2's
    attribute changes; a claim whose rows are missing is 'not run'."""
    def row(fid, ppl_x2, ppl_z2, std=0.1):
        return {"FID_ssl@fitted": fid, "FID_ssl_std@fitted": std, "PPL_ssl_x2": ppl_x2, "PPL_ssl_x2_std": std,
                "PPL_ssl_z2": ppl_z2, "PPL_ssl_z2_std": std}
    runs = {"encoder": [row(20, 5.0, 5.0)], "pixel": [row(18, 1.0, 3.0)], "feature": [row(15, 1.0, 2.0)],
            "full": [row(10, 1.0, 1.0)], "baseline": []}
    f2 = {"change_full_x2": 0.01, "change_full_z1": 0.12, "change_full_z2": 0.4}
    c = study.judge_pddgan_t1(runs, "ssl", f2)
    assert {k: v for k, (v, _) in c.items()} == {"a": "reproduced", "b": "reproduced", "c": "reproduced",
                                                 "d": "not reproduced"}         # z_1 moves one reading in eight
    assert c["c"][1] == "FID_ssl and PPL_ssl_z2: full < feature"
    # a second training seed of the full row far from the first: its spread undoes (c)
    runs2 = {**runs, "full": [row(10, 1.0, 1.0), row(20, 1.0, 3.0)]}
    assert study.judge_pddgan_t1(runs2, "ssl", f2)["c"][0] == "not reproduced"
    # one of (c)'s two checks fails: partly
    runs3 = {**runs, "full": [row(10, 1.0, 2.0)]}
    assert study.judge_pddgan_t1(runs3, "ssl", f2)["c"][0] == "partly"
    # missing rows / Figure 2: not run, naming what is needed
    c = study.judge_pddgan_t1({**runs, "pixel": []}, "ssl", None)
    assert c["a"][0] == c["b"][0] == c["d"][0] == "not run" and c["c"][0] == "reproduced"
    assert "needs rows ['encoder', 'pixel']" in c["a"][1]
    # (d) reads Figure 2 only when it analysed a training seed the table compares (here seeds 1 and 2 of the full row)
    runs_s12 = {**runs, "full": [{**row(10, 1.0, 1.0), "train_seed": 1}, {**row(10, 1.0, 1.0), "train_seed": 2}]}
    c = study.judge_pddgan_t1(runs_s12, "ssl", f2)                   # F2 of seed 0 (unrecorded): not these models
    assert c["d"][0] == "not run" and "rerun PDDGAN-F2 with seeds=[1, 2]" in c["d"][1]
    ok_f2 = {**f2, "change_full_z1": 0.01, "train_seed": 2}
    assert study.judge_pddgan_t1(runs_s12, "ssl", ok_f2)["d"][0] == "reproduced"
    # a Figure 2 averaged over several training seeds counts when all of them are compared, not when one is missing
    assert study.judge_pddgan_t1(runs_s12, "ssl", {**ok_f2, "train_seeds": [1, 2]})["d"][0] == "reproduced"
    c = study.judge_pddgan_t1(runs_s12, "ssl", {**ok_f2, "train_seeds": [1, 3]})
    assert c["d"][0] == "not run" and "training seed(s) [1, 3]" in c["d"][1]
    assert study.analysed_seeds({"seed": 1}) == [1] and study.analysed_seeds({}) == [0]
    assert study.analysed_seeds({"seed": 1, "train_seeds": [1, 2]}) == [1, 2]
    assert study.row_value(runs2["full"], "FID_ssl@fitted") == study.over_training_seeds([(10, 0.1), (20, 0.1)])


def test_pddgan_figure2_observations_by_one_rule():
    """Figure 2's five observations from attribute changes; share(z_2) is z_2's part of the three changes."""
    rows = ["baseline", "encoder", "pixel", "feature", "full"]
    vals = {"baseline": (0.3, 0.1, 0.01), "encoder": (0.3, 0.1, 0.01), "pixel": (0.1, 0.5, 0.1),
            "feature": (0.05, 0.5, 0.05), "full": (0.01, 0.4, 0.02)}          # (x2, z2, z1)
    change = {(r, v): vals[r][i] for r in rows for i, v in enumerate(("x2", "z2", "z1"))}
    obs, share = study.judge_pddgan_f2(change, rows)
    assert {k: v for k, (v, _) in obs.items()} == {k: "reproduced" for k in range(1, 6)}
    assert share["pixel"] == pytest.approx(0.5 / 0.7)
    # z_1 of the full model changes one reading in eight: (5) fails, the same rule as Table 1's claim (d)
    obs, _ = study.judge_pddgan_f2({**change, ("full", "z1"): 0.12}, rows)
    assert obs[5][0] == "not reproduced" and "z1 0.120" in obs[5][1]
    # the encoder moves the semantics into z_2 by more than 0.1 of share: (2) fails
    obs, _ = study.judge_pddgan_f2({**change, ("encoder", "z2"): 0.9}, rows)
    assert obs[2][0] == "not reproduced"
    # a missing row: its observations are 'not run'
    obs, share = study.judge_pddgan_f2(change, ["pixel", "full"])
    assert [obs[k][0] for k in (1, 2, 4)] == ["not run"] * 3 and obs[2][1] == "needs rows ['baseline', 'encoder']"
    assert set(share) == {"pixel", "full"}

def test_ledger_counts_a_registered_entry_without_result_as_not_run(tmp_path, monkeypatch):
    """One finished part of a claim (the KL autoencoder of LDDGAN-T7) is not the claim's verdict while the claim's other
    registered entries at that scale have no result."""
    monkeypatch.setattr(study, "results_root", lambda: tmp_path)
    d = tmp_path / "cpu" / "LDDGAN-T7-kl-synthfaces"
    d.mkdir(parents=True)
    (d / "meta.json").write_text(json.dumps({"written": "2026-12-02T00:00:00+00:00", "finished": True}))
    (d / "metrics.json").write_text(json.dumps({"psnr_db": 32.3, "headline": ["psnr_db"]}))
    (d / "verdict.json").write_text(json.dumps({"verdict": "reproduced", "evidence": "ev", "criteria": "c"}))
    ledger = study.write_ledger(tmp_path / "LEDGER.md").read_text()
    row = next(line for line in ledger.splitlines() if line.startswith("| LDDGAN-T7 |"))
    assert "| incomplete (LDDGAN-T7-kl-synthfaces: reproduced; " in row
    assert "LDDGAN-T7-lddgan-kl-synthfaces: not run" in row and "LDDGAN-T7: not run" in row
    assert "| reproduced |" not in row


def test_training_seed_spread_and_row_results(tmp_path, monkeypatch):
    # one seed: its evaluation spread; two seeds: the larger of the training-seed std and the mean eval spread
    assert study.over_training_seeds([(10.0, 0.5)]) == (10.0, 0.5)
    mean, spread = study.over_training_seeds([(10.0, 0.1), (12.0, 0.3)])
    assert mean == 11.0 and spread == pytest.approx(2 ** 0.5)          # std of (10, 12) beats the eval spread 0.2
    assert study.over_training_seeds([(10.0, 3.0), (10.2, 1.0)])[1] == 2.0
    # two rows 1 apart on one seed each are "clearly" different; with their seed-to-seed spread they are not
    a, b = [(10.0, 0.1), (12.0, 0.1)], [(12.5, 0.1), (13.5, 0.1)]
    assert study.clearly_less(a[0], b[0]) and not study.clearly_less(study.over_training_seeds(a), study.over_training_seeds(b))
    with pytest.raises(ValueError):
        study.over_training_seeds([])
    # recipes.row_results finds every finished training seed of a row, seed 0 first
    from semlib import recipes
    monkeypatch.setenv("SEMLIB_RESULTS", str(tmp_path))
    for name, fid, done in (("PDDGAN-T1-full", 1.0, True), ("PDDGAN-T1-full-s1", 2.0, True),
                            ("PDDGAN-T1-full-s2", 3.0, False), ("PDDGAN-T1-feature", 4.0, True)):
        d = tmp_path / "cpu" / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"FID": fid}))
        if done:
            (d / "meta.json").write_text("{}")
    got = recipes.row_results("cpu", "full")
    assert [(m["entry"], m["train_seed"], m["FID"]) for m in got] == [("PDDGAN-T1-full", 0, 1.0), ("PDDGAN-T1-full-s1", 1, 2.0)]
    assert recipes.row_results("cpu", "pixel") == [] and recipes.row_entry("full", 1) == "PDDGAN-T1-full-s1"
    # the inverse, as ASYRP-PDDGAN reads its base entry (a further seed's entry once failed as an unknown row)
    for row, seed in (("full", 0), ("full", 1), ("baseline", 2)):
        assert recipes.parse_row_entry(recipes.row_entry(row, seed)) == (row, seed)
    with pytest.raises(ValueError, match="not a PDDGAN Table 1 row entry"):
        recipes.parse_row_entry("DDPM-BASE-synthfaces")
    # a further seed trains and resumes in its own run folder (it once used seed 0's)
    assert recipes.row_run_name("full", 1) == "PDDGAN-T1-full-s1" and recipes.row_run_name("full") == "PDDGAN-T1-full"
    assert recipes.row_run_name("full", 1, "mine") == "mine"
    # a variant of the rows (other data or recipe) is read by its suffix; seeds match exactly, never another variant
    for name in ("PDDGAN-T1-full-fashion-8k", "PDDGAN-T1-full-fashion-8k-s1", "PDDGAN-T1-full-synthfaces"):
        d = tmp_path / "cpu" / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"FID": 5.0}))
        (d / "meta.json").write_text("{}")
    assert [m["entry"] for m in recipes.row_results("cpu", "full")] == ["PDDGAN-T1-full", "PDDGAN-T1-full-s1"]
    assert [(m["entry"], m["train_seed"]) for m in recipes.row_results("cpu", "full", "-fashion-8k")] == \
        [("PDDGAN-T1-full-fashion-8k", 0), ("PDDGAN-T1-full-fashion-8k-s1", 1)]
    assert recipes.row_entry("full", 2, "-fashion-8k") == "PDDGAN-T1-full-fashion-8k-s2"
    # Table 2 / Figure 2 load a result's model with the parameters its registered entry trained it with
    calls = []
    monkeypatch.setattr(recipes, "pddgan_entry", lambda scale, entry, **k: calls.append(("entry", scale, entry)))
    monkeypatch.setattr(recipes, "pddgan_row", lambda scale, row, seed=0, **k: calls.append(("row", scale, row, seed)))
    recipes.row_model("cpu", "PDDGAN-T1-full-fashion-8k-constlr")     # registered: its dataset, steps and rate
    recipes.row_model("cpu", "PDDGAN-T1-baseline-s1")                 # registered at cpu
    recipes.row_model("smoke", "PDDGAN-T1-baseline-s1")               # not registered at smoke: the row and seed
    assert calls == [("entry", "cpu", "PDDGAN-T1-full-fashion-8k-constlr"), ("entry", "cpu", "PDDGAN-T1-baseline-s1"),
                     ("row", "smoke", "baseline", 1)]
    with pytest.raises(ValueError, match="not a PDDGAN Table 1 row entry"):
        recipes.row_model("cpu", "PDDGAN-T1-full-mine")                # unregistered variant: no silent guess


def test_shared_eval_net_refuses_rows_measured_with_other_weights(tmp_path, monkeypatch):
    # FIDs of two result folders compare only when one network with one set of weights measured both: a network
    # retrained after its cache was lost keeps its name but not its units
    from semlib import recipes
    monkeypatch.setenv("SEMLIB_RESULTS", str(tmp_path))

    def row(name, sha, net="ssl"):
        d = tmp_path / "cpu" / name
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps({"FID": 1.0, "eval_net": net}))
        other = "dom" if net == "ssl" else "ssl"                 # the result's other network, another hash
        fe = {f"{net} (FID, PPL)": {"file_sha256": sha}, f"{other} (FID_{other})": {"file_sha256": "d" * 64},
              "perceptual net of L_Sem": "dom"}
        (d / "meta.json").write_text(json.dumps({"feature_extractor": fe}))

    row("PDDGAN-T1-full", "a" * 64)
    row("PDDGAN-T1-baseline", "a" * 64)
    row("PDDGAN-T1-pixel", "b" * 64)
    row("PDDGAN-T1-encoder", "a" * 64, net="dom")
    full, base = recipes.row_results("cpu", "full"), recipes.row_results("cpu", "baseline")
    assert full[0]["eval_net_sha"] == "a" * 64
    assert recipes.shared_eval_net(full + base) == "ssl"
    with pytest.raises(ValueError, match="different weights"):
        recipes.shared_eval_net(full + recipes.row_results("cpu", "pixel"))
    with pytest.raises(ValueError, match="different networks"):
        recipes.shared_eval_net(full + recipes.row_results("cpu", "encoder"))
    assert recipes.row_results("cpu", "encoder")[0]["eval_net_sha"] == "a" * 64     # its dom entry, not ssl's
    assert recipes.shared_eval_net([]) == "ssl"
    # rows that record the weights' hash are judged on it: other files of the same weights pass, other weights do not
    same_w = [dict(full[0], eval_net_weights_sha="w" * 64), dict(full[0], entry="x", eval_net_sha="c" * 64,
                                                                   eval_net_weights_sha="w" * 64)]
    assert recipes.shared_eval_net(same_w) == "ssl"
    with pytest.raises(ValueError, match="weights hashes"):
        recipes.shared_eval_net([same_w[0], dict(same_w[1], eval_net_weights_sha="v" * 64)])
    with pytest.raises(ValueError, match="file hashes"):       # one row without a weights hash: the files decide
        recipes.shared_eval_net([same_w[0], dict(same_w[1], eval_net_weights_sha=None)])
    # a further training seed measured with other weights is set aside (listed), not mixed in and not fatal
    row("PDDGAN-T1-full-s1", "e" * 64)
    row("PDDGAN-T1-baseline-s1", "a" * 64)
    runs = {r: recipes.row_results("cpu", r) for r in ("full", "baseline")}
    kept, aside = recipes.comparable_seeds(runs)
    assert [m["entry"] for m in kept["full"]] == ["PDDGAN-T1-full"] and list(aside) == ["PDDGAN-T1-full-s1"]
    assert [m["entry"] for m in kept["baseline"]] == ["PDDGAN-T1-baseline", "PDDGAN-T1-baseline-s1"]
    assert "other weights of the ssl network" in aside["PDDGAN-T1-full-s1"]
    assert recipes.shared_eval_net([m for v in kept.values() for m in v]) == "ssl"
    # a seed-0 row measured on other weights than the other rows is set aside too (listed), not mixed in
    kept, aside = recipes.comparable_seeds({**runs, "pixel": recipes.row_results("cpu", "pixel")})
    assert kept["pixel"] == [] and "PDDGAN-T1-pixel" in aside and len(kept["baseline"]) == 2
    # further seeds on a retrained network take over once they cover more rows (or as many rows with more seeds)
    row("PDDGAN-T1-baseline-s2", "e" * 64)
    runs = {r: recipes.row_results("cpu", r) for r in ("full", "baseline")}
    kept, aside = recipes.comparable_seeds(runs)          # 'a': 2 rows, 3 results; 'e': 2 rows, 2 results
    assert sorted(aside) == ["PDDGAN-T1-baseline-s2", "PDDGAN-T1-full-s1"]
    row("PDDGAN-T1-full-s2", "e" * 64)
    runs = {r: recipes.row_results("cpu", r) for r in ("full", "baseline")}
    kept, aside = recipes.comparable_seeds(runs)          # 2 rows and 3 results each: the seed-0 rows' group stays
    assert [m["entry"] for m in kept["full"]] == ["PDDGAN-T1-full"]
    row("PDDGAN-T1-baseline-s3", "e" * 64)
    runs = {r: recipes.row_results("cpu", r) for r in ("full", "baseline")}
    kept, aside = recipes.comparable_seeds(runs)          # 'e': 2 rows, 4 results: its seeds are compared now
    assert [m["entry"] for m in kept["full"]] == ["PDDGAN-T1-full-s1", "PDDGAN-T1-full-s2"]
    assert [m["entry"] for m in kept["baseline"]] == ["PDDGAN-T1-baseline-s2", "PDDGAN-T1-baseline-s3"]
    assert sorted(aside) == ["PDDGAN-T1-baseline", "PDDGAN-T1-baseline-s1", "PDDGAN-T1-full"]
    assert "than the compared rows" in aside["PDDGAN-T1-full"]


def test_weights_hash_ignores_what_else_the_file_holds(tmp_path):
    # the cached networks' files also hold their training time: the weights' hash must not see it, the weights it must
    import torch
    from semlib.metrics.extractors import DomainNet, load_domain_net, save_domain_net, sha256_weights
    torch.manual_seed(0)
    net = DomainNet(in_channels=3, num_outputs=4)
    for i, t in enumerate((1.0, 2.0)):
        net.info = {"train_time_s": t}
        save_domain_net(net, tmp_path / f"n{i}.pt")
    a, b = load_domain_net(tmp_path / "n0.pt"), load_domain_net(tmp_path / "n1.pt")
    assert a.info["file_sha256"] != b.info["file_sha256"]
    assert a.info["weights_sha256"] == b.info["weights_sha256"] == sha256_weights(net.state_dict())
    with torch.no_grad():
        next(net.parameters()).view(-1)[0] += 1e-6
    assert sha256_weights(net.state_dict()) != a.info["weights_sha256"]


def test_config_validation_names_the_field_and_the_range():
    from semlib.config import ConfigError, pddgan_preset
    for scale in SCALES:                           # every preset is valid
        ddgan_preset(scale)
        pddgan_preset(scale, "full")
    bad = {"steps": (-5, "steps=-5: allowed >= 1"), "batch_size": (0, "batch_size=0"),
           "resolution": (30, "resolution=30: must be divisible by 4"), "num_timesteps": (0, "num_timesteps=0"),
           "dataset": ("imagenet", "dataset='imagenet': allowed values"), "ema_decay": (1.0, "ema_decay=1.0: allowed in [0, 1)"),
           "lr_g": (float("nan"), "lr_g=nan: must be a finite number"), "n_eval": (2, "n_eval=2")}
    for field, (value, message) in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            ddgan_preset("cpu", **{field: value})
    with pytest.raises(ConfigError, match="steps='ten': must be int"):
        ddgan_preset("cpu", steps="ten")
    with pytest.raises(ConfigError, match="steps=True"):        # a bool is not a step count
        ddgan_preset("cpu", steps=True)
    with pytest.raises(ConfigError, match="ch_mult=\\(1, 'a'\\): must be tuple\\[int, ...\\]"):
        ddgan_preset("cpu", ch_mult=(1, "a"))
    with pytest.raises(ConfigError, match="d_ch_mult=\\(2, 4\\): a 32 px discriminator needs at least 3"):
        ddgan_preset("cpu", d_ch_mult=(2, 4))
    with pytest.raises(ConfigError, match="p_min=0.9 > p_max=0.1"):
        pddgan_preset("cpu", "full", p_min=0.9, p_max=0.1)
    with pytest.raises(ConfigError, match="num_timesteps=4: PDDGAN is defined for two steps"):
        pddgan_preset("cpu", "full", num_timesteps=4)
    assert issubclass(ConfigError, ValueError)


def test_run_all_answers_help_and_bad_arguments_before_any_install():
    import subprocess
    root = Path(__file__).resolve().parents[1]
    env = {"PATH": "/usr/bin:/bin"}                 # no venv on PATH: an install would be needed to go further
    h = subprocess.run(["bash", str(root / "run_all.sh"), "--help"], capture_output=True, text=True, env=env, timeout=20)
    assert h.returncode == 0 and "--time-budget" in h.stdout and "set -euo" not in h.stdout
    for args, msg in ((["--scale"], "--scale needs a value"), (["--scale", "huge"], "must be smoke, cpu, gpu or paper"),
                      (["--bogus"], "unknown argument: --bogus"), (["--time-budget", "ten"], "takes minutes")):
        r = subprocess.run(["bash", str(root / "run_all.sh"), *args], capture_output=True, text=True, env=env, timeout=20)
        assert r.returncode == 2 and msg in r.stderr, (args, r.stderr)


def test_notebooks_run_by_hand_never_write_the_committed_results(monkeypatch):
    monkeypatch.delenv("SEMLIB_RESULTS", raising=False)
    monkeypatch.delenv("SEMLIB_STUDY", raising=False)
    assert report.results_root() == ROOT / "scratch" / "results"          # JupyterLab / papermill by hand
    monkeypatch.setenv("SEMLIB_STUDY", "1")
    assert report.results_root() == ROOT / "results"                      # ./run_all.sh and the study CLI
    monkeypatch.setenv("SEMLIB_RESULTS", "/tmp/elsewhere")
    assert report.results_root() == Path("/tmp/elsewhere")
    assert "scratch/" in (ROOT / ".gitignore").read_text().split()


def test_papermill_sees_every_parameter_of_every_template():
    import re
    import papermill as pm
    for e in {e.notebook for e in study.REGISTRY}:
        nb = nbformat.read(ROOT / e, as_version=4)
        params = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        declared = set(re.findall(r"^(\w+)\s*:", params, flags=re.M))
        assert declared and set(pm.inspect_notebook(str(ROOT / e))) == declared, e   # --help-notebook lists them all


def test_a_failed_entry_leaves_no_partial_result_and_keeps_the_previous_one(tmp_path, monkeypatch):
    monkeypatch.setenv("SEMLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SEMLIB_RUNS", str(tmp_path / "runs"))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    params = nbformat.v4.new_code_cell("scale = 'smoke'\nitem_id = 'X'\nfail = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from semlib import report\nout = report.item_dir(scale, item_id)\n(out / 'partial.txt').write_text('x')\n"
        "assert not fail, 'boom'\n(out / 'meta.json').write_text('{\"finished\": true}')")]
    nbformat.write(nb, tmp_path / "t.ipynb")
    out = tmp_path / "results" / "smoke" / "X"
    e_fail = study.Entry("X", "DDGAN-BASE", str(tmp_path / "t.ipynb"), {"fail": True})
    with pytest.raises(Exception, match="boom"):
        study.run_entry("smoke", e_fail)
    assert not out.exists()                                            # nothing half-written
    assert (tmp_path / "runs" / "smoke" / "X" / "failed-t.ipynb").exists()  # the failed notebook kept for debugging
    study.run_entry("smoke", study.Entry("X", "DDGAN-BASE", str(tmp_path / "t.ipynb")))
    assert study.is_finished("smoke", study.Entry("X", "DDGAN-BASE", "t.ipynb"))
    (out / "old-figure.png").write_text("kept")
    with pytest.raises(Exception, match="boom"):                       # a failed rerun keeps the previous result
        study.run_entry("smoke", e_fail)
    assert (out / "old-figure.png").read_text() == "kept" and (out / "meta.json").exists()
    assert [p.name for p in out.parent.iterdir()] == ["X"]
    # a run killed outright (SIGKILL: no cleanup) leaves a folder without meta.json; it is no result to restore
    import shutil
    shutil.rmtree(out)
    out.mkdir()
    (out / "t.ipynb").write_text("half")
    with pytest.raises(Exception, match="boom"):
        study.run_entry("smoke", e_fail)
    assert not out.exists()


def test_pdae_verdict_rules(tmp_path, monkeypatch):
    # the base a PDAE item builds on is read from that entry's verdict at the same scale
    monkeypatch.setattr(study, "results_root", lambda: tmp_path)
    assert study.base_learned("cpu")[0] is False                      # no result: not learned
    d = tmp_path / "cpu" / "DDPM-BASE-synthfaces"
    d.mkdir(parents=True)
    (d / "verdict.json").write_text(json.dumps({"verdict": study.INCONCLUSIVE}))
    assert study.base_learned("cpu")[0] is False
    (d / "verdict.json").write_text(json.dumps({"verdict": "partly"}))
    assert study.base_learned("cpu") == (True, "DDPM-BASE-synthfaces at cpu: partly")
    # a PDDGAN row (ASYRP-PDDGAN's base) has no verdict of its own: its recall with the fitted prior against the bar
    row = tmp_path / "cpu" / "PDDGAN-T1-full"
    row.mkdir(parents=True)
    (row / "metrics.json").write_text(json.dumps({"recall_dom@fitted": 0.006}))
    assert study.base_learned("cpu", "PDDGAN-T1-full")[0] is False
    (row / "metrics.json").write_text(json.dumps({"recall_dom@fitted": 0.45}))
    assert study.base_learned("cpu", "PDDGAN-T1-full")[0] is True
    # F5: below the DPM at >= 80% of steps and >= 10% of the mean gap removed
    assert study.gap_reduction([2.0, 2.0], [1.0, 1.0]) == 0.5
    assert study.judge_pdae_f5(True, [1.0] * 5, [0.5] * 5)[0] == "reproduced"
    assert study.judge_pdae_f5(True, [1.0] * 5, [0.95] * 5)[0] == "partly"          # below everywhere, 5% removed
    assert study.judge_pdae_f5(True, [1.0] * 4, [0.5, 0.5, 2.0, 2.0])[0] == "partly"
    assert study.judge_pdae_f5(True, [1.0] * 4, [0.5, 2.0, 2.0, 2.0])[0] == "not reproduced"
    assert study.judge_pdae_f5(False, [1.0] * 5, [0.5] * 5)[0] == study.INCONCLUSIVE
    # T1: (1) PDAE inferred beats DDIM inversion, (2) PDAE random beats the DPM without z; on all three metrics
    good = {"MSE": (0.01, 0.001), "LPIPS_dom": (0.1, 0.01), "SSIM": (0.9, 0.01)}
    bad = {"MSE": (0.05, 0.001), "LPIPS_dom": (0.5, 0.01), "SSIM": (0.5, 0.01)}
    rows = {"DDIM inferred": bad, "PDAE inferred": good, "PDAE random": good, "no z random": bad}
    assert study.judge_pdae_t1(True, 0.5, rows, "LPIPS_dom")[0] == "reproduced"
    assert study.judge_pdae_t1(True, 0.5, {**rows, "PDAE random": bad}, "LPIPS_dom")[0] == "partly"
    mixed = {**good, "SSIM": (0.5, 0.01)}                                  # better on two metrics of three: no
    assert study.judge_pdae_t1(True, 0.5, {**rows, "PDAE inferred": mixed, "PDAE random": bad}, "LPIPS_dom")[0] == "not reproduced"
    assert study.judge_pdae_t1(True, 0.05, rows, "LPIPS_dom")[0] == study.INCONCLUSIVE   # G did not fill the gap
    assert study.judge_pdae_t1(False, 0.5, rows, "LPIPS_dom")[0] == study.INCONCLUSIVE
    # F4: PDAE's share at each end below every other scheme's
    w = {"A": [0.3, 0.4, 0.3], "ours": [0.1, 0.8, 0.1]}
    assert study.judge_pdae_f4(w, "ours", end_frac=0.34)[0] == "reproduced"
    v, _, checks = study.judge_pdae_f4({**w, "B": [0.05, 0.5, 0.45]}, "ours", end_frac=0.34)
    assert v == "partly" and checks == {"below A at high SNR": True, "below A at low SNR": True,
                                        "below B at high SNR": False, "below B at low SNR": True}
    # F7: the two interpolations agree and both paths are smooth
    assert study.judge_pdae_f7(True, 0.5, 0.1, 1.5, 2.0)[0] == "reproduced"
    assert study.judge_pdae_f7(True, 0.5, 0.4, 1.5, 2.0)[0] == "partly"
    assert study.judge_pdae_f7(True, 0.5, 0.4, 1.5, 3.5)[0] == "not reproduced"
    assert study.judge_pdae_f7(True, 0.01, 0.1, 1.5, 2.0)[0] == study.INCONCLUSIVE
    # F8: edits that work for at least half of the attributes
    assert study.judge_pdae_f8(True, 0.5, {"a": 1.0, "b": None})[0] == "reproduced"
    assert study.judge_pdae_f8(True, 0.5, {"a": 1.0, "b": None, "c": None})[0] == "partly"
    assert study.judge_pdae_f8(True, 0.5, {"a": None})[0] == "not reproduced"
    assert study.judge_pdae_f8(False, 0.5, {"a": 1.0})[0] == study.INCONCLUSIVE
    # T2: PDAE below DDIM at every K
    rows = {10: {"DDIM": (30.0, 1.0), "PDAE": (20.0, 1.0)}, 50: {"DDIM": (15.0, 1.0), "PDAE": (14.5, 1.0)}}
    assert study.judge_pdae_t2(True, 0.5, rows, "FID_dom")[0] == "partly"
    rows[50]["PDAE"] = (10.0, 1.0)
    assert study.judge_pdae_t2(True, 0.5, rows, "FID_dom")[0] == "reproduced"
    assert study.judge_pdae_t2(True, 0.0, rows, "FID_dom")[0] == study.INCONCLUSIVE


def test_paths_are_shown_relative_to_the_repository(tmp_path):
    assert report.shown(report.ROOT / "results" / "cpu" / "X") == "results/cpu/X"
    assert report.shown(tmp_path) == str(tmp_path.resolve())          # outside the repository: as it is
    # T3: accepted samples closer to their class than unfiltered ones, per setting and class
    rows = {"binary 1": {"conditional": (10.0, 0.5), "unconditional": (14.0, 0.5)},
            "PU 1": {"conditional": (13.8, 0.5), "unconditional": (14.0, 0.5)}}
    assert study.judge_pdae_t3(True, 0.5, rows, "FID_dom")[0] == "partly"
    assert study.judge_pdae_t3(False, 0.5, rows, "FID_dom")[0] == study.INCONCLUSIVE
    # F1: the conditional loss below at >= 80% of steps and clearly below on the mean
    assert study.judge_pdae_f1(True, [1.0] * 5, [0.8] * 5, (1.0, 0.01), (0.8, 0.01))[0] == "reproduced"
    assert study.judge_pdae_f1(True, [1.0] * 5, [0.99] * 5, (1.0, 0.01), (0.99, 0.01))[0] == "partly"
    assert study.judge_pdae_f1(False, [1.0] * 5, [0.8] * 5, (1.0, 0.01), (0.8, 0.01))[0] == study.INCONCLUSIVE
    # F9: class match rises with the scale, diversity falls
    match, div = {0.0: 0.2, 1.0: 0.7, 3.0: 0.9}, {0.0: 1.0, 1.0: 0.8, 3.0: 0.5}
    assert study.judge_pdae_f9(True, 0.05, -0.01, match, div)[0] == "reproduced"
    assert study.judge_pdae_f9(True, 0.05, -0.01, match, {**div, 3.0: 0.9})[0] == "partly"
    assert study.judge_pdae_f9(True, 0.05, -0.01, {**match, 1.0: 0.3}, {**div, 3.0: 0.9})[0] == "not reproduced"
    # F9's bar: G must have learned the label (true labels remove more of the gap than wrong ones), not the 10% of a code
    assert study.judge_pdae_f9(True, 0.05, 0.04, match, div)[0] == study.INCONCLUSIVE     # labels barely matter
    assert study.judge_pdae_f9(True, -0.01, -0.05, match, div)[0] == study.INCONCLUSIVE   # G makes the gap worse
    assert study.judge_pdae_f9(False, 0.05, -0.01, match, div)[0] == study.INCONCLUSIVE   # the base did not learn
    # F3: the best single guided window is interior and beats the early and late ones
    w = [(0, 200), (200, 400), (400, 600), (600, 800), (800, 1000)]
    assert study.judge_pdae_f3(True, 0.95, w, [0.1, 0.3, 0.8, 0.4, 0.1])[0] == "reproduced"
    assert study.judge_pdae_f3(True, 0.95, w, [0.1, 0.3, 0.3, 0.2, 0.1])[0] == "partly"
    assert study.judge_pdae_f3(True, 0.95, w, [0.9, 0.3, 0.3, 0.2, 0.1])[0] == "not reproduced"
    assert study.judge_pdae_f3(True, 0.5, w, [0.1, 0.3, 0.8, 0.4, 0.1])[0] == study.INCONCLUSIVE
    # EFF: half the steps or fewer, and a higher throughput
    assert study.judge_pdae_eff(True, 0.5, 500, 1500, 60.0, 50.0)[0] == "reproduced"
    assert study.judge_pdae_eff(True, 0.5, 500, None, 40.0, 50.0)[0] == "partly"
    assert study.judge_pdae_eff(True, 0.5, None, 500, 40.0, 50.0)[0] == "not reproduced"
    assert study.judge_pdae_eff(True, 0.0, 500, 1500, 60.0, 50.0)[0] == study.INCONCLUSIVE


def test_asyrp_verdict_rules():
    works = {"glasses": 1.0, "hat": None}
    sdir = {"glasses": (0.3, 0.1), "hat": (0.2, 0.1)}
    reads = {"glasses": 0.9, "hat": 0.9}
    assert study.judge_asyrp_edit(True, reads, works, sdir)[0] == "reproduced"        # 1 of 2 judged works
    assert study.judge_asyrp_edit(True, reads, {"glasses": None, "hat": None}, sdir)[0] == "not reproduced"
    assert study.judge_asyrp_edit(True, reads, works, {"glasses": (0.1, 0.3), "hat": (0.2, 0.1)})[0] == "not reproduced"
    assert study.judge_asyrp_edit(False, reads, works, sdir)[0] == study.INCONCLUSIVE
    # an attribute the loss model cannot read is not judged; none judged is inconclusive
    v, _, checks = study.judge_asyrp_edit(True, {"glasses": 0.5, "hat": 0.9}, works, sdir)
    assert v == "not reproduced" and set(checks) == {"hat"}
    assert study.judge_asyrp_edit(True, {"glasses": 0.5, "hat": 0.6}, works, sdir)[0] == study.INCONCLUSIVE
    scales = [-1.0, 0.0, 1.0, 2.0]
    lin = {"mean": [-2.0, 0.0, 2.0, 3.0], "se": [0.1] * 4}
    flat = {"mean": [0.0, 0.0, 0.1, 0.0], "se": [0.1] * 4}
    no_reverse = {"mean": [0.05, 0.0, 2.0, 3.0], "se": [0.1] * 4}            # monotone, but -1 does not undo
    v, _, checks = study.judge_asyrp_f8(True, {"a": 0.9, "b": 0.9, "c": 0.9}, {"a": lin, "b": flat, "c": no_reverse}, scales)
    assert checks == {"a": True, "b": False, "c": False} and v == "partly"
    assert study.judge_asyrp_f8(True, {"a": 0.9}, {"a": lin}, scales)[0] == "reproduced"

    both = {"a_both": 0.7, "b_both": 0.6, "a_by_b": 0.1, "b_by_a": 0.2, "keep": 0.9}
    one = {**both, "b_both": 0.3}                                                   # b's edit lost in the sum
    v, _, checks = study.judge_asyrp_f9(True, {"x": 0.9, "y": 0.9, "u": 0.9, "w": 0.9}, {"x+y": both, "u+w": one})
    assert checks == {"x+y": True, "u+w": False} and v == "partly"
    assert study.judge_asyrp_f9(True, {"x": 0.9, "y": 0.5}, {"x+y": both})[0] == study.INCONCLUSIVE
    assert study.judge_asyrp_f9(True, {"x": 0.9, "y": 0.9}, {"x+y": {**both, "a_by_b": 0.6}})[0] == "not reproduced"

    good = {"seen": (0.3, 0.02), "unseen": (0.25, 0.02), "random": (0.1, 0.02)}
    weak_unseen = {**good, "unseen": (0.12, 0.02)}
    assert study.judge_asyrp_t1(True, {"x": 0.9}, {"x": good})[0] == "reproduced"
    v, _, checks = study.judge_asyrp_t1(True, {"x": 0.9}, {"x": weak_unseen})
    assert v == "partly" and checks == {"seen_beats_random": True, "unseen_beats_random": False}
    assert study.judge_asyrp_t1(True, {"x": 0.2}, {"x": good})[0] == study.INCONCLUSIVE

    conv = {"FID": 10.0, "S_dir": (0.30, 0.02)}
    assert study.judge_asyrp_abl(True, {"x": 0.9}, {"x": {"conv": conv, "transformer": {"FID": 8.0, "S_dir": (0.29, 0.02)}}})[0] == "reproduced"
    v, _, checks = study.judge_asyrp_abl(True, {"x": 0.9}, {"x": {"conv": conv, "transformer": {"FID": 8.0, "S_dir": (0.1, 0.02)}}})
    assert v == "partly" and checks == {"transformer_lower_fid": True, "transformer_sdir_comparable": False}
    assert study.judge_asyrp_abl(False, {"x": 0.9}, {"x": {"conv": conv, "transformer": conv}})[0] == study.INCONCLUSIVE


def test_pddgan_items_apply_the_learning_bar_and_committed_ones_are_rejudged(tmp_path, monkeypatch):
    """An item read from PDDGAN rows below the bar is inconclusive, whatever its criteria would say (those stay in the
    evidence); `rejudge` does that to a committed verdict from the rows' committed metrics and records it in meta."""
    monkeypatch.setattr(study, "results_root", lambda: tmp_path)
    monkeypatch.setattr(study, "write_ledger", lambda *a, **k: "")
    assert study.below_bar("not reproduced", "e", True, "x") == ("not reproduced", "e")
    v, ev = study.below_bar("not reproduced", "e", False, "PDDGAN-T1-full: recall 0.006")
    assert v == study.INCONCLUSIVE and "would read 'not reproduced'" in ev and "recall 0.006" in ev
    assert study.below_bar("not run", "e", False, "x")[0] == "not run"
    for r, rec in (("full", 0.006), ("baseline", 0.5)):
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}").mkdir(parents=True)
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}" / "metrics.json").write_text(json.dumps({"recall_dom@fitted": rec}))
    assert study.rows_learned("cpu", ["PDDGAN-T1-baseline"])[0] is True
    assert study.rows_learned("cpu", ["PDDGAN-T1-baseline", "PDDGAN-T1-full"])[0] is False
    assert study.rows_learned("cpu", [])[0] is False
    d = tmp_path / "cpu" / "PDDGAN-T2"
    d.mkdir()
    (d / "verdict.json").write_text(json.dumps({"verdict": "not reproduced", "evidence": "FID not lower",
                                                "criteria": "c", "scale": "cpu"}))
    (d / "meta.json").write_text(json.dumps({"commit": "old"}))
    out = study.rejudge("cpu", "PDDGAN-T2")
    assert out["verdict"] == study.INCONCLUSIVE and "FID not lower" in out["evidence"]
    meta = json.loads((d / "meta.json").read_text())
    assert meta["commit"] == "old" and meta["rejudged"]["previous_verdict"] == "not reproduced"
    assert study.rejudge("cpu", "PDDGAN-F3") is None                          # no result: nothing to do
    # a registered variant of an item (its `suffix`) is judged on its own rows, not on the pixel rows
    for r, rec in (("full", 0.6), ("baseline", 0.1)):
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}-fashion-8k-constlr").mkdir(parents=True)
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}-fashion-8k-constlr" / "metrics.json").write_text(
            json.dumps({"recall_dom@fitted": rec}))
    d = tmp_path / "cpu" / "PDDGAN-T2-fashion-8k-constlr"
    d.mkdir()
    (d / "verdict.json").write_text(json.dumps({"verdict": "partly", "evidence": "PPL lower", "criteria": "c"}))
    (d / "meta.json").write_text(json.dumps({"commit": "old"}))
    out = study.rejudge("cpu", "PDDGAN-T2-fashion-8k-constlr")
    assert out["verdict"] == study.INCONCLUSIVE and "PDDGAN-T1-baseline-fashion-8k-constlr" in out["evidence"]
    assert "PDDGAN-T1-full at" not in out["evidence"]
    with pytest.raises(ValueError, match="not a PDDGAN item"):
        study.rejudge("cpu", "LDDGAN-T3")


def test_the_learning_bar_per_claim_leaves_the_claims_that_read_learned_rows(tmp_path, monkeypatch):
    """PDDGAN Table 1 and Figure 2 apply the bar per claim (`parts_below_bar`): a claim that reads a row below it is
    inconclusive (its criteria's reading kept), a claim that reads only learned rows keeps its verdict."""
    monkeypatch.setattr(study, "results_root", lambda: tmp_path)
    for r, rec in (("encoder", 0.33), ("pixel", 0.2), ("full", 0.5)):
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}").mkdir(parents=True)
        (tmp_path / "cpu" / f"PDDGAN-T1-{r}" / "metrics.json").write_text(json.dumps({"recall_dom@fitted": rec}))
    reads = {k: [f"PDDGAN-T1-{r}" for r in study.PDDGAN_T1_CLAIM_ROWS[k]] for k in "abcd"}
    parts = {"a": ("reproduced", "pix < enc"), "b": ("not run", "needs feature"), "c": ("not run", "needs feature"),
             "d": ("not reproduced", "z1 moves")}
    out, line = study.parts_below_bar("cpu", parts, reads)
    assert out["a"][0] == study.INCONCLUSIVE and "would read 'reproduced'" in out["a"][1]
    assert "PDDGAN-T1-pixel" in out["a"][1] and "PDDGAN-T1-encoder" not in out["a"][1]    # names the row below it
    assert out["b"][0] == out["c"][0] == "not run"
    assert out["d"] == ("not reproduced", "z1 moves")                                    # reads only the full row
    assert "PDDGAN-T1-full" in line and "PDDGAN-T1-pixel" in line and "PDDGAN-T1-feature" in line
    assert study.overall_verdict(v for v, _ in out.values()) == "not reproduced"
    # a part that reads no trained entry cannot pass the bar
    assert study.parts_below_bar("cpu", {"x": ("reproduced", "t")}, {})[0]["x"][0] == study.INCONCLUSIVE
    # Figure 2: observation (2) reads the baseline too; a missing one is below the bar
    reads2 = {k: [f"PDDGAN-T1-{r}" for r in study.PDDGAN_F2_OBS_ROWS[k]] for k in (2, 5)}
    out2, _ = study.parts_below_bar("cpu", {2: ("reproduced", "s"), 5: ("reproduced", "t")}, reads2)
    assert out2[2][0] == study.INCONCLUSIVE and "PDDGAN-T1-baseline has no result" in out2[2][1]
    assert out2[5][0] == "reproduced"


def test_ledger_flags_an_analysis_older_than_the_rows_it_reads(tmp_path, monkeypatch):
    """A PDDGAN analysis written before one of its rows was rerun describes the old rows: the ledger says so."""
    monkeypatch.setattr(study, "results_root", lambda: tmp_path)

    def put(name, written, finished=True, metrics=None, verdict=None):
        d = tmp_path / "cpu" / name
        d.mkdir(parents=True)
        (d / "meta.json").write_text(json.dumps({"written": written, "finished": finished}))
        (d / "metrics.json").write_text(json.dumps(metrics or {}))
        if verdict:
            (d / "verdict.json").write_text(json.dumps({"verdict": verdict, "evidence": "ev", "criteria": "c"}))

    put("PDDGAN-F3", "2026-11-23T14:46:39+00:00", metrics={"x": 1.0, "headline": ["x"]}, verdict="partly")
    put("PDDGAN-T2", "2026-12-02T00:00:00+00:00")
    put("PDDGAN-T1-full", "2026-11-30T21:53:45+00:00")
    put("PDDGAN-T1-full-s1", "2026-11-20T00:00:00+00:00")
    put("PDDGAN-T1-baseline", "2026-12-01T01:36:15+00:00")
    put("PDDGAN-T1-pixel", "2026-12-03T00:00:00+00:00", finished=False)      # a failed rerun does not count
    assert study.rows_newer_than("cpu", "PDDGAN-F3") == ["PDDGAN-T1-full"]   # F3 reads only the full row
    assert study.rows_newer_than("cpu", "PDDGAN-T2") == []                    # written after both rows it reads
    assert study.rows_newer_than("cpu", "PDDGAN-T1-full") == []               # a row reads no rows
    (tmp_path / "cpu" / "PDDGAN-T1-full-s1" / "meta.json").write_text(
        json.dumps({"written": "2026-12-02T01:00:00+00:00", "finished": True}))
    # Figure 3 analyses one trained model (seed 0, the seed its meta.json names): a later second seed leaves it current
    assert study.rows_newer_than("cpu", "PDDGAN-F3") == ["PDDGAN-T1-full"]
    # Table 2 averages over every training seed: the later second seed makes it stale
    assert study.rows_newer_than("cpu", "PDDGAN-T2") == ["PDDGAN-T1-full-s1"]
    ledger = study.write_ledger(tmp_path / "LEDGER.md").read_text()
    assert "PDDGAN-F3 (older than its rows): x 1" in ledger
    assert re.search(r"\*\*PDDGAN-F3\*\* \(cpu\): partly: ev \*\*Older than the rows it reads\*\* "
                     r"\(PDDGAN-T1-full trained or rerun after it\)", ledger)
    # an F3 of the second seed reads that seed's row
    put("PDDGAN-F3-s1", "2026-12-01T00:00:00+00:00")
    (tmp_path / "cpu" / "PDDGAN-F3-s1" / "meta.json").write_text(
        json.dumps({"written": "2026-12-01T00:00:00+00:00", "finished": True, "seed": 1}))
    monkeypatch.setitem(study.PDDGAN_ITEM_ROWS, "PDDGAN-F3-s1", ["full"])
    assert study.rows_newer_than("cpu", "PDDGAN-F3-s1") == ["PDDGAN-T1-full-s1"]
    # an analysis over several training seeds reads each of them (and no other)
    (tmp_path / "cpu" / "PDDGAN-F3-s1" / "meta.json").write_text(
        json.dumps({"written": "2025-01-01T00:00:00+00:00", "finished": True, "seed": 0, "train_seeds": [0, 1]}))
    assert study.rows_newer_than("cpu", "PDDGAN-F3-s1") == ["PDDGAN-T1-full", "PDDGAN-T1-full-s1"]
    put("PDDGAN-T1-full-s2", "2026-12-04T00:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-F3-s1") == ["PDDGAN-T1-full", "PDDGAN-T1-full-s1"]
    # an analysis of one registered row entry (model_entry) reads that entry alone, not the pixel rows
    put("PDDGAN-F3-latent_zoom", "2026-12-02T12:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-F3-latent_zoom") == []              # its row has no result yet
    put("PDDGAN-T1-full-latent_zoom", "2026-12-05T00:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-F3-latent_zoom") == ["PDDGAN-T1-full-latent_zoom"]
    # a registered Table 2 variant (`suffix`) reads its own rows over every seed, not the pixel rows
    put("PDDGAN-T2-fashion-8k-constlr", "2026-12-06T00:00:00+00:00")
    put("PDDGAN-T1-full-fashion-8k-constlr", "2026-12-05T00:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-T2-fashion-8k-constlr") == []
    put("PDDGAN-T1-baseline-fashion-8k-constlr-s1", "2026-12-07T00:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-T2-fashion-8k-constlr") == ["PDDGAN-T1-baseline-fashion-8k-constlr-s1"]
    # the Figure 2 variant reads the rows it names: with four named, a later feature row leaves it current
    put("PDDGAN-F2-fashion-8k-constlr", "2026-12-06T00:00:00+00:00")
    put("PDDGAN-T1-feature-fashion-8k-constlr", "2026-12-08T00:00:00+00:00")
    f2 = next(e for e in study.REGISTRY if e.id == "PDDGAN-F2-fashion-8k-constlr")
    assert "feature" in f2.params["rows"]                       # the registered entry reads all five rows
    assert study.rows_newer_than("cpu", "PDDGAN-F2-fashion-8k-constlr") == ["PDDGAN-T1-feature-fashion-8k-constlr"]
    four = dataclasses.replace(f2, params={**f2.params, "rows": ["baseline", "encoder", "pixel", "full"]})
    monkeypatch.setattr(study, "REGISTRY", [four if e is f2 else e for e in study.REGISTRY])
    assert study.rows_newer_than("cpu", "PDDGAN-F2-fashion-8k-constlr") == []
    put("PDDGAN-T1-baseline-fashion-8k-constlr", "2026-12-08T00:00:00+00:00")
    assert study.rows_newer_than("cpu", "PDDGAN-F2-fashion-8k-constlr") == ["PDDGAN-T1-baseline-fashion-8k-constlr"]


def test_training_curve_marks_the_discriminator_at_chance_for_its_loss(tmp_path):
    # a non-saturating D at chance sits at 2 ln 2, a hinge D (the autoencoders' patch-GAN) at 2: the dotted line the
    # reader compares loss_d with must be the one of the loss that was logged
    import math
    log = [{"step": s, "loss_d": 1.9, "l1": 0.1} for s in (0, 50, 100)]

    def chance_line(fig):
        ax = next(a for a in fig.axes if a.get_title() == "loss_d")
        return [ln.get_ydata()[0] for ln in ax.get_lines()[1:]]

    assert chance_line(report.plot_training_curves(log, tmp_path / "a.png")) == [pytest.approx(2 * math.log(2))]
    assert chance_line(report.plot_training_curves(log, tmp_path / "b.png", d_loss="hinge")) == [2.0]
    with pytest.raises(ValueError, match="d_loss"):
        report.plot_training_curves(log, tmp_path / "c.png", d_loss="wgan")


def test_every_lddgan_ablation_table_names_registered_rows_with_the_right_loss():
    """Each registered lddgan_ablation.ipynb entry reads ddgan.ipynb entries that exist, on its dataset, all at T = 4,
    and Table 6's rows differ in G's loss alone: adversarial only, + fixed reconstruction, + Weighted Learning (the
    lddgan preset's own loss); a row's training seed k > 0 differs from its seed-0 run in the seed alone; a typo in a
    suffix, or a row registered with another loss, fails here."""
    from semlib.recipes import ablation_systems

    by_id = {e.id: e for e in study.REGISTRY}
    tables = [e for e in study.REGISTRY if e.notebook == "notebooks/lddgan_ablation.ipynb"]
    assert {e.params["table"] for e in tables} >= {"T6", "T7", "T12"}
    for e, seed in [(e, s) for e in tables for s in e.params.get("train_seeds", [0])]:
        p = e.params
        systems = ablation_systems(p["table"], p["dataset"], p.get("suffix", ""), p.get("loss", "weighted"), train_seed=seed)
        for row, name in systems.items():
            r = by_id.get(name)
            assert r is not None and r.notebook == "notebooks/ddgan.ipynb", (e.id, row, name)
            # seed k > 0: the seed-0 row's entry with "-s<k>", and its config but for the seed
            seed0 = by_id[ablation_systems(p["table"], p["dataset"], p.get("suffix", ""), p.get("loss", "weighted"))[row]]
            assert r.params == {**seed0.params, **({"seed": seed} if seed else {})}, (e.id, row, seed)
            assert r.params["method"] == "lddgan" and r.params["num_timesteps"] == 4, (e.id, row)
            assert r.params["dataset"] == p["dataset"], (e.id, row)
        loss = {row: by_id[n].params.get("overrides", {}).get("rec_loss", "weighted") for row, n in systems.items()}
        if p["table"] == "T6":
            assert loss == {"AdvLoss": "none", "AdvLoss + RecLoss": "fixed", "AdvLoss + RecLoss + WL": "weighted"}, e.id
        else:                                              # T7 / T12: every row under the table's one loss
            assert set(loss.values()) == {{"weighted": "weighted", "adv": "none"}[p.get("loss", "weighted")]}, (e.id, loss)
        steps = {by_id[n].params.get("steps") for n in systems.values()}
        assert len(steps) == 1, (e.id, steps)              # one training length per table
        if p["table"] == "T7":                             # the KL row on the KL autoencoder, the other on the VQ one
            kinds = {row: by_id[n].params.get("autoencoder_kind", "vq") for row, n in systems.items()}
            assert kinds == {"LDDGAN on AE with KL": "kl", "LDDGAN on AE without KL": "vq"}, e.id
        if p["table"] == "T12":
            bb = {row: by_id[n].params.get("overrides", {}).get("backbone", "unet") for row, n in systems.items()}
            assert bb == {"CNN UNet": "unet", "ViT UNet": "vit"}, e.id
    assert ablation_systems("T6", "synthfaces_zoom", "-8k")["AdvLoss"] == "LDDGAN-T6-adv-synthfaces_zoom-8k"
    assert ablation_systems("T12", "synthfaces_zoom", "-8k", "adv") == {
        "CNN UNet": "LDDGAN-T6-adv-synthfaces_zoom-8k", "ViT UNet": "LDDGAN-T12-vit-adv-synthfaces_zoom-8k"}
    assert ablation_systems("T6", "synthfaces_zoom", "-8k-constlr", train_seed=1)["AdvLoss + RecLoss"] == \
        "LDDGAN-T6-fixed-synthfaces_zoom-8k-constlr-s1"
    assert any(len(e.params.get("train_seeds", [0])) > 1 for e in tables)
    with pytest.raises(ValueError, match="non-negative"):
        ablation_systems("T6", train_seed=-1)
    with pytest.raises(ValueError, match="T6, T7 or T12"):
        ablation_systems("T5")
    with pytest.raises(ValueError, match="compares G's losses"):
        ablation_systems("T6", loss="adv")
    with pytest.raises(ValueError, match="loss must be"):
        ablation_systems("T7", loss="fixed")


def test_a_table_row_over_training_seeds_averages_and_every_seed_must_learn():
    """lddgan_ablation.ipynb reads each row over its training seeds: FID by over_training_seeds, the rest as means,
    and the learning bar holds only when every seed of every row passes it (a mean can pass with one seed below)."""
    q = lambda fid, std, rec, gap: {"FID": fid, "FID_std": std, "recall": rec, "precision": 0.5, "gap": gap}  # noqa: E731
    rows, ok = study.quality_over_training_seeds({"A": [q(10.0, 0.1, 0.40, 0.90), q(12.0, 0.3, 0.36, 0.88)],
                                                  "B": [q(20.0, 0.2, 0.50, 0.80)]})
    assert ok and rows["A"]["n_seeds"] == 2 and rows["B"]["n_seeds"] == 1
    assert (rows["A"]["FID"], rows["A"]["FID_std"]) == study.over_training_seeds([(10.0, 0.1), (12.0, 0.3)])
    assert rows["A"]["recall"] == pytest.approx(0.38) and rows["A"]["gap"] == pytest.approx(0.89)
    assert [r["FID"] for r in rows["A"]["seeds"]] == [10.0, 12.0]
    assert (rows["B"]["FID"], rows["B"]["FID_std"]) == (20.0, 0.2)
    rows, ok = study.quality_over_training_seeds({"A": [q(10.0, 0.1, 0.34, 0.90), q(12.0, 0.3, 0.28, 0.88)]})
    assert rows["A"]["recall"] == pytest.approx(0.31) and study.learned(rows["A"]["gap"], rows["A"]["recall"])
    assert not ok                                          # seed 1 is below the recall bar, the mean is not
    with pytest.raises(ValueError, match="no training seed"):
        study.quality_over_training_seeds({"A": []})


def test_measured_with_compares_the_loaded_network_by_weights_then_file():
    # Table 2's DDIM rows measure FIDs now, with the network loaded here; they compare with the rows' FIDs only when
    # that network has the rows' weights (a network retrained on another machine keeps its name, not its weights)
    from types import SimpleNamespace
    from semlib import recipes
    row = {"entry": "PDDGAN-T1-full", "eval_net": "ssl", "eval_net_sha": "f" * 64, "eval_net_weights_sha": "w" * 64}
    net = lambda name="ssl", f="g" * 64, w="w" * 64: SimpleNamespace(name=name, info={"file_sha256": f, "weights_sha256": w})
    assert recipes.measured_with([row], net())                           # same weights, another file: comparable
    assert not recipes.measured_with([row], net(w="v" * 64))             # other weights, same name
    assert not recipes.measured_with([row], net(name="dom"))             # another network
    old = dict(row, eval_net_weights_sha=None)                           # a row that records the file's hash only
    assert recipes.measured_with([old], net(f="f" * 64, w="v" * 64))
    assert not recipes.measured_with([old], net())
    assert recipes.measured_with([dict(old, eval_net_sha=None)], net())   # nothing recorded: the name decides
