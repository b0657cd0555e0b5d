"""Failures a user meets after a kill or with bad input (issue 21, items 4-5): a rerun resumes, no
stale copies are left behind, and bad input gives one line that names the file, key or record."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from citi import paths
from citi.config import check_config
from citi.errors import ConfigError, RecordError
from citi.inputs import stage_folder
from citi.io import write_jsonl

REPO = Path(__file__).resolve().parents[1]


def base_config() -> dict:
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


# ---- 1. a SIGKILLed Snakemake: `./bootstrap.sh run` resumes --------------------------------------

HANGING_SNAKEFILE = """
rule all:
    input: "out.txt"

rule make:
    output: "out.txt"
    shell: "echo partial > {output}; if [ -e hang ]; then sleep 600; fi; echo done > {output}"
"""


def bootstrap_workdir(tmp_path: Path) -> Path:
    """A copy of bootstrap.sh whose environments count as built (their stamps match), with the
    test's own snakemake as the venv's, and a one-rule Snakefile that hangs while ``hang`` exists."""
    snakemake = Path(sys.executable).parent / "snakemake"
    if not snakemake.exists():
        pytest.skip(f"no snakemake beside {sys.executable}")
    work = tmp_path / "w"
    for name in ("bootstrap.sh", "pyproject.toml", "requirements/cpu.txt", "requirements/opencompass.txt"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, work / name)
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "snakemake").symlink_to(snakemake)
    python = work / ".venv" / "bin" / "python"  # a wrapper: a symlinked venv python loses its packages
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (work / ".venv-opencompass").mkdir()
    stamp = hashlib.sha256((work / "requirements/cpu.txt").read_bytes() + (work / "pyproject.toml").read_bytes())
    (work / ".venv" / ".citi-stamp").write_text(stamp.hexdigest()[:16] + "\n")
    stamp = hashlib.sha256((work / "requirements/opencompass.txt").read_bytes())
    (work / ".venv-opencompass" / ".citi-stamp").write_text(stamp.hexdigest()[:16] + "\n")
    (work / "Snakefile").write_text(HANGING_SNAKEFILE)
    # Snakemake's SLURM plugin asks `scontrol show config` at every start (9 s where SLURM is installed
    # but not running); a failing stand-in makes it skip at once. The runs here are local.
    fake = tmp_path / "bin" / "scontrol"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    return work


def run_env(work: Path) -> dict:
    return {**os.environ, "CORES": "1", "PATH": f"{work.parent / 'bin'}:{os.environ['PATH']}"}


def bootstrap_run(work: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "./bootstrap.sh", "run", "all"], cwd=work, capture_output=True, text=True,
                          timeout=120, env=run_env(work))


def test_bootstrap_run_resumes_after_snakemake_is_killed_but_leaves_a_running_one_alone(tmp_path):
    work = bootstrap_workdir(tmp_path)
    (work / "hang").touch()
    first = subprocess.Popen([str(work / ".venv/bin/snakemake"), "--cores", "1", "all"], cwd=work,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                             env=run_env(work))
    try:
        deadline = time.monotonic() + 60
        while not (work / "out.txt").exists():  # the job has started: the run holds its lock
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start its job"
            time.sleep(0.2)
        assert list((work / ".snakemake" / "locks").iterdir())
        # while that run is alive its lock is real: bootstrap must not remove it
        busy = bootstrap_run(work)
        assert busy.returncode != 0 and "cannot be locked" in busy.stderr + busy.stdout
        assert list((work / ".snakemake" / "locks").iterdir())
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # snakemake and its job, as a kill -9 of the run would
        first.wait()
    assert (work / "out.txt").read_text() == "partial\n"  # an incomplete output and a stale lock are left
    (work / "hang").unlink()
    rerun = bootstrap_run(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert (work / "out.txt").read_text() == "done\n"  # the incomplete output was redone


def test_readme_says_a_killed_local_run_resumes():
    readme = (REPO / "README.md").read_text()
    assert "./bootstrap.sh run" in readme and "--unlock" in readme and "--rerun-incomplete" in readme


# ---- 2. a kill during a stage's final save: the rerun removes the stale temporary copy ----------

class _Model:
    def modules(self):
        return []


def test_saving_a_stage_removes_stale_temporary_copies_of_that_stage_only(tmp_path, monkeypatch):
    from citi.training import checkpoint

    def fake_save(model, tokenizer, folder, provenance):
        Path(folder).mkdir()
        (Path(folder) / "model.safetensors").write_text("weights")

    monkeypatch.setattr(checkpoint, "save_model", fake_save)
    monkeypatch.setattr(checkpoint, "write_log", lambda rows, csv, png, title: Path(csv).write_text("log"))
    method = tmp_path / "ckpt" / "ft"
    stale = method / ".stage1.k3x_9abz.tmp"  # left by a save killed half-way (tempfile.mkdtemp's name)
    (stale / "stage1").mkdir(parents=True)
    (stale / "stage1" / "model.safetensors").write_text("a full copy")
    others = [method / ".stage10.abcdefgh.tmp", method / ".stage2.abcdefgh.tmp", method / "stage1.partial",
              method / ".stage1.partial.abcdefgh.tmp"]
    for other in others:
        other.mkdir()
    checkpoint.save_trained(_Model(), None, method / "stage1", {}, [], "ft stage 1")
    assert (method / "stage1" / "model.safetensors").read_text() == "weights"
    assert not stale.exists()
    assert all(other.is_dir() for other in others)  # other stages' and other outputs' temporaries are kept


# ---- 3. empty datasets fail early, naming the file ------------------------------------------------

def test_training_on_an_empty_mixture_names_it_before_creating_any_folder(tmp_path, monkeypatch):
    from citi.training.stage import run_stage

    monkeypatch.chdir(tmp_path)
    config = check_config(base_config(), source="test config")
    mixture = Path(paths.MIXTURE.format(mixture=config["methods"]["ft"]["mixture"]))
    mixture.parent.mkdir(parents=True)
    mixture.write_text("")
    before = sorted(p for p in tmp_path.rglob("*"))
    folder = stage_folder(config, "tiny", "ft", 1)
    with pytest.raises(RecordError, match=rf"{mixture}.*no records"):
        run_stage(config, "tiny", "ft", 1, folder)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # no stage1.partial/, no stage folder


def test_an_empty_tool_part_of_a_mixture_is_named(tmp_path):
    from citi.data.mixtures import build_mixture

    tool = tmp_path / "tool.jsonl"
    tool.write_text("")
    with pytest.raises(RecordError, match=rf"{tool}.*no records"):
        build_mixture({"general_per_task": 0}, tool, {}, tmp_path / "m.jsonl", tmp_path / "m.json", default_seed=1)
    assert not (tmp_path / "m.jsonl").exists()


def test_an_empty_general_part_of_a_mixture_is_named(tmp_path):
    from citi.data.mixtures import build_mixture
    from training_helpers import records

    tool, math = tmp_path / "tool.jsonl", tmp_path / "math.jsonl"
    write_jsonl(tool, records(2))
    math.write_text("")
    with pytest.raises(RecordError, match=rf"{math}.*no records"):
        build_mixture({"general_per_task": 3, "tasks": ["math"]}, tool, {"math": math},
                      tmp_path / "m.jsonl", tmp_path / "m.json", default_seed=1)


def test_a_data_split_with_no_records_is_named(tmp_path, monkeypatch):
    from citi.data import sampling

    monkeypatch.setattr(sampling, "load_split", lambda name, dataset, split: ([], {"source": "/data/empty.jsonl"}))
    out = tmp_path / "test.jsonl"
    with pytest.raises(RecordError, match=r"dataset 'd' split 'test'.*/data/empty\.jsonl.*no records"):
        sampling.prepare_split("d", {"splits": {"test": {"n": 5}}}, "test", out, tmp_path / "m.json", default_seed=1)
    assert not out.exists()


# ---- 4. any exception's traceback reaches the rule's log ---------------------------------------

def test_a_non_citi_exception_is_written_with_its_traceback_to_the_rules_log(tmp_path, monkeypatch):
    from citi.cli import run

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    log = tmp_path / "logs" / "rule.log"
    smk = SimpleNamespace(threads=1, log=[str(log)], wildcards={}, output=SimpleNamespace(), config={})

    def main(config):
        print("started")
        raise KeyError("no_such_key")

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with pytest.raises(KeyError):  # still raised: Snakemake sees the job fail
            run(main, {"snakemake": smk})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    text = log.read_text()
    assert "started" in text and "Traceback (most recent call last)" in text
    assert "KeyError: 'no_such_key'" in text and "in main" in text


# ---- 5. cross-reference errors name the config's source ----------------------------------------

def test_a_cross_reference_error_names_the_config_source():
    config = base_config()
    config["tasks"]["math"]["dataset"] = "no_such_dataset"
    with pytest.raises(ConfigError) as err:
        check_config(config, source="my-settings.yaml")
    assert str(err.value).startswith("my-settings.yaml is invalid:")
    assert "config key 'tasks.math.dataset': unknown dataset 'no_such_dataset'" in str(err.value)


# ---- 6. table typos fail at config load ----------------------------------------------------------

def test_a_typo_in_tables_main_methods_is_a_config_error():
    config = base_config()
    config["tables"]["main_methods"] = ["ft", "lroa", "citi"]
    with pytest.raises(ConfigError, match=r"config key 'tables.main_methods': unknown method 'lroa'; defined: .*lora"):
        check_config(config, source="test config")


def test_a_typo_in_a_table_columns_benchmark_is_a_config_error():
    config = base_config()
    config["tables"]["columns"][0]["benchmark"] = "tool_levle1"
    with pytest.raises(ConfigError, match=r"config key 'tables.columns\[0\].benchmark': unknown benchmark "
                                          r"'tool_levle1' \(column 'C \(embedded tools\)'\); evaluated: .*tool_level1"):
        check_config(config, source="test config")
    config = base_config()
    config["tables"]["columns"][1]["benchmark"] = ["tool_level1", "nope"]  # pooled, optional: still checked
    with pytest.raises(ConfigError, match=r"'tables.columns\[1\].benchmark': unknown benchmark 'nope'"):
        check_config(config, source="test config")


def test_the_default_main_methods_still_skip_undefined_methods():
    config = base_config()
    config["tables"].pop("main_methods", None)
    del config["methods"]["lora"]
    check_config(config, source="test config")  # the default [ft, lora, citi] is filtered, as before


# ---- 7. duplicate prediction ids ---------------------------------------------------------------

def test_a_repeated_prediction_id_names_the_file_and_the_id(tmp_path, monkeypatch):
    from citi.evaluation import runner

    predictions = tmp_path / "predictions.jsonl"
    write_jsonl(predictions, [{"id": "a", "prediction": "1"}, {"id": "b", "prediction": "2"},
                              {"id": "a", "prediction": "3"}])
    with pytest.raises(RecordError, match=rf"{predictions}: record 3: duplicate prediction id 'a' "
                                          r"\(first at record 1\)"):
        runner.read_predictions(predictions)
    monkeypatch.setattr(runner, "benchmark_spec", lambda config, benchmark: {"cap": None})
    monkeypatch.setattr(runner, "benchmark_records", lambda spec, data: [{"id": "a"}, {"id": "b"}])
    with pytest.raises(RecordError, match=r"duplicate prediction id 'a'"):
        runner.score({}, "m", "base", "b", tmp_path / "data.jsonl", predictions, tmp_path / "metrics.json")
    assert not (tmp_path / "metrics.json").exists()


def test_bootstrap_run_names_the_line_of_a_yaml_error_in_a_configfile(tmp_path):
    """Snakemake's own message for a broken --configfile names neither line nor column."""
    work = bootstrap_workdir(tmp_path)
    bad = work / "bad.yaml"
    bad.write_text("name: x\nseed: [1,\n  2\nmodels: : y\n")
    proc = subprocess.run(["bash", "./bootstrap.sh", "run", "all", "--configfile", "bad.yaml"], cwd=work,
                          capture_output=True, text=True, timeout=120, env=run_env(work))
    assert proc.returncode != 0
    assert "bad.yaml: line 4, column" in proc.stderr and "not valid YAML" in proc.stderr
    assert not (work / "out.txt").exists()  # snakemake never started
