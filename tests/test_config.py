"""Every shipped config validates; bad configs fail with the key named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from citi.config import SCHEMA, check_config, load_config, load_schema
from citi.data import adapters
from citi.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (REPO / "config").rglob("*.yaml") if p.name != "schema.yaml")


def test_there_are_paper_configs_for_every_backbone_and_tool_dataset():
    names = {p.stem for p in (REPO / "config" / "paper").glob("*.yaml")}
    backbones = ["llama-3-8b-instruct", "mistral-7b-instruct-v0.2", "phi-3-mini-128k-instruct"]
    assert names == {f"{b}_{t}" for b in backbones for t in ("api-bank", "toolalpaca")}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_config_is_valid(path):
    config = load_config(path)
    assert config["seed"] == 1  # a default the schema fills in when absent, or the paper's


def test_paper_configs_carry_the_paper_hyperparameters():
    config = load_config(REPO / "config/paper/llama-3-8b-instruct_api-bank.yaml")
    assert config["selection"] == {"molora_fraction": 0.2, "unfrozen_fraction": 0.1}
    assert config["molora"]["experts"] == 4 and config["molora"]["rank"] == 8 and config["molora"]["alpha"] == 2
    assert config["importance"]["n_per_task"] == 3000 and config["representation"]["seed"] == 666
    assert config["mixtures"]["mixed"]["general_per_task"] == 5000
    assert [(s["name"], s["lr"], s["epochs"]) for s in config["methods"]["citi"]["stages"]] == [
        ("rp", 2e-4, 1), ("mi", 2e-4, 2), ("uco", 2e-5, 1)]
    toolalpaca = load_config(REPO / "config/paper/llama-3-8b-instruct_toolalpaca.yaml")
    assert toolalpaca["mixtures"]["mixed"]["general_per_task"] == 3000


def test_schema_adapter_names_match_the_registry():
    schema = load_schema(SCHEMA)
    enum = schema["properties"]["datasets"]["additionalProperties"]["properties"]["adapter"]["enum"]
    assert sorted(enum) == adapters.names()


@pytest.fixture
def config():
    return yaml.safe_load((REPO / "config" / "test.yaml").read_text())


def error_of(config) -> str:
    with pytest.raises(ConfigError) as info:
        check_config(config)
    return str(info.value)


def test_misspelt_key_is_named(config):
    config["datasets"]["embedded_math"]["sourse"] = config["datasets"]["embedded_math"].pop("source")
    msg = error_of(config)
    assert "datasets.embedded_math" in msg and "'sourse'" in msg


def test_misspelt_top_level_key_is_named(config):
    config["mixturez"] = {}
    assert "'mixturez'" in error_of(config)


def test_wrong_type_names_the_key(config):
    config["datasets"]["embedded_math"]["splits"]["train"]["n"] = "twelve"
    msg = error_of(config)
    assert "datasets.embedded_math.splits.train.n" in msg and "integer" in msg


def test_unknown_adapter_is_named(config):
    config["datasets"]["embedded_math"]["adapter"] = "gsm9k"
    msg = error_of(config)
    assert "datasets.embedded_math.adapter" in msg and "'gsm9k'" in msg


def test_unknown_dataset_in_tasks_is_named(config):
    config["tasks"]["math"]["dataset"] = "gsm8k"
    msg = error_of(config)
    assert "tasks.math.dataset" in msg and "unknown dataset 'gsm8k'" in msg


def test_unknown_split_of_an_adapter_is_named(config):
    config["datasets"]["humaneval"]["splits"]["train"] = {}
    msg = error_of(config)
    assert "datasets.humaneval.splits.train" in msg and "no split 'train'" in msg


def test_unknown_method_name_is_named(config):
    config["methods"]["citti"] = copy.deepcopy(config["methods"]["citi"])
    msg = error_of(config)
    assert "'citti'" in msg and "methods" in msg


def test_method_with_unknown_mixture_is_named(config):
    config["methods"]["ft"]["mixture"] = "nope"
    assert "methods.ft.mixture" in error_of(config)


def test_general_dataset_cannot_be_the_tool_task(config):
    config["tasks"]["tool"] = {"dataset": "embedded_math", "split": "train"}
    assert "tasks.tool.dataset" in error_of(config)


def test_hub_model_needs_a_revision(config):
    config["models"]["tiny"] = {"source": "hub", "repo": "org/model"}
    msg = error_of(config)
    assert "models.tiny" in msg and "revision" in msg


def test_defaults_are_filled(config):
    check_config(config)
    assert config["importance"]["normalisation"] == "sum"
    assert config["molora"]["null_slot"] is True
    assert config["datasets"]["embedded_math"]["revision"] is None


def test_boolean_yaml_key_is_named(tmp_path):
    """`on: x` parses as {True: x} in YAML 1.1; the error must say which key and why."""
    import yaml

    from citi.config import load_config

    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    text = yaml.safe_dump(cfg).replace("\nmethods:\n", "\nmethods:\n  on: 1\n", 1)  # the top-level key
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match=r"key True under 'methods'.*quote it"):
        load_config(bad)
