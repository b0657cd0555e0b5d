"""One input resolver (issue 23): citi.inputs answers "which files does this job read" for the rules
and for the scripts run alone; cli.run hands a job's snakemake.input to its script; no path rule is
defined twice."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from citi import inputs, paths
from citi.inputs import evaluation as evaluation_inputs
from citi.cli import job_inputs, resolve_inputs, run
from citi.config import load_config
from citi.errors import ConfigError
from citi.records import TASKS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config():
    return load_config(REPO / "config" / "test.yaml")


def checkpoint(method: str, stage: int) -> str:
    return f"results/checkpoints/tiny/embedded_tools/{method}/stage{stage}"


def test_a_method_model_is_its_last_stage_and_a_model_built_without_training_is_stage_1(config):
    assert inputs.method_model(config, "tiny", "base") == "results/models/tiny"
    assert inputs.method_model(config, "tiny", "citi") == checkpoint("citi", 3)
    assert inputs.method_model(config, "tiny", "replace_top20") == checkpoint("replace_top20", 1)
    with pytest.raises(ConfigError, match="no method 'nope'"):
        inputs.method_model(config, "tiny", "nope")


def test_a_stage_starts_from_base_then_from_the_stage_before(config):
    first, third = (inputs.train_stage(config, "tiny", "citi", k) for k in (1, 3))
    assert first["start"] == "results/models/tiny" and third["start"] == checkpoint("citi", 2)
    assert third["mixture"] == "results/mixtures/mixed.jsonl" and third["selection"] == ["results/selection/tiny/citi.json"]
    with pytest.raises(ConfigError, match="has 3 stage"):
        inputs.train_stage(config, "tiny", "citi", 4)


def test_the_representation_of_a_replacement_method_resolves(config):
    """representation.py once took len(spec["stages"]): a KeyError for a replace_from method."""
    config["representation"]["tuned"] = "replace_top20"
    got = inputs.representation(config, "tiny", "replace_top20")
    assert got["tuned"] == checkpoint("replace_top20", 1) and got["base"] == "results/models/tiny"
    assert got["data"] == [inputs.task_data(config, t) for t in TASKS]
    with pytest.raises(ConfigError, match="representation.tuned"):
        inputs.representation(config, "tiny", "elsewhere")


def test_scoring_declares_the_raw_source_it_reads(config, tmp_path):
    bench = next(iter(config["evaluation"]["benchmarks"]))
    dataset = config["evaluation"]["benchmarks"][bench]["dataset"]
    assert evaluation_inputs.score_predictions(config, "tiny", "ft", bench)["source"] == [paths.EMBEDDED_ROOT]  # generated data
    config["datasets"][dataset]["source"] = str(tmp_path)
    assert evaluation_inputs.score_predictions(config, "tiny", "ft", bench)["source"] == [str(tmp_path)]


def test_a_split_watches_a_local_data_source_but_not_an_environment_that_ships_the_data(config, tmp_path):
    config["datasets"]["bfcl"] = {"adapter": "bfcl", "source": str(tmp_path / "venv"), "splits": {"non_live": {}}}
    config["datasets"]["local_gsm8k"] = {"adapter": "gsm8k", "source": str(tmp_path / "gsm8k"), "splits": {"test": {}}}
    assert inputs.prepare_split(config, "local_gsm8k", "test") == {"source": [str(tmp_path / "gsm8k")]}
    assert inputs.prepare_split(config, "bfcl", "non_live") == {"source": []}  # BFCL's environment: software


class FakeInput(dict):
    """snakemake.input's named part as a Namedlist exposes it: items() of name -> str or list."""


def test_run_hands_snakemake_input_to_main_and_resolves_it_alone(config, tmp_path, monkeypatch):
    seen = {}

    def main(config, inputs, model, method):
        seen.update(inputs=inputs, model=model, method=method)

    smk = SimpleNamespace(threads=1, log=[str(tmp_path / "job.log")], config=config,
                          wildcards={"model": "tiny", "method": "ft"}, output=SimpleNamespace(),
                          input=FakeInput(model="x/model", data=["a.jsonl", "b.jsonl"]))
    run(main, {"snakemake": smk}, wildcards=("model", "method"), inputs=inputs.router_analysis)
    assert seen["inputs"] == {"model": "x/model", "data": ["a.jsonl", "b.jsonl"]}  # the job's, not re-resolved
    monkeypatch.setattr("sys.argv", ["x", "--config", str(REPO / "config" / "test.yaml"), "--model", "tiny",
                                     "--method", "citi"])
    run(main, {}, wildcards=("model", "method"), inputs=inputs.router_analysis)
    assert seen["inputs"]["model"] == checkpoint("citi", 3)
    assert job_inputs(FakeInput(a="p", b=("q", "r"))) == {"a": "p", "b": ["q", "r"]}
    # the resolver takes only the wildcards it names ({tool_dataset} only places an output)
    assert resolve_inputs(inputs.merge_weights, {**config, "methods": {"m": {"merge": {}}, **config["methods"]}},
                          {"model": "tiny", "tool_dataset": "embedded_tools", "method": "m"})["tuned"] == checkpoint("ft", 1)


# ---- no path rule defined twice -----------------------------------------------------------------

SOURCES = [*(REPO / "src" / "citi").rglob("*.py"), *(REPO / "scripts").glob("*.py"), *(REPO / "rules").glob("*.smk"),
           REPO / "Snakefile"]


def occurrences(pattern: str) -> list[str]:
    out = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(pattern, line):
                out.append(f"{path.relative_to(REPO)}:{number}")
    return out


@pytest.mark.parametrize("what, pattern, allowed", [
    ("a method's model folder", r"def (method_model|model_folder|final_stage_folder|stage_checkpoint|representation_ref)\b",
     ["src/citi/inputs/__init__.py"]),
    ("a method's stage count", r'len\(config\["methods"\]', ["src/citi/inputs/__init__.py"]),
    ("a stage's start", r"def (stage_input|stage_start)\b", ["src/citi/inputs/__init__.py"]),
    ("a task's split", r"def (task_data|task_file)\b", ["src/citi/inputs/__init__.py"]),
    ("a benchmark's split", r"def benchmark_data\b", ["src/citi/inputs/__init__.py"]),
    ("a dataset's source", r"def (dataset_input|dataset_source)\b", ["src/citi/inputs/__init__.py"]),
    ("a config hash", r"def \w*config_hash\b", ["src/citi/config.py"]),
    ("a rule's inputs in .smk", r"def \w+_inputs\(wildcards\)", []),
])
def test_no_path_rule_is_defined_twice(what, pattern, allowed):
    found = occurrences(pattern)
    assert all(any(f.startswith(a + ":") for a in allowed) for f in found), f"{what} defined outside {allowed}: {found}"
    assert found or not allowed, f"{what}: the pattern finds not even its one home; fix the test"


def test_each_concept_lives_in_a_folder_named_after_it():
    """Importance (every estimator and the selection), OpenCompass, the representation analysis and data
    sources each have one home; the loose files they replaced stay gone."""
    src = REPO / "src" / "citi"
    for folder, modules in {"importance": ["taylor", "ablation", "integrated", "local", "estimators", "selection"],
                            "evaluation/opencompass": ["run", "config", "plugins", "crosscheck", "lm_eval"],
                            "representation": ["shifts", "report"], "data": ["sources"],
                            "methods/tl_training": ["pkt", "irm", "ppo"], "methods/molora": ["layer", "model"]}.items():
        assert all((src / folder / f"{m}.py").is_file() for m in modules), folder
    assert not (src / "analysis").exists() and not (src / "sources.py").exists()
    assert not list((src / "evaluation").glob("opencompass_*.py")) and not (src / "evaluation" / "crosscheck.py").exists()
    assert not (src / "training" / "methods.py").exists()  # methods/ holds the methods' code; training/adapters.py wraps


def test_training_imports_no_evaluation_code():
    """Tool-call syntax, parsers, the error taxonomy and training targets live in citi.toolcalls, below both."""
    import ast

    for path in (REPO / "src" / "citi" / "training").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                name = ("." * node.level) + (node.module or "")
                assert "evaluation" not in name, f"{path.name} imports {name}"
    assert sorted(p.stem for p in (REPO / "src" / "citi" / "toolcalls").glob("*.py")) == [
        "__init__", "api_bank", "runtime", "syntax", "targets", "taxonomy"]


def test_both_tool_runtimes_implement_one_interface():
    """The generated mock APIs and the real API-Bank APIs share citi.toolcalls.runtime.ToolAPI: one result
    shape, call/check/describe; the evaluator drives both alike."""
    from citi.evaluation.api_bank.apis.base import API as ApiBankAPI
    from citi.synthetic.tools import ToolManager
    from citi.synthetic.tools.base import API as GeneratedAPI
    from citi.toolcalls.runtime import ToolAPI

    assert issubclass(GeneratedAPI, ToolAPI) and issubclass(ApiBankAPI, ToolAPI)
    tm = ToolManager()
    for api in tm.apis.values():
        good = api.call()  # no arguments: an exception string, never a raise
        assert list(good) == ["api_name", "input", "output", "exception"] and good["api_name"] == api.name
        if api.inputs:  # a missing argument is the runtime's error text, in the shape of every result
            assert good["output"] is None and "Missing parameter" in good["exception"]


def test_an_env_source_names_its_environment_or_the_fix(tmp_path, monkeypatch):
    from citi.data import sources
    from citi.errors import SourceError

    monkeypatch.delenv("CITI_NOPE_PYTHON", raising=False)
    with pytest.raises(SourceError, match=r"env:nope.*bootstrap.sh.*CITI_NOPE_PYTHON"):
        sources.resolve("env:nope", owner="datasets.x.source")
    python = tmp_path / "envdir" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    monkeypatch.setenv("CITI_NOPE_PYTHON", str(python))
    assert sources.resolve("env:nope").path == tmp_path / "envdir"  # the environment, whose lib/ holds the data
    monkeypatch.setenv("CITI_NOPE_PYTHON", str(tmp_path / "missing"))
    with pytest.raises(SourceError, match="CITI_NOPE_PYTHON"):
        sources.resolve("env:nope")
