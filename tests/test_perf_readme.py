"""The README's measured paragraph is rendered from the benchmark's JSON, not typed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("perf_readme", REPO / "tools" / "perf_readme.py")
perf_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(perf_readme)


def planted(main_s=1900.0, complete=True):
    perf = {"targets_s": {"main_table": 1800, "all": 3600}, "cores": 2, "machine": "CPU X", "date": "2026-12-07",
            "load_before": [0.1, 0.2, 0.3], "complete": complete,
            "main_table": {"wall_s": main_s, "jobs": 109, "jobs_s": {
                "wall_by_rule": {"train_stage": 1500.0, "generate_predictions": 1200.4, "score_predictions": 60.0,
                                 "importance": 170.0},
                "training_by_method": {"citi": 600.0, "ft": 500.0, "lora": 400.0}}},
            "signal": [{"comparison": "FT − base", "column": "C (tools)", "direction": "higher",
                        "difference": "25.0", "lo": "12.4", "hi": "40.6", "n": "32"},
                       {"comparison": "FT − base", "column": "NLL", "direction": "lower",
                        "difference": "-0.74", "lo": "-0.88", "hi": "-0.62", "n": "16"}]}
    if complete:
        perf.update({"all_after_main": {"wall_s": 1500.0, "jobs": 29}, "report": {"wall_s": 13.0},
                     "all_total_s": main_s + 1513.0})
    return perf


def test_rendered_figures_and_targets_follow_the_numbers():
    text = perf_readme.render(planted(1900.0))
    assert "1,900 s (31.7 min) over 109 jobs, over the 30-min target" in text
    assert "3,413 s (56.9 min) in all, within the 60-min target" in text
    assert "training 1,500 s (CITI 600, FT 500, LoRA 400)" in text and "generation and likelihood evaluation 1,200 s" in text
    assert "C (tools) +25.00 [+12.40, +40.60], n = 32" in text and "NLL -0.74 [-0.88, -0.62], n = 16 (lower is better)" in text
    assert "within the 30-min target" in perf_readme.render(planted(1790.0))
    assert "`all` was not measured" in perf_readme.render(planted(1790.0, complete=False))


def test_the_block_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    readme = f"intro\n{perf_readme.BEGIN}\nold figures\n{perf_readme.END}\nrest\n"
    out = perf_readme.splice(readme, "new figures", tmp_path / "README.md")
    assert out == f"intro\n{perf_readme.BEGIN}\nnew figures\n{perf_readme.END}\nrest\n"
    with pytest.raises(SystemExit, match="no <!-- perf:default_run -->"):
        perf_readme.splice("no markers\n", "x", tmp_path / "README.md")


def test_the_repository_readme_has_the_block():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.count(perf_readme.BEGIN) == 1 and text.count(perf_readme.END) == 1


def test_without_the_default_runs_json_only_the_benchmark_table_is_rendered(tmp_path, monkeypatch):
    perf = tmp_path / "perf"
    perf.mkdir()
    (perf / "bench_molora.json").write_text(json.dumps({"step_time_ratio_molora_vs_lora": 1.02, "memory_ratio_molora_vs_lora": 1.06, "targets": {
        "step_time_ratio_molora_vs_lora": 1.3}, "passed": True}))
    readme = tmp_path / "README.md"
    before = (f"{perf_readme.BEGIN}\nthe measured paragraph\n{perf_readme.END}\n"
              f"{perf_readme.BENCH_BEGIN}\nold table\n{perf_readme.BENCH_END}\n")
    readme.write_text(before)
    monkeypatch.setattr("sys.argv", ["perf_readme.py", "--json", str(perf / "default_run.json"), "--readme", str(readme)])
    perf_readme.main()
    after = readme.read_text()
    assert after.split(perf_readme.BENCH_BEGIN)[0] == before.split(perf_readme.BENCH_BEGIN)[0]  # left as it was
    table = after.split(perf_readme.BENCH_BEGIN)[1].split(perf_readme.BENCH_END)[0]
    assert "old table" not in table and "bench_molora" in table and "1.02" in table
