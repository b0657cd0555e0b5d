"""Tables: rows and columns per config, every number traced to a metrics file, paper numbers, plot, report."""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from citi.config import load_config, paper_combinations, paper_configfiles
from citi.errors import ConfigError, RecordError, SourceError
from citi.io import read_json, write_json
from citi.tables import build, paper, render, spec, verdict
from citi.tables.plot import plot, points

REPO = Path(__file__).resolve().parents[1]
METRIC_NAMES = ("call_correctness_official", "call_correctness_corrected", "rouge_l", "accuracy", "pass@1",
                "mt_bench", "P", "R", "O", "TS", "PI", "CF", "answer_nll", "choice_accuracy")


def fake_metrics(config: dict, root: Path, tables=("main",), seed: int = 0) -> None:
    """Hand-made metrics.json files (the evaluators' format) for every input the tables need."""
    rng = random.Random(seed)
    for table in tables:
        for rel in spec.required_inputs(config, table):
            if (root / rel).exists():
                continue
            write_json(root / rel, {"benchmark": rel.split("/")[-2], "model": rel.split("/")[2],
                                    "method": rel.split("/")[3], "scorer": "hand-made",
                                    "metrics": {m: round(rng.uniform(0, 100), 4) for m in METRIC_NAMES},
                                    "n": rng.randint(3, 9), "cap": None, "item_ids": [], "config_hash": "hand"})


def main_rows(config: dict) -> list[str]:
    """The main table's methods as the config asks for them: base, then tables.main_methods that exist."""
    wanted = [m for m in config["tables"]["main_methods"] if m in config["methods"]]
    assert {"ft", "lora", "citi"} <= set(wanted)  # the paper's Table 3 rows are always there
    return ["base", *wanted]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def test_config():
    """The test config with every benchmark run for every method (as in the paper configs)."""
    config = load_config(REPO / "config/test.yaml")
    config["evaluation"]["general"]["methods"] = None
    for bench in config["evaluation"]["benchmarks"].values():
        bench["methods"] = None
    return config


def test_main_table_rows_columns_and_every_number_traced(test_config, tmp_path):
    fake_metrics(test_config, tmp_path)
    table = build.build(test_config, "main", tmp_path)
    out = tmp_path / "results/tables"
    render.write(table, out / "main.csv", out / "main.md", out / "main.sources.json")
    rows = read_csv(out / "main.csv")
    model = next(iter(test_config["models"]))
    assert [(r["model"], r["method"]) for r in rows] == [(model, m) for m in main_rows(test_config)]
    names = [c["name"] for c in test_config["tables"]["columns"] if c.get("table", "main") == "main"]
    assert list(rows[0])[:4] == ["model", "method", "label", "config_hash"]
    assert [h for h in rows[0] if h in names] == names
    assert not any(h.endswith(" paper") for h in rows[0])  # no paper setting in the test config
    sources = read_json(out / "main.sources.json")
    for row, src in zip(rows, sources["rows"]):
        assert row["config_hash"] == "hand"
        for col in spec.columns(test_config, "main"):
            cell = src["cells"][col.name]
            files = [cell["path"]] if isinstance(cell["path"], str) else cell["path"]
            if spec.not_evaluated(test_config, spec.Row(row["model"], row["method"], "", ""), col):
                # the config skips this benchmark for this method: an empty cell that says so, no file read
                assert row[col.name] == "" and cell["why"] and not (tmp_path / files[0]).exists()
                continue
            data = [read_json(tmp_path / f) for f in files]
            assert [f"results/eval/{row['model']}/{row['method']}/{b}/metrics.json" for b in spec.benchmarks(col)] == files
            n = sum(d["n"] for d in data)
            pooled = sum(d["metrics"][col.metric] * d["n"] for d in data) / n
            assert float(row[col.name]) == pytest.approx(round(pooled, 2), abs=1e-9)
            assert int(row[f"{col.name} n"]) == n
    md = (out / "main.md").read_text()
    assert all(name in md for name in names) and "main.sources.json" in md


def test_benchmark_methods_limit_evaluation_and_table_inputs(tmp_path):
    """evaluation.general.methods / evaluation.benchmarks.<b>.methods: only those rows need the metrics."""
    test_config = load_config(REPO / "config/test.yaml")
    general = test_config["evaluation"]["general"]["methods"]
    needed = spec.required_inputs(test_config, "main")
    assert len(general) < len(spec.rows(test_config, "main"))  # the limit is really exercised
    for bench in {b for c in spec.columns(test_config) for b in spec.benchmarks(c)} & \
            set(test_config["evaluation"]["general"]["benchmarks"]):
        assert {p.split("/")[3] for p in needed if p.split("/")[4] == bench} == set(general)
    extra = spec.required_inputs(test_config, "extra")  # MT-Bench: a column of the extra table
    assert {p.split("/")[3] for p in extra if p.split("/")[4] == "mt_bench"} == \
        set(test_config["evaluation"]["benchmarks"]["mt_bench"]["methods"])
    bad = {**test_config, "evaluation": {**test_config["evaluation"], "benchmarks": {
        **test_config["evaluation"]["benchmarks"], "mt_bench": {**test_config["evaluation"]["benchmarks"]["mt_bench"],
                                                              "methods": ["base", "nosuch"]}}}}
    with pytest.raises(ConfigError, match=r"evaluation\.benchmarks\.mt_bench\.methods.*nosuch"):
        spec.required_inputs(bad, "extra")
    fake_metrics(test_config, tmp_path)  # only what is needed: the skipped cells are empty and marked
    table = build.build(test_config, "main", tmp_path)
    lora = next(r for r in table["rows"] if r["method"] == "lora")
    assert lora["cells"]["math (embedded)"]["value"] is None and lora["cells"]["math (embedded)"]["why"]
    assert "n/e" in render.to_markdown(table)


def test_missing_metrics_file_is_named_unless_optional(test_config, tmp_path):
    fake_metrics(test_config, tmp_path)
    victim = tmp_path / "results/eval/tiny/lora/embedded_math/metrics.json"
    victim.unlink()
    with pytest.raises(SourceError, match="results/eval/tiny/lora/embedded_math/metrics.json"):
        build.build(test_config, "main", tmp_path)
    for col in test_config["tables"]["columns"]:
        col["optional"] = col["benchmark"] == "embedded_math"
    assert "results/eval/tiny/lora/embedded_math/metrics.json" not in spec.required_inputs(test_config, "main")
    table = build.build(test_config, "main", tmp_path)
    lora = next(r for r in table["rows"] if r["method"] == "lora")
    assert lora["cells"]["math (embedded)"]["value"] is None
    assert render.csv_rows(table)[2][render.header(table).index("math (embedded)")] == ""


def test_missing_metric_key_names_file_and_key(test_config, tmp_path):
    fake_metrics(test_config, tmp_path)
    path = tmp_path / "results/eval/tiny/ft/humaneval/metrics.json"
    data = read_json(path)
    del data["metrics"]["pass@1"]
    write_json(path, data)
    with pytest.raises(RecordError, match=r"humaneval/metrics.json: metric 'pass@1'.*HumanEval"):
        build.build(test_config, "main", tmp_path)


def parse_paper_document(text: str) -> dict:
    """(table, backbone, row, column) -> value, read from paper-results.md independently of the package file."""
    backbones = {"Llama": "llama-3-8b-instruct", "Phi": "phi-3-mini", "Mistral": "mistral-7b-instruct-v0.2"}
    rows = {"FT": "ft", "LoRA": "lora", "CITI": "citi", "base": "base", "FT+DM": "ft_dm", "LoRA+DM": "lora_dm",
            "UCO only": "uco_only", "RP+MI": "rp_mi", "w/o MOLoRA": "wo_molora", "w/o L_r": "wo_lr", "w/o RP": "wo_rp",
            "LoRA top": "top20_lora", "LoRA bottom": "bottom20_lora", "LoRA random": "random20_lora",
            "Full top": "top20_full", "Full bottom": "bottom20_full", "Full random": "random20_full"}
    out = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        number = int(re.match(r"Table (\d)", section).group(1))
        lines = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
        head, body = [c.strip() for c in lines[0]], [[c.strip() for c in line] for line in lines[2:]]
        current = "llama-3-8b-instruct"
        for cells in body:
            if number in (3, 4):
                current = backbones[cells[0].split("-")[0]] if cells[0] else current
                key, values, names = rows[cells[1]], cells[2:], head[2:]
            elif number == 1:
                for label, value in zip(head[1:], cells[1:]):
                    out[(f"table1", current, label, cells[0])] = float(value)
                continue
            else:
                key, values, names = rows[cells[0]], cells[1:], head[1:]
            for name, value in zip(names, values):
                out[(f"table{number}", current, key, name)] = float(value)
    return out


def test_paper_numbers_match_paper_results_document():
    doc = next((p for p in (REPO.parent / "shared/docs/paper-results.md", Path("/work/shared/docs/paper-results.md"))
                if p.is_file()), None)
    if doc is None:
        pytest.skip("shared/docs/paper-results.md is not beside the repository")
    expected = parse_paper_document(doc.read_text())
    assert len(expected) == 4 * 5 + 6 * 6 + 3 * 4 * 6 + 3 * 4 * 7 + 7 * 6 + 7 * 7
    for (table, backbone, row, column), value in expected.items():
        assert paper.paper_number(table, backbone, row, column) == value, (table, backbone, row, column)
    stored = sum(len(cols) for t in paper.paper_tables().values() for b in t.values() for cols in b.values())
    assert stored == len(expected)  # nothing in the package file that the document does not say


def test_paper_numbers_stand_beside_ours_only_in_the_papers_setting(tmp_path):
    config = load_config(paper_configfiles("llama-3-8b-instruct", "toolalpaca"))
    fake_metrics(config, tmp_path, tables=("main", "ablations"))
    main = build.build(config, "main", tmp_path)
    citi = next(r for r in main["rows"] if r["method"] == "citi")
    assert citi["cells"]["O"]["paper"] == 72.81 and citi["cells"]["MT"]["paper"] == 76.67
    assert citi["cells"]["TQA (rc validation)"]["paper"] is None  # not the paper's TriviaQA set
    assert "TQA (rc validation) paper" not in render.header(main) and "O paper" in render.header(main)
    ablations = build.build(config, "ablations", tmp_path)
    assert next(r for r in ablations["rows"] if r["method"] == "wo_rp")["cells"]["P"]["paper"] == 70.18
    config["tables"]["paper"]["backbones"] = {}  # another backbone: no paper numbers
    assert all(c["paper"] is None for r in build.build(config, "main", tmp_path)["rows"] for c in r["cells"].values())


def test_the_papers_backbones_stand_beside_another_backbone_as_a_reference(tmp_path):
    """SmolLM2 on API-Bank (issue 19): Table 3's Llama-3 / Phi-3 / Mistral numbers beside each reproduced column,
    FT+DM and LoRA+DM from Table 5 (Llama-3 only), none for rows and columns the paper lacks."""
    config = load_config(paper_configfiles("llama-3-8b-instruct", "api-bank"))
    config["tables"]["paper"] = {"tool_dataset": "api_bank", "backbones": {},
                                 "reference": ["llama-3-8b-instruct", "phi-3-mini", "mistral-7b-instruct-v0.2"]}
    config["tables"]["main_methods"] = ["ft", "lora", "ft_dm", "lora_dm", "citi", "wo_rp"]
    fake_metrics(config, tmp_path)
    main = build.build(config, "main", tmp_path)
    rows = {r["method"]: r["cells"] for r in main["rows"]}
    assert rows["ft"]["C"]["paper"] is None  # not the paper's backbone: no number in our cell's place
    assert rows["ft"]["C"]["paper_reference"] == {"llama-3-8b-instruct": 56.48, "phi-3-mini": 61.75,
                                                  "mistral-7b-instruct-v0.2": 47.88}
    assert rows["base"]["GSM"]["paper_reference"]["mistral-7b-instruct-v0.2"] == 44.81
    assert rows["ft_dm"]["HE"]["paper_reference"] == {"llama-3-8b-instruct": 29.88, "phi-3-mini": None,
                                                      "mistral-7b-instruct-v0.2": None}
    assert set(rows["wo_rp"]["R"]["paper_reference"].values()) == {38.13, None}  # Table 5 row, in the main table
    assert set(rows["citi"]["TQA (rc validation)"]["paper_reference"].values()) == {None}  # no paper key
    head = render.header(main)
    assert "C paper phi-3-mini" in head and "C paper" not in head and "TQA (rc validation) paper phi-3-mini" not in head
    line = next(r for r in render.csv_rows(main) if r[1] == "ft")
    assert line[head.index("C paper llama-3-8b-instruct")] == "56.48" and line[head.index("C paper phi-3-mini")] == "61.75"
    text = render.to_markdown(main)
    assert "| C | C: paper Llama-3-8B / Phi-3-mini / Mistral-7B | C (corrected) |" in text
    ft_line = next(l for l in text.splitlines() if l.startswith("| llama-3-8b-instruct | FT |"))
    assert "| 56.48 / 61.75 / 47.88 |" in ft_line and "| 29.88 / – / – |" in next(
        l for l in text.splitlines() if l.startswith("| llama-3-8b-instruct | FT+DM |"))
    assert "compare the pattern across rows" in text
    config["tables"]["paper"]["tool_dataset"] = None
    with pytest.raises(ConfigError, match="tables.paper.reference"):
        spec.paper_setting(config)


def test_all_builds_the_baselines_table_when_all_methods_holds_every_baseline():
    """The embedded default's `all` (narrowed by all_methods) builds the baselines table: the main rows, then
    every baseline, on the main columns (BFCL's among them); the ablation table stays `full`'s. Leave one
    baseline out of all_methods and `all` does not build a table it could not fill."""
    config = load_config(REPO / "config/config.yaml")
    baselines = ["wise_ft05", "ties20", "dare90", "freeze_bottom25"]
    assert [r.method for r in spec.rows(config, "baselines")] == ["base", "ft", "lora", "citi", *baselines]
    assert {"BFCL non-live AST", "BFCL irrelevance", "BFCL gold-call NLL"} <= {c.name for c in spec.columns(config, "baselines")}
    assert spec.columns(config, "baselines") == spec.columns(config, "main")
    built = spec.targets(config, scope=config["all_methods"])
    assert "results/tables/baselines.csv" in built and "results/tables/ablations.csv" not in built
    assert {"results/tables/baseline_differences.csv", "results/figures/pareto_baselines.png"} <= set(built)
    assert "results/figures/pareto.png" not in built  # every method's plane: `full`'s
    assert {"results/tables/baselines.csv", "results/tables/ablations.csv"} <= set(spec.targets(config))  # full
    assert "results/tables/baselines.csv" not in spec.targets(config, scope=["ft", "lora", "citi", *baselines[1:]])
    config["methods"] = {m: s for m, s in config["methods"].items() if m not in baselines}
    assert not spec.has_rows(config, "baselines")


def test_the_baselines_table_builds_with_every_row_and_column_filled(tmp_path):
    config = load_config(REPO / "config/config.yaml")
    fake_metrics(config, tmp_path, tables=("baselines",))
    table = build.build(config, "baselines", tmp_path)
    assert [r["method"] for r in table["rows"]] == ["base", "ft", "lora", "citi", "wise_ft05", "ties20", "dare90",
                                                    "freeze_bottom25"]
    assert next(r for r in table["rows"] if r["method"] == "ties20")["label"] == "TIES (density 0.2, lambda=1)"
    filled = [c for r in table["rows"] for name, c in r["cells"].items() if not name.startswith(("TS ", "PI ", "CF "))]
    assert filled and all(c["value"] is not None for c in filled)


def test_a_paper_setting_that_is_not_the_configs_is_refused(test_config):
    test_config["tables"]["paper"]["tool_dataset"] = "api_bank"  # the test config trains on generated data
    with pytest.raises(ConfigError, match="tables.paper.tool_dataset"):
        spec.paper_setting(test_config)


def test_ablation_and_analysis_rows_follow_the_configured_methods():
    config = load_config(paper_configfiles("llama-3-8b-instruct", "api-bank"))
    # the paper's ablations in its order, then the reviewer's baselines (issue 22) in the config's
    assert [r.method for r in spec.rows(config, "ablations")] == [*spec.ABLATIONS, "wise_ft05", "ties20", "dare90",
                                                                   "freeze_bottom25"]
    analysis = [r.method for r in spec.rows(config, "analysis")]
    assert analysis[-6:] == list(spec.PARTIAL_TUNING)
    replaced = [m for m in spec.REPLACEMENT if m in config["methods"]]
    assert analysis[:len(replaced)] == replaced and ("base" in analysis) == bool(replaced)
    small = load_config(REPO / "config/test.yaml")
    small["methods"] = {m: small["methods"][m] for m in ("ft", "lora", "citi")}
    assert not spec.has_rows(small, "ablations") and not spec.has_rows(small, "analysis")


def test_tradeoff_plot_has_one_point_per_method_with_base(test_config, tmp_path):
    fake_metrics(test_config, tmp_path)
    table = build.build(test_config, "main", tmp_path)
    pts = points(table, tmp_path)
    assert [p["method"] for p in pts] == main_rows(test_config)
    assert all(p["tool_ci"] is None for p in pts)  # hand-made files without item scores: no error bars
    tool = [c.name for c in spec.columns(test_config) if c.kind == "tool" and c.plot]  # TS/PI/CF: details
    assert len(tool) < len([c for c in spec.columns(test_config) if c.kind == "tool"])
    base = table["rows"][0]["cells"]
    assert pts[0]["tool"] == pytest.approx(sum(base[n]["value"] for n in tool) / len(tool))
    png = tmp_path / "tradeoff.png"
    plot(table, png, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- end to end: the rules, and the report in a headless browser ---------------------------------

def snakemake(*args, cwd=REPO):
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args], cwd=cwd,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def chromium() -> str | None:
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def headless(url: str, profile: Path) -> str:
    browser = chromium()
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--dump-dom", url],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_rules_build_main_table_and_plot_and_the_report_shows_them(test_config, tmp_path):
    work = tmp_path / "run"
    fake_metrics(test_config, work)
    targets = ["results/tables/main.csv", "results/figures/tradeoff.png", "results/tables/verdict.md"]
    common = ["-d", str(work), "--allowed-rules", "make_table", "plot_tradeoff", "make_verdict"]
    snakemake(*targets, "--cores", "1", *common, "--configfile", str(REPO / "config/test.yaml"))
    rows = read_csv(work / "results/tables/main.csv")
    assert [r["method"] for r in rows] == main_rows(test_config)
    assert (work / "results/tables/main.md").is_file() and (work / "results/tables/main.sources.json").is_file()
    assert read_csv(work / "results/tables/differences.csv") and "(a) FT gains tool ability over base" in \
        (work / "results/tables/verdict.md").read_text()  # hand-made files have no item scores: no intervals
    report = work / "report.html"
    snakemake(*targets, "--cores", "1", *common, "--report", str(report), "--configfile", str(REPO / "config/test.yaml"))
    html = report.read_text()
    assert "Main results (paper Tables 3-4 layout)" in html and "Tool ability against general ability" in html
    if chromium() is None:
        reason = "no chromium to render the report: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the report to render. {reason}")
        pytest.skip(reason)
    dom = headless(report.as_uri(), tmp_path / "profile")
    assert "Tables" in dom and "Figures" in dom  # the report app rendered its categories
    # every embedded image must decode in the browser: load each data URI and read naturalWidth
    images = re.findall(r'"data_uri": "(data:image/[^"]+)"', html)
    assert images
    probe = tmp_path / "probe.html"
    probe.write_text("<html><body>" + "".join(f'<img src="{uri}">' for uri in images) +
                     "<script>window.onload = () => { document.body.setAttribute('data-widths', "
                     "Array.from(document.images).map(i => i.naturalWidth).join(',')); };</script></body></html>")
    widths = re.search(r'data-widths="([^"]*)"', headless(probe.as_uri(), tmp_path / "profile2")).group(1)
    assert len(widths.split(",")) == len(images) and all(int(w) > 0 for w in widths.split(",")), widths


@pytest.mark.parametrize("path", [[p] for p in sorted((REPO / "config").glob("*.yaml")) if p.name != "schema.yaml"]
                         + [paper_configfiles(b, t) for b, t in paper_combinations()],  # a paper setting's layers
                         ids=lambda files: "+".join(str(p.relative_to(REPO)) for p in files))
def test_every_config_evaluates_every_table_column(path):
    """A column naming a benchmark no evaluation produces would silently drop the tables from `all`."""
    config = load_config(path)
    assert spec.unproduced(config, spec.evaluated_benchmarks(config)) == []
    assert paths_main_table() in spec.targets(config)


def paths_main_table() -> str:
    from citi import paths

    return paths.MAIN_TABLE


# ---- intervals, paired differences and the verdict (issue 18) ------------------------------------------

PLANT_METHODS = ("base", "ft", "lora", "citi")


def plant_config(general_columns=(("nll", "gen_nll", "answer_nll", "lower"),)) -> dict:
    """A small config: base, FT, LoRA, CITI rows; one tool column (binary) and general column(s)."""
    cols = [{"name": "tool acc", "benchmark": "tools", "metric": "accuracy", "kind": "tool"}]
    cols += [{"name": n, "benchmark": b, "metric": m, "kind": "general", "direction": d}
             for n, b, m, d in general_columns]
    return {"name": "plant", "models": {"m": {}}, "methods": {m: {} for m in PLANT_METHODS[1:]},
            "evaluation": {"benchmarks": {c["benchmark"]: {} for c in cols}},
            "tables": {"columns": cols, "main_methods": list(PLANT_METHODS[1:]),
                       "bootstrap": {"seed": 1, "n_boot": 1000}}}


def plant(root: Path, method: str, benchmark: str, metric: str, values) -> None:
    """A metrics.json in the evaluators' format with item scores (ids shared across methods)."""
    items = {f"{benchmark}/{i}": float(v) for i, v in enumerate(values)}
    write_json(root / f"results/eval/m/{method}/{benchmark}/metrics.json",
               {"benchmark": benchmark, "model": "m", "method": method, "metrics": {metric: float(np.mean(values))},
                "n": len(values), "cap": None, "config_hash": "plant", "item_scores": {metric: items}})


def right(rng, n: int, p: float) -> np.ndarray:
    return np.where(rng.random(n) < p, 100.0, 0.0)


def plant_clear(root: Path, n: int = 300) -> None:
    """FT gains tool and loses general; LoRA and CITI keep general; CITI gains little tool ability."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(2.0, 0.4, n)  # per-item answer NLL shared by all methods
    for method, p_tool, nll_shift in (("base", 0.2, 0.0), ("ft", 0.7, 0.5), ("lora", 0.5, 0.2), ("citi", 0.25, 0.1)):
        plant(root, method, "tools", "accuracy", right(rng, n, p_tool))
        plant(root, method, "gen_nll", "answer_nll", difficulty + nll_shift + rng.normal(0, 0.05, n))


def build_and_judge(config: dict, root: Path) -> tuple[dict, list[dict], dict]:
    table = build.build(config, "main", root)
    boot = spec.bootstrap_settings(config)
    claims = {v["key"]: v for v in verdict.verdicts(table, boot, root)["m"]}
    return table, verdict.differences(table, boot, root), claims


def test_cells_carry_n_and_a_bootstrap_interval_shown_as_plus_minus(tmp_path):
    plant_clear(tmp_path)
    config = plant_config()
    table = build.build(config, "main", tmp_path)
    base = table["rows"][0]["cells"]["tool acc"]
    assert base["n"] == 300 and base["lo"] < base["value"] < base["hi"]
    assert table["bootstrap"] == {"n_boot": 1000, "seed": 1, "level": 0.95}
    assert build.build(config, "main", tmp_path) == table  # seeded: the same intervals every time
    out = tmp_path / "results/tables"
    render.write(table, out / "main.csv", out / "main.md", out / "main.sources.json")
    rows = read_csv(out / "main.csv")
    head = list(rows[0])
    assert head[4:8] == ["tool acc", "tool acc n", "tool acc lo", "tool acc hi"]
    assert float(rows[0]["tool acc lo"]) == pytest.approx(round(base["lo"], 2))
    md = (out / "main.md").read_text()
    assert f"{base['value']:.2f} ± {(base['hi'] - base['lo']) / 2:.2f}" in md
    assert "bootstrap" in md and "1000 resamples, seed 1" in md and "lower is better" in md


def test_a_file_without_item_scores_gives_no_interval_and_says_so(tmp_path):
    plant_clear(tmp_path)
    path = tmp_path / "results/eval/m/ft/tools/metrics.json"
    data = read_json(path)
    del data["item_scores"]
    write_json(path, data)
    config = plant_config()
    table, diffs, claims = build_and_judge(config, tmp_path)
    ft = table["rows"][1]["cells"]["tool acc"]
    assert ft["lo"] is None and ft["hi"] is None and "no item_scores" in ft["no_ci"]
    assert f"{ft['value']:.2f} (no CI)" in render.to_markdown(table)
    assert render.csv_rows(table)[1][render.header(table).index("tool acc lo")] == ""
    ft_base = next(d for d in diffs if d["comparison"] == "FT − base" and d["column"] == "tool acc")
    base = table["rows"][0]["cells"]["tool acc"]
    assert ft_base["lo"] is None and ft_base["difference"] == pytest.approx(ft["value"] - base["value"])
    assert claims["a"]["verdict"] == "cannot tell at this n" and "tools/metrics.json" in verdict.sentence(claims["a"])
    assert claims["b"]["verdict"] == "supported"  # the general column still has its items


def test_item_scores_that_do_not_average_to_the_metric_are_refused(tmp_path):
    plant_clear(tmp_path)
    path = tmp_path / "results/eval/m/lora/tools/metrics.json"
    data = read_json(path)
    data["metrics"]["accuracy"] += 5
    write_json(path, data)
    with pytest.raises(RecordError, match=r"lora/tools/metrics.json: item_scores\['accuracy'\].*average"):
        build.build(plant_config(), "main", tmp_path)


def test_differences_are_paired_with_flips_and_the_verdict_follows_the_planted_effects(tmp_path):
    plant_clear(tmp_path)
    table, diffs, claims = build_and_judge(plant_config(), tmp_path)
    assert [(d["comparison"], d["column"]) for d in diffs][::2] == [
        ("FT − base", "tool acc"), ("LoRA − base", "tool acc"), ("CITI − base", "tool acc"),
        ("CITI − FT", "tool acc"), ("CITI − LoRA", "tool acc"), ("LoRA − FT", "tool acc")]
    ft_tool = diffs[0]
    base_items = read_json(tmp_path / "results/eval/m/base/tools/metrics.json")["item_scores"]["accuracy"]
    ft_items = read_json(tmp_path / "results/eval/m/ft/tools/metrics.json")["item_scores"]["accuracy"]
    assert ft_tool["n"] == 300 and 0 < ft_tool["lo"] < ft_tool["difference"] < ft_tool["hi"]
    assert ft_tool["right_to_wrong"] == sum(base_items[i] > 0 and ft_items[i] == 0 for i in base_items)
    assert ft_tool["wrong_to_right"] - ft_tool["right_to_wrong"] == pytest.approx(ft_tool["difference"] * 3)
    ft_nll = diffs[1]
    assert ft_nll["column"] == "nll" and ft_nll["lo"] > 0 and ft_nll["right_to_wrong"] is None  # continuous: no flips
    assert {k: v["verdict"] for k, v in claims.items()} == {
        "a": "supported", "b": "supported", "c": "supported", "d": "supported", "e": "contradicted"}
    assert claims["b"]["evidence"][0]["judgement"] == "for"  # NLL up is a loss: lower is better
    text = verdict.sentence(claims["a"])
    assert f"{ft_tool['difference']:+.2f} [{ft_tool['lo']:+.2f}, {ft_tool['hi']:+.2f}], n = 300" in text
    out = tmp_path / "results/tables"
    verdict.write(table, spec.bootstrap_settings(plant_config()), out / "d.csv", out / "d.md", out / "v.md", tmp_path)
    assert read_csv(out / "d.csv")[0]["right_to_wrong"] == str(ft_tool["right_to_wrong"])
    text = (out / "v.md").read_text()
    assert "(CITI − base) − 0.5·(FT − base)" in text and "contradicted" in text
    assert "FT − base" in (out / "d.md").read_text()


def test_baseline_differences_tally_where_a_planted_baseline_is_ahead_and_behind(tmp_path):
    """A planted WiSE-FT: FT's tool accuracy less 15 points, and base's NLL (no general loss). Against FT it is
    behind on tools and ahead on general; against CITI (tool 0.25) ahead on tools, general within noise."""
    plant_clear(tmp_path)
    rng = np.random.default_rng(1)
    ft_tool = read_json(tmp_path / "results/eval/m/ft/tools/metrics.json")["item_scores"]["accuracy"]
    base_nll = read_json(tmp_path / "results/eval/m/base/gen_nll/metrics.json")["item_scores"]["answer_nll"]
    tool = [0.0 if v and rng.random() < 0.15 / 0.7 else v for v in ft_tool.values()]
    plant(tmp_path, "wise_ft05", "tools", "accuracy", tool)
    plant(tmp_path, "wise_ft05", "gen_nll", "answer_nll", [v + rng.normal(0, 0.01) for v in base_nll.values()])
    config = plant_config()
    config["methods"]["wise_ft05"] = {"merge": {"kind": "wise_ft", "from": "ft", "alpha": 0.5}}
    table = build.build(config, "baselines", tmp_path)
    boot = spec.bootstrap_settings(config)
    diffs = verdict.baseline_differences(table, ["wise_ft05"], boot, tmp_path)
    assert [(d["comparison"], d["column"]) for d in diffs] == [
        (f"WiSE-FT (alpha=0.5) − {ref}", col) for ref in ("FT", "CITI") for col in ("tool acc", "nll")]
    vs_ft, vs_citi = verdict.tally(diffs)
    assert "− FT: ahead on 1 of 2 columns (nll), behind on 1 (tool acc), cannot tell on 0." in vs_ft
    assert "− CITI: ahead on 2 of 2 columns (tool acc, nll)" in vs_citi  # CITI's NLL sits 0.1 above base's
    out = tmp_path / "results/tables"
    verdict.write_baselines(table, ["wise_ft05"], boot, out / "b.csv", out / "b.md", tmp_path)
    assert len(read_csv(out / "b.csv")) == 4 and vs_ft in (out / "b.md").read_text()


def test_noise_gives_cannot_tell(tmp_path):
    """Every method scores the same values in another order: no difference to find."""
    rng = np.random.default_rng(5)
    tool, nll = right(rng, 60, 0.5), rng.normal(2.0, 0.4, 60)
    for method in PLANT_METHODS:
        plant(tmp_path, method, "tools", "accuracy", rng.permutation(tool))
        plant(tmp_path, method, "gen_nll", "answer_nll", rng.permutation(nll))
    _, _, claims = build_and_judge(plant_config(), tmp_path)
    assert {v["verdict"] for v in claims.values()} == {"cannot tell at this n"}
    assert all(e["judgement"] == "includes 0" for v in claims.values() for e in v["evidence"])


def test_all_builds_the_differences_and_the_verdict():
    from citi import paths

    assert {paths.DIFFERENCES, paths.VERDICT} <= set(spec.targets(load_config(REPO / "config/test.yaml")))


def test_a_missing_row_is_named_in_the_verdict(tmp_path):
    plant_clear(tmp_path)
    config = plant_config()
    config["tables"]["main_methods"] = ["ft", "citi"]
    _, _, claims = build_and_judge(config, tmp_path)
    assert claims["c"]["verdict"] == "cannot tell at this n" and "a row for lora" in verdict.sentence(claims["c"])
    assert claims["a"]["verdict"] == "supported"


def test_tradeoff_error_bars_bootstrap_each_axis_and_leave_lower_is_better_columns_off(tmp_path):
    plant_clear(tmp_path)
    rng = np.random.default_rng(1)
    for method in PLANT_METHODS:
        plant(tmp_path, method, "gen_acc", "accuracy", right(rng, 200, 0.6))
    config = plant_config(general_columns=(("nll", "gen_nll", "answer_nll", "lower"),
                                           ("gen acc", "gen_acc", "accuracy", "higher")))
    table = build.build(config, "main", tmp_path)
    pts = points(table, tmp_path)
    for p, row in zip(pts, table["rows"]):
        cell = row["cells"]["gen acc"]
        assert p["general"] == cell["value"]  # the NLL column is on no axis
        assert p["general_ci"] == pytest.approx((cell["lo"], cell["hi"]), abs=1.0)  # one column: its own interval
        assert p["tool_ci"][0] < p["tool"] < p["tool_ci"][1]
    png = tmp_path / "tradeoff.png"
    plot(table, png, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_extra_columns_appear_only_in_the_extra_table():
    config = {"methods": {"ft": {}}, "models": {"m": {}}, "evaluation": {"benchmarks": {"t": {}, "g": {}, "mt": {}}},
              "tables": {"main_methods": ["ft"], "columns": [
        {"name": "C", "benchmark": "t", "metric": "c", "kind": "tool"},
        {"name": "NLL", "benchmark": "g", "metric": "answer_nll", "kind": "general", "direction": "lower"},
        {"name": "MT", "benchmark": "mt", "metric": "mt_bench", "kind": "general", "table": "extra"}]}}
    assert [c.name for c in spec.columns(config, "main")] == ["C", "NLL"]
    assert [c.name for c in spec.columns(config, "ablations")] == ["C", "NLL"]
    assert [c.name for c in spec.columns(config, "extra")] == ["MT"]
    assert [r.method for r in spec.rows(config, "extra")] == ["base", "ft"]
    assert all("/mt/" not in p for p in spec.required_inputs(config, "main"))
    assert all("/mt/" in p for p in spec.required_inputs(config, "extra"))
    assert "results/tables/extra.csv" in spec.targets(config, scope=["ft"])
    config["tables"]["columns"].pop()
    assert not spec.has_rows(config, "extra") and "results/tables/extra.csv" not in spec.targets(config)


def test_training_loss_figure_chains_each_methods_stages(tmp_path):
    from citi.training.curves import plot

    def stage(name, losses, routing=False):
        folder = tmp_path / name
        folder.mkdir()
        lines = ["step,epoch,loss,ce_loss,routing_loss,lr,tokens"]
        lines += [f"{i},1,{x},{x},{0.5 if routing else ''},0.001,100" for i, x in enumerate(losses, start=1)]
        (folder / "training_log.csv").write_text("\n".join(lines) + "\n")
        return str(folder)

    curves = {"FT": [stage("ft1", [3.0, 2.0, 1.0])],
              "CITI": [stage("c1", [3.0, 2.9], True), stage("c2", [2.5, 2.0], True), stage("c3", [1.9])]}
    summary = plot(curves, tmp_path / "loss.png", "test")
    assert (tmp_path / "loss.png").stat().st_size > 0
    assert summary["FT"] == {"first": 3.0, "last": 1.0, "steps": 3}
    assert summary["CITI"] == {"first": 3.0, "last": 1.9, "steps": 5}  # stages chained along the step axis
    with pytest.raises(SourceError, match="training_log.csv"):
        plot({"x": [str(tmp_path / "nowhere")]}, tmp_path / "x.png", "test")
    config = load_config(REPO / "config/test.yaml")
    labels = [label for _, label, _ in spec.training_curves(config)]
    assert labels[:3] == ["FT", "LoRA", "CITI"]
    citi = next(folders for _, label, folders in spec.training_curves(config) if label == "CITI")
    assert [f.rsplit("/", 1)[-1] for f in citi] == ["stage1", "stage2", "stage3"]


# ---- the generated result note (issue 19) --------------------------------------------------------------

REFERENCE = ["llama-3-8b-instruct", "phi-3-mini", "mistral-7b-instruct-v0.2"]


def snakemake_log(path: Path, start: str, stamps: list[str], jobs: int) -> None:
    """A .snakemake/log file as Snakemake 9 writes it: header Date, a stamp per job event, Finished lines."""
    lines = ["SNAKEMAKE", "=========", f"  Date: {start}", "  Snakemake version: 9.27.1", "Provided cores: 2"]
    lines += [f"[{stamp}]\nFinished jobid: {i} (Rule: x)" for i, stamp in enumerate(stamps[:jobs])]
    lines += [f"[{stamp}]" for stamp in stamps[jobs:]]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_the_result_note_is_rendered_from_the_tables_the_verdict_and_the_time_records(tmp_path, monkeypatch):
    plant_clear(tmp_path)
    rng = np.random.default_rng(1)
    for method, p in (("base", 0.6), ("ft", 0.3), ("lora", 0.55), ("citi", 0.6)):  # a binary general column
        plant(tmp_path, method, "gen_acc", "accuracy", right(rng, 200, p))
    config = plant_config(general_columns=(("nll", "gen_nll", "answer_nll", "lower"),
                                           ("gen acc", "gen_acc", "accuracy", "higher")))
    config["tables"]["columns"][0]["paper"] = "C"
    config["tables"]["columns"][2]["paper"] = "GSM"
    config["evaluation"]["benchmarks"]["gen_acc"] = {}
    config["tasks"] = {"tool": {"dataset": "api_bank", "split": "train"}}
    config["datasets"] = {"api_bank": {"adapter": "api_bank", "source": "../shared/data/api_bank", "splits": {}}}
    config["tables"]["paper"] = {"tool_dataset": "api_bank", "reference": REFERENCE}
    config["tables"]["note"] = {"path": "docs/note.md", "title": "Planted note", "budget_h": 4}
    table = build.build(config, "main", tmp_path)
    out = tmp_path / "results/tables"
    render.write(table, out / "main.csv", out / "main.md", out / "main.sources.json")
    verdict.write(table, spec.bootstrap_settings(config), out / "differences.csv", out / "differences.md",
                  out / "verdict.md", root=tmp_path)
    # a run stopped and resumed: two invocations that finished jobs (1 h and 30 min) and a dry run (none)
    logs = tmp_path / ".snakemake/log"
    snakemake_log(logs / "a.snakemake.log", "2026-12-07 04:00:00", ["Mon Dec  7 04:10:00 2026", "Mon Dec  7 05:00:00 2026"], 2)
    snakemake_log(logs / "b.snakemake.log", "2026-12-07 06:00:00", ["Mon Dec  7 06:30:00 2026"], 1)
    snakemake_log(logs / "c.snakemake.log", "2026-12-07 07:00:00", ["Mon Dec  7 09:00:00 2026"], 0)
    for rel, seconds in (("train_stage/m/t/ft/stage1.tsv", 100.0), ("generate_predictions/m/base/tools.tsv", 50.25)):
        (tmp_path / "results/benchmarks" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "results/benchmarks" / rel).write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:01:40\t1.0\n")
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import results_note
    finally:
        sys.path.remove(str(REPO / "scripts"))
    results_note.main(config)
    text = (tmp_path / "docs/note.md").read_text()
    assert text.startswith("# Planted note\n") and "do not edit" in text
    assert "| tool acc | tool acc: paper Llama-3-8B / Phi-3-mini / Mistral-7B |" in text  # main.md's table
    assert next(l for l in text.splitlines() if l.startswith("| m | FT |")).count("56.48 / 61.75 / 47.88") == 1
    assert "- (a) FT gains tool ability over base: **supported**" in text  # verdict.md's claims
    ft_tool = next(l for l in text.splitlines() if l.startswith("| FT − base | tool acc |"))
    assert ft_tool.endswith("| +23.23 | +16.95 | -5.78 | 2 of 3 |")  # Table 3: FT − base on C per backbone
    lora_gsm = next(l for l in text.splitlines() if l.startswith("| LoRA − base | gen acc |"))
    assert "| -2.57 | -6.89 | +1.51 |" in lora_gsm
    assert not any(l.startswith("| FT − base | nll |") for l in text.splitlines())  # no paper key: no pattern row
    flips = next(l for l in text.splitlines() if l.startswith("| FT − base | gen acc |") and l.count("|") == 6)
    right_to_wrong = int(flips.split("|")[3])
    assert right_to_wrong > 0
    assert ("Wall time: 1.50 h (5,400 s) over 2 Snakemake invocation(s) with 3 jobs, on 2 core(s), within the 4 h "
            "budget") in text
    assert "Job seconds (results/benchmarks, jobs run side by side): 150 s in all; train_stage 100 s, " \
           "generate_predictions 50 s." in text
    del config["tables"]["note"]
    with pytest.raises(ConfigError, match="tables.note.path"):
        results_note.main(config)


# ---- retention vs gain (issue 22) ----------------------------------------------------------------------

def test_retention_vs_gain_puts_every_method_on_one_plane_and_finds_the_pareto_front(tmp_path):
    """Main rows and an ablation table's baseline row on the trade-off axes: FT (most tool) and LoRA are on the
    front; the planted WiSE-FT row, worse than LoRA by 15 points on both axes at n = 300, is clearly dominated."""
    from citi.errors import CitiError
    from citi.tables import pareto

    rng = np.random.default_rng(3)
    for method, p_tool, p_gen in (("base", 0.2, 0.6), ("ft", 0.7, 0.3), ("lora", 0.5, 0.55), ("citi", 0.3, 0.62),
                                  ("wise", 0.35, 0.4)):
        plant(tmp_path, method, "tools", "accuracy", right(rng, 300, p_tool))
        plant(tmp_path, method, "gen_acc", "accuracy", right(rng, 300, p_gen))
    config = plant_config(general_columns=(("gen acc", "gen_acc", "accuracy", "higher"),))
    config["methods"]["wise"] = {}
    main = build.build(config, "main", tmp_path)
    config["tables"]["main_methods"] = ["ft", "wise"]  # stands in for the ablation table: its baseline row
    ablations = {**build.build(config, "main", tmp_path), "table": "ablations"}
    out = tmp_path / "out"
    pts = {p["method"]: p for p in pareto.write([main, ablations], out / "p.png", out / "p.csv", out / "p.md", tmp_path)}
    assert sorted(pts) == ["base", "citi", "ft", "lora", "wise"]  # FT once, though in both tables
    assert pts["ft"]["on_front"] and pts["lora"]["on_front"] and not pts["wise"]["on_front"]
    assert "LoRA" in pts["wise"]["clearly_dominated_by"] and "LoRA" in pts["wise"]["dominated_by"]
    best_general = max(pts.values(), key=lambda p: p["general"])
    assert best_general["on_front"]
    for p in pts.values():  # the front by point estimates: nobody on it is beaten on both axes
        beaten = any(q["tool"] >= p["tool"] and q["general"] >= p["general"] and q is not p
                     and (q["tool"], q["general"]) != (p["tool"], p["general"]) for q in pts.values())
        assert p["on_front"] == (not beaten)
        assert p["tool_ci"][0] <= p["tool"] <= p["tool_ci"][1]
    rows = {r["method"]: r for r in csv.DictReader((out / "p.csv").open())}
    assert rows["wise"]["on front"] == "no" and float(rows["ft"]["tool lo"]) < float(rows["ft"]["tool"])
    text = (out / "p.md").read_text()
    assert "| m | LoRA |" in text and "m: on the front" in text and (out / "p.png").stat().st_size > 0
    other = {**ablations, "columns": [c for c in ablations["columns"] if c["kind"] == "tool"]}
    with pytest.raises(CitiError, match="plotted columns differ"):
        pareto.combined([main, other])
