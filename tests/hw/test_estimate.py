"""The estimator's pure functions: quant table, catalogs, memory fit, speed model, validation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from llmbox.config import configs_dir
from llmbox.errors import ConfigError, UsageError
from llmbox.hw import fit as F
from llmbox.hw.chips import Catalog, _proc_facts, chip_from_facts, parse_catalog
from llmbox.hw.estimate import Workload, estimate, prefill_flops
from llmbox.hw.models import ModelCatalog, from_params
from llmbox.hw.quant import QUANTS, lookup


def test_exact_quant_sizes_match_ggml_block_layouts() -> None:
    gguf = pytest.importorskip("gguf")
    sizes = gguf.constants.GGML_QUANT_SIZES
    types = gguf.constants.GGMLQuantizationType
    for q in QUANTS.values():
        if q.exact:
            block, nbytes = sizes[types[q.name]]
            assert q.bits_per_weight == pytest.approx(nbytes * 8 / block), q.name


def test_quant_lookup_aliases_and_unknown() -> None:
    assert lookup("q4_k_m").bits_per_weight == pytest.approx(4.85)
    assert lookup("1.58bit").name == "TQ1_0"
    with pytest.raises(UsageError, match="unknown quantization") as err:
        lookup("q4_k_z")
    assert err.value.hint is not None
    assert "Q4_K_M" in err.value.hint


@pytest.mark.parametrize(
    ("name", "chip_id"),
    [
        ("m4pro", "m4pro-20c"),
        ("M4 Pro", "m4pro-20c"),
        ("m4-pro", "m4pro-20c"),
        ("4090", "rtx4090"),
        ("Apple M2", "m2-8c"),
        ("h100", "h100-sxm"),
        ("m2-8c", "m2-8c"),
    ],
)
def test_chip_aliases(catalog: Catalog, name: str, chip_id: str) -> None:
    assert catalog.resolve(name).id == chip_id


def test_unknown_chip_suggests_close_names(catalog: Catalog) -> None:
    with pytest.raises(UsageError) as err:
        catalog.resolve("m4 prro")
    assert err.value.hint is not None
    assert "m4pro-20c" in err.value.hint


def test_catalog_covers_the_issue_list(catalog: Catalog) -> None:
    ids = set(catalog.chips)
    for prefix in (
        "m1-",
        "m1pro",
        "m1max",
        "m1ultra",
        "m2-",
        "m2pro",
        "m2max",
        "m2ultra",
        "m3-",
        "m3pro",
        "m3max",
        "m3ultra",
        "m4-",
        "m4pro",
        "m4max",
    ):
        assert any(i.startswith(prefix) for i in ids), prefix
    for chip in (
        "rtx3090",
        "rtx4090",
        "rtx5090",
        "t4",
        "l4",
        "a10",
        "a100-40gb",
        "a100-80gb",
        "h100-pcie",
        "h100-sxm",
        "h200",
        "jetson-agx-orin",
        "dgx-spark",
        "rx7900xtx",
        "mi300x",
        "ryzen-ai-max-395",
        "cpu-ddr4-3200",
        "cpu-ddr5-5600",
    ):
        assert chip in ids
    assert all(c.source for c in catalog.chips.values())


def test_catalog_rejects_unknown_field_with_line(tmp_path: Path) -> None:
    text = (
        (configs_dir() / "chips.yaml")
        .read_text()
        .replace("    bw_gbs: 273\n", "    bw_gbs: 273\n    bandwith: 1\n", 1)
    )
    path = tmp_path / "chips.yaml"
    path.write_text(text)
    import yaml

    with pytest.raises(
        ConfigError, match=r"chips\.yaml:\d+: unknown key 'bandwith' in chips\.\d+ \("
    ):
        parse_catalog(yaml.safe_load(text), path, text)


def test_this_machine_from_proc_facts(catalog: Catalog) -> None:
    facts = _proc_facts(
        "model name\t: AMD EPYC\ncpu MHz\t\t: 2445.4\nflags\t\t: fpu avx avx2 fma\n",
        "MemTotal:       24683656 kB\n",
        2,
    )
    chip = chip_from_facts(facts, catalog)
    assert chip.kind == "cpu"
    assert chip.cpu_cores == 2
    assert chip.bw_gbs == 20.0  # 2 cores x 10 GB/s, below the dual-channel figure
    assert chip.fp16_tflops == pytest.approx(2 * 2.4454 * 32 / 1000, rel=1e-2)
    assert chip.memory_gb == (25.3,)


def test_decode_is_bandwidth_bound(catalog: Catalog, models: ModelCatalog) -> None:
    model = models.resolve("llama3.1:8b")
    slow = estimate(catalog.resolve("m2"), catalog, model, Workload())
    fast = estimate(catalog.resolve("m2ultra"), catalog, model, Workload())
    ratio = fast.decode_tps / slow.decode_tps
    assert 4 < ratio < 8  # 8x the bandwidth, less the fixed per-layer cost
    assert fast.prefill_tps > slow.prefill_tps * 5


def test_prefill_flops_include_attention(models: ModelCatalog) -> None:
    m = models.resolve("llama2:7b")
    assert prefill_flops(m, 1) == pytest.approx(2 * m.params, rel=1e-3)
    # 2 x layers x heads x head_dim x N² on top: +16% per token at 8k context for Llama-2-7B
    assert prefill_flops(m, 8192) / 8192 == pytest.approx(2 * m.params * 1.16, rel=0.01)


def test_memory_verdicts(catalog: Catalog, models: ModelCatalog) -> None:
    big = models.resolve("llama3.3:70b")
    assert estimate(catalog.resolve("m4max"), catalog, big, Workload()).memory.verdict == "fits"
    part = estimate(catalog.resolve("rtx4090"), catalog, big, Workload())
    assert part.memory.verdict == "partial"
    assert 0 < part.memory.gpu_fraction < 1
    full = estimate(catalog.resolve("rtx4090"), catalog, models.resolve("llama3.1:8b"), Workload())
    assert part.decode_tps < full.decode_tps / 5  # the CPU share dominates
    nofit = estimate(catalog.resolve("m1"), catalog, big, Workload(memory_gb=16))
    assert nofit.memory.verdict == "does-not-fit"


def test_images_add_encoder_time(catalog: Catalog, models: ModelCatalog) -> None:
    m = models.resolve("llama3.2-vision:11b")
    chip = catalog.resolve("m4pro")
    plain = estimate(chip, catalog, m, Workload(prompt_tokens=18, gen_tokens=78))
    image = estimate(chip, catalog, m, Workload(prompt_tokens=18, gen_tokens=78, images=1))
    assert image.ttft_s > plain.ttft_s + 0.1
    # Each token also reads the 8 cross-attention layers' image cache (F32, 4 tiles): a little slower.
    assert 0.9 * plain.decode_tps < image.decode_tps < plain.decode_tps


def test_m4pro_time_is_about_0_4_of_m2(catalog: Catalog, models: ModelCatalog) -> None:
    m = models.resolve("llama3.2-vision:11b")
    w = Workload(prompt_tokens=18, gen_tokens=78, images=1, memory_gb=24)
    m2 = estimate(catalog.resolve("m2-8c"), catalog, m, w)
    m4 = estimate(catalog.resolve("m4pro"), catalog, m, w)
    assert m2.memory.verdict == m4.memory.verdict == "fits"  # like for like
    assert 0.35 <= m4.e2e_s / m2.e2e_s <= 0.45


@pytest.mark.parametrize(
    "bad", [Workload(prompt_tokens=-1), Workload(gen_tokens=-5), Workload(context=0)]
)
def test_bad_workload_is_usage_error(bad: Workload) -> None:
    with pytest.raises(UsageError):
        bad.validate()


def test_from_params_guesses_a_shape() -> None:
    m = from_params("7b", "q4_k_m")
    assert m.quant == "Q4_K_M"
    assert 20 < m.layers < 40
    assert m.weight_bytes == pytest.approx(7e9 * 4.85 / 8)


def test_json_uses_bench_metric_names(catalog: Catalog, models: ModelCatalog) -> None:
    d = estimate(
        catalog.resolve("m4pro"), catalog, models.resolve("llama3.2:3b"), Workload()
    ).to_dict()
    for key in ("prefill_tps", "decode_tps", "ttft_s", "e2e_s"):
        assert isinstance(d[key], float)


# --- validation against published measurements ------------------------------------------------


@pytest.fixture(scope="module")
def observations(catalog: Catalog, models: ModelCatalog) -> list[F.Observation]:
    obs, sources = F.load_observations(configs_dir() / "hw_validation.yaml", catalog, models)
    assert all(o.source in sources for o in obs)
    return obs


@pytest.fixture(scope="module")
def left_out(catalog: Catalog, observations: list[F.Observation]) -> F.Report:
    return F.leave_one_chip_out(observations, catalog)


def test_validation_table_is_broad(observations: list[F.Observation]) -> None:
    assert len(observations) >= 350
    assert sum(o.chip.vendor != "apple" for o in observations) > len(observations) / 2
    assert sum(o.runner == "ollama" for o in observations) >= 25
    assert max(max(o.pp, o.tg) for o in observations) >= 8192
    sizes = {round(o.model.params / 1e9) for o in observations}
    assert min(sizes) <= 3
    assert max(sizes) >= 65
    assert any(o.model.active < o.model.params for o in observations)  # a MoE


def test_in_sample_error(catalog: Catalog, observations: list[F.Observation]) -> None:
    report = F.score(observations, catalog)
    assert report.median_ape("decode") <= 8.0
    assert report.median_ape("prefill") <= 12.0


def test_left_out_error_does_not_regress(left_out: F.Report) -> None:
    """Issue 13's overall bar, 8 % decode / 12 % prefill left out, is met (7.3 % / 8.9 % when
    written, with the llama.cpp build eras); so are the groups that met 15 %."""
    assert left_out.median_ape("decode") <= 8.0
    assert left_out.median_ape("prefill") <= 12.0
    for group in ("apple", "geforce"):
        for metric in ("decode", "prefill"):
            assert left_out.median_ape(metric, lambda o, g=group: o.chip.group == g) <= 15.0
    assert left_out.median_ape("decode", lambda o: o.chip.group == "datacenter") <= 15.0


def test_llmbox_beats_the_naive_rule(catalog: Catalog, observations: list[F.Observation]) -> None:
    ours, naive = F.score(observations, catalog), F.naive(observations)
    assert naive.median_ape("decode") > 1.5 * ours.median_ape("decode")
    nv = lambda o: o.chip.vendor == "nvidia"  # noqa: E731
    assert naive.median_ape("prefill", nv) > 1.5 * ours.median_ape("prefill", nv)


def test_shipped_bands_are_the_left_out_spread(catalog: Catalog, left_out: F.Report) -> None:
    fitted = F.bands(left_out)
    assert fitted.keys() == catalog.bands.keys()
    for key, band in fitted.items():
        assert catalog.bands[key].decode == pytest.approx(band.decode, abs=2e-3), key
        assert catalog.bands[key].rows == band.rows


def test_doc_table_is_current() -> None:
    """docs/hw-estimate.md's table carries a fingerprint of the configs it was computed from:
    change a row, a chip or a factor and rerun `python benchmarks/hw_validation.py --doc`."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "hw_validation.py"
    spec = importlib.util.spec_from_file_location("hw_validation", path)
    assert spec
    assert spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    text = mod.DOC.read_text()
    assert mod.BEGIN in text
    assert mod.END in text
    assert f"inputs {mod.fingerprint()}" in text, "stale: run benchmarks/hw_validation.py --doc"


def test_decode_slows_as_the_cache_fills(catalog: Catalog, models: ModelCatalog) -> None:
    chip, model = catalog.resolve("4090"), models.resolve("llama3.1:8b")
    short = estimate(chip, catalog, model, Workload(prompt_tokens=64, gen_tokens=64))
    long = estimate(
        chip, catalog, model, Workload(prompt_tokens=64, gen_tokens=64, depth=8000, context=8192)
    )
    assert long.decode_tps < 0.95 * short.decode_tps


def test_long_prompts_process_slower_per_token(catalog: Catalog, models: ModelCatalog) -> None:
    chip, model = catalog.resolve("4090"), models.resolve("llama3.1:8b")
    rate = {
        n: estimate(chip, catalog, model, Workload(prompt_tokens=n, gen_tokens=1)).prefill_tps
        for n in (512, 8192)
    }
    assert rate[8192] < 0.8 * rate[512]


def test_estimates_carry_a_band(catalog: Catalog, models: ModelCatalog) -> None:
    est = estimate(catalog.resolve("m4pro"), catalog, models.resolve("llama3.2:3b"), Workload())
    assert est.decode_band is not None
    lo, hi = est.decode_band
    assert lo < est.decode_tps < hi
    d = est.to_dict()["band"]
    assert d["percentiles"] == [10, 90]
    assert d["validation_rows"] >= 8


def test_shipped_factors_are_the_fitted_ones(
    catalog: Catalog, observations: list[F.Observation]
) -> None:
    fitted = F.fit_compute(observations, catalog)
    for name in F.fit_all(observations, catalog):
        fam, shipped = fitted.families[name], catalog.families[name]
        assert shipped.decode_bw_eff == pytest.approx(fam.decode_bw_eff, abs=1e-3), name
        assert shipped.prefill_eff == pytest.approx(fam.prefill_eff, abs=1e-3), name
        assert shipped.decode_kv_cost == fam.decode_kv_cost, name
        assert shipped.prefill_attn_cost == fam.prefill_attn_cost, name
    for name, arch in fitted.architectures.items():
        assert catalog.architectures[name].prefill_tflops_per_w == arch.prefill_tflops_per_w, name


def test_fit_recovers_known_factors(catalog: Catalog, models: ModelCatalog) -> None:
    fam = catalog.families["apple-metal"]
    truth = replace(fam, decode_bw_eff=0.8, decode_layer_ms=0.2, prefill_eff=0.6)
    synthetic = F.with_families(catalog, {"apple-metal": truth})
    obs = []
    for chip in ("m1max", "m2max", "m4pro", "m3ultra"):
        for q in ("Q4_0", "F16"):
            o = F.Observation(
                chip=catalog.resolve(chip),
                model=models.resolve("llama2:7b").__class__(
                    **{**models.resolve("llama2:7b").__dict__, "quant": q}
                ),
                pp=512,
                tg=128,
            )
            r = F.score([o], synthetic).rows[0]
            obs.append(
                F.Observation(
                    chip=o.chip,
                    model=o.model,
                    pp=512,
                    tg=128,
                    prefill_tps=r.prefill_pred,
                    decode_tps=r.decode_pred,
                )
            )
    got = F.fit_family(fam, obs, label="t")
    assert got.decode_bw_eff == pytest.approx(0.8, rel=0.02)
    assert got.decode_layer_ms == pytest.approx(0.2, rel=0.05)
    assert got.prefill_eff == pytest.approx(0.6, rel=0.02)


def test_catalog_cache_is_used_and_survives_corruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmbox.yamlio import _cache_file, read_yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = configs_dir() / "chips.yaml"
    data, text = read_yaml(path, cache=True)
    cache = _cache_file(path, text)
    assert cache.is_file()
    cache.write_text("{not json")
    again, _ = read_yaml(path, cache=True)
    assert again == data


@pytest.mark.parametrize(
    ("name", "chip_id", "field", "value"),
    [
        ("m2", "m2-8c", "gpu_cores", 8),  # base MacBook Airs have the 8-core GPU
        ("m3", "m3-8c", "gpu_cores", 8),
        ("m4", "m4-8c", "gpu_cores", 8),
        ("orin nano", "jetson-orin-nano", "bw_gbs", 68),
        ("orin nano super", "jetson-orin-nano-super", "bw_gbs", 102),
        ("rtx pro 6000", "rtxpro6000", "fp16_tflops", 504),
        ("a770", "arc-a770", "bw_gbs", 560),
        ("a770 8gb", "arc-a770-8gb", "bw_gbs", 512),
        ("3080 12gb", "rtx3080-12gb", "bw_gbs", 912),
    ],
)
def test_catalog_corrections_of_issue_13(
    catalog: Catalog, name: str, chip_id: str, field: str, value: float
) -> None:
    chip = catalog.resolve(name)
    assert chip.id == chip_id
    assert getattr(chip, field) == value


def test_m2_max_30c_is_not_sold_with_96gb(catalog: Catalog) -> None:
    assert 96 not in catalog.resolve("m2max-30c").memory_gb
    assert 96 in catalog.resolve("m2max-38c").memory_gb


def test_power_and_price_reach_json_and_cite_a_source(catalog: Catalog) -> None:
    from llmbox.hw.chips import as_dict

    d = as_dict(catalog.resolve("4090"), catalog)
    assert (d["board_power_w"], d["launch_price_usd"]) == (450, 1599)
    assert any("tdp 450" in v for v in d["sources"].values())
