"""Every shipped config validates; bad configs fail with the key named; the paper layers merge into
the intended settings, as Snakemake merges them."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from citi.config import (SCHEMA, check_config, load_config, load_schema, merge_configs, paper_combinations,
                         paper_configfiles, read_configs)
from citi.data import adapters
from citi.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if p.name != "schema.yaml")
BACKBONES = ["llama-3-8b-instruct", "mistral-7b-instruct-v0.2", "phi-3-mini-128k-instruct"]
PAPER = [(b, t) for b in BACKBONES for t in ("api-bank", "toolalpaca")]
PAPER_IDS = [f"{b}_{t}" for b, t in PAPER]

# The six one-file paper configs these layers replaced (config/paper/<backbone>_<tool>.yaml at this commit):
# sha256 of their parsed content as canonical JSON.
FORMER_COMMIT = "722df6885927ff07d9a2fbb665ecad9edced57b0"
FORMER_SHA256 = {
    "llama-3-8b-instruct_api-bank": "49352306d0889a56ef49467347e27a2a245a31e61772a2517e5300c2b84a4669",
    "llama-3-8b-instruct_toolalpaca": "0022e012dfce3f10bd0a82f604a0bfc66e603b9314706287cf2877a67f8286f5",
    "mistral-7b-instruct-v0.2_api-bank": "3affd04d921566438423581d930a0b66cbfbf9d68c1551ab303ed993ab911ebb",
    "mistral-7b-instruct-v0.2_toolalpaca": "a84f0ab4b30489b3309fb90ccb18088ee39c37b1b001f4a8581083857b6ff78e",
    "phi-3-mini-128k-instruct_api-bank": "cfafb6fac21f79078dee9b99f8a1eae86d0c72e64efefa62fefb91dbd9a09854",
    "phi-3-mini-128k-instruct_toolalpaca": "59fb9b2ecc9a8b3b064f479862e19ffecff11ad500f5443fd19a11f90a512095",
}
FASTCHAT_TEMPERATURES = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
                         "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}


def paper(backbone: str, tool: str) -> dict:
    return load_config(paper_configfiles(backbone, tool))


def digest(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def undo_deliberate_changes(config: dict, backbone: str, tool: str) -> dict:
    """``config`` with issue 20's deliberate changes asserted, then reverted to the former values."""
    c = copy.deepcopy(config)
    # item 2: general samples get the tool samples' system prompt (formerly none)
    prompt = c["mixtures"]["mixed"].pop("general_system_prompt")
    assert prompt.startswith({"api-bank": "Generate an API request", "toolalpaca": "To call a function"}[tool])
    # item 3: the authors' importance normalisation (formerly sum)
    assert c["importance"]["normalisation"] == "official"
    c["importance"]["normalisation"] = "sum"
    # item 5: MT-Bench sampled at FastChat's temperatures, seeded (formerly greedy, no options)
    assert c["evaluation"]["benchmarks"]["mt_bench"].pop("options") == {
        "temperatures": FASTCHAT_TEMPERATURES, "default_temperature": 0.7, "seed": 0}
    # item 5: the TriviaQA column names its set (formerly "TQA (3k subsample)", which it was not)
    (tqa,) = [col for col in c["tables"]["columns"] if col["benchmark"] == "triviaqa"]
    assert tqa["name"] == "TQA (rc validation)" and "paper" not in tqa
    tqa["name"] = "TQA (3k subsample)"
    # item 5: Phi-3's unfrozen count truncated as the authors' int() (formerly rounded half up)
    assert c["selection"].pop("unfrozen_rounding", None) == ("truncate" if backbone.startswith("phi-3") else None)
    # item 1: every assistant turn of a ToolAlpaca trajectory is a target (formerly the last one only)
    train_split = c["datasets"]["toolalpaca_train" if tool == "toolalpaca" else "api_bank"]["splits"]["train"]
    assert train_split.pop("train_on", None) == ("all_assistant_turns" if tool == "toolalpaca" else None)
    # item 4: IRM is the paper's PPO, greedy, one completion per prompt (formerly GRPO, 4 sampled at 1.0);
    # TL-Training's SFT stages take the paper's optimiser settings (formerly the trainer's defaults)
    irm = c["tl_training"]["irm"]
    assert {k: irm.pop(k) for k in ("value_clip", "gamma", "lam", "ppo_epochs", "minibatches", "critic_lr_scale")} == {
        "value_clip": 0.2, "gamma": 1.0, "lam": 0.95, "ppo_epochs": 1, "minibatches": 1, "critic_lr_scale": 0.5}
    assert (irm["num_generations"], irm["temperature"]) == (1, 0)
    irm.update(num_generations=4, temperature=1.0)
    for method in ("sft", "sft_mae", "sft_pkt", "sft_irm", "tl_training"):
        sft = c["methods"][method]["stages"][0]
        assert {k: sft.pop(k) for k in ("weight_decay", "adam_beta2", "warmup_ratio")} == {
            "weight_decay": 0.01, "adam_beta2": 0.95, "warmup_ratio": 0.01}
    # issue 22: the reviewer's baselines at FT's settings, and BFCL's benchmarks and columns (formerly absent)
    baselines = {m: c["methods"].pop(m) for m in ("wise_ft05", "ties20", "dare90", "freeze_bottom25")}
    assert all(baselines[m]["merge"]["from"] == "ft" for m in ("wise_ft05", "ties20", "dare90"))
    (frozen,) = baselines["freeze_bottom25"]["stages"]
    assert {**frozen, "freeze_bottom": None} == {**c["methods"]["ft"]["stages"][0], "freeze_bottom": None}
    assert c["datasets"].pop("bfcl")["adapter"] == "bfcl"
    bfcl = [b for b in c["evaluation"]["benchmarks"] if b.startswith("bfcl_")]
    assert len(bfcl) == 5 and all(c["evaluation"]["benchmarks"].pop(b)["scorer"] == "bfcl" for b in bfcl)
    columns = c["tables"]["columns"]
    assert [col["name"] for col in columns if col["name"].startswith("BFCL")] == ["BFCL non-live", "BFCL live"]
    c["tables"]["columns"] = [col for col in columns if not col["name"].startswith("BFCL")]
    return c


def former_config(name: str) -> dict | None:
    """The former one-file config from git, where the history is at hand (for a readable diff)."""
    proc = subprocess.run(["git", "show", f"{FORMER_COMMIT}:config/paper/{name}.yaml"], cwd=REPO,
                          capture_output=True, text=True)
    return yaml.safe_load(proc.stdout) if proc.returncode == 0 else None


def differences(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b), key=str)
                for d in (differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}"))]
    return [] if a == b else [f"{path or '<top>'}: {a!r:.120} != {b!r:.120}"]


def test_the_paper_layers_cover_every_backbone_and_tool_dataset():
    assert paper_combinations() == PAPER
    root = REPO / "config" / "paper"
    layers = {root / "base.yaml"} | {f for b, t in PAPER for f in paper_configfiles(b, t)}
    assert set(root.rglob("*.yaml")) == layers  # no stray or leftover one-file config
    with pytest.raises(ConfigError, match="missing layer.*known: llama-3-8b-instruct x api-bank"):
        paper_configfiles("llama-3-8b-instruct", "toolbench")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_shipped_config_is_valid(path):
    config = load_config(path)
    assert config["seed"] == 1  # a default the schema fills in when absent, or the paper's


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_paper_setting_is_valid_and_named_for_its_layers(backbone, tool):
    config = paper(backbone, tool)
    assert config["seed"] == 1 and config["name"] == f"{backbone}_{tool}" and list(config["models"]) == [backbone]
    assert config["tasks"]["tool"]["dataset"] == {"api-bank": "api_bank", "toolalpaca": "toolalpaca_train"}[tool]


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_paper_layers_merge_into_the_former_configs_but_for_the_deliberate_changes(backbone, tool):
    name = f"{backbone}_{tool}"
    merged = read_configs(paper_configfiles(backbone, tool))  # as written: no schema defaults
    undone = undo_deliberate_changes(merged, backbone, tool)
    if digest(undone) != FORMER_SHA256[name]:
        former = former_config(name)
        detail = "\n".join(differences(former, undone)) if former is not None else "(git history unavailable)"
        pytest.fail(f"{name}: the merged layers differ from the former config beyond the deliberate changes "
                    f"(a change on purpose belongs in undo_deliberate_changes):\n{detail}")


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_the_layers_merge_as_snakemake_merges_several_configfiles(backbone, tool):
    from snakemake.settings.types import ConfigSettings

    files = paper_configfiles(backbone, tool)
    assert read_configs(files) == ConfigSettings(configfiles=files).overwrite_config


@pytest.mark.parametrize("layers", [
    [{"a": {"b": 1, "c": [1, 2]}}, {"a": {"c": [3]}}],                 # a list is replaced, not appended
    [{"a": {"b": 1}}, {"a": {"d": {"e": 2}}}, {"a": {"b": None}}],     # mappings merge; later wins, None too
    [{"a": 1}, {"a": {"b": 2}}],                                        # a mapping over a scalar replaces it
    [{"a": {"b": 2}}, {"a": 3}],                                        # and a scalar over a mapping
    [{"a": [1]}, {"a": {}}],                                            # an empty mapping leaves a list alone
    [{"a": None}, {"a": {"b": 1}}],
])
def test_merge_configs_equals_snakemakes_update_config(layers):
    from snakemake.utils import update_config

    expected: dict = {}
    for layer in copy.deepcopy(layers):
        update_config(expected, layer)
    before = copy.deepcopy(layers)
    assert merge_configs(*layers) == expected
    assert layers == before  # the inputs are left alone


def test_load_config_takes_several_files_and_names_them(tmp_path):
    files = paper_configfiles("llama-3-8b-instruct", "api-bank")
    assert load_config(files) == load_config([str(f) for f in files])
    # a layer left out: the error names the files merged
    with pytest.raises(ConfigError, match=r"(?s)base\.yaml \+ \S+/llama-3-8b-instruct\.yaml is invalid:.*'name'"):
        load_config(files[:2])


# The paper's hyperparameters as ../shared/docs/citi-method.md states them (section in brackets), written
# out here by hand: every one of the six settings must carry each of them.
BACKBONE_REPOS = {"llama-3-8b-instruct": "meta-llama/Meta-Llama-3-8B-Instruct",  # [4] backbones
                  "mistral-7b-instruct-v0.2": "mistralai/Mistral-7B-Instruct-v0.2",
                  "phi-3-mini-128k-instruct": "microsoft/Phi-3-mini-128k-instruct"}
GENERAL_SOURCES = {"instruct": "alpaca_gpt4_data.json", "math": "meta-math/MetaMathQA",  # [0]
                   "code": "sahil2801/CodeAlpaca-20k", "knowledge": "mandarjoshi/trivia_qa"}
RP = ("rp", ["molora_router"], 2e-4, 1, True)  # [4] stage, trainable, lr, epochs, routing loss
MI = ("mi", ["molora_experts", "molora_router"], 2e-4, 2, True)
UCO = ("uco", ["unfrozen"], 2e-5, 1, False)


def stages(method: dict) -> list[tuple]:
    return [(s["name"], s["trainable"], s["lr"], s["epochs"], bool(s.get("routing_loss"))) for s in method["stages"]]


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_paper_configs_carry_the_paper_hyperparameters(backbone, tool):
    config = paper(backbone, tool)
    assert [m["repo"] for m in config["models"].values()] == [BACKBONE_REPOS[backbone]]
    # [0] the four general abilities' training sources, and the tool data of this setting
    for task, source in GENERAL_SOURCES.items():
        assert source in config["datasets"][config["tasks"][task]["dataset"]]["source"], task
    tool_source = config["datasets"][config["tasks"]["tool"]["dataset"]]["source"]
    assert {"api-bank": "API-Bank", "toolalpaca": "ToolAlpaca"}[tool] in tool_source
    # [1] importance on 3000 examples per task (seed 1); MOLoRA set top 20%, unfrozen set bottom 10%
    assert (config["importance"]["n_per_task"], config["importance"]["seed"]) == (3000, 1)
    assert (config["selection"]["molora_fraction"], config["selection"]["unfrozen_fraction"]) == (0.2, 0.1)
    # [2] representations: 1000 samples per task, seed 666, the tool-tuned model against the CodeAlpaca control
    rep = config["representation"]
    assert (rep["n_per_task"], rep["seed"]) == (1000, 666)
    assert config["methods"][rep["tuned"]]["mixture"] == "tool" and config["mixtures"][config["methods"][
        rep["control"]]["mixture"]]["tasks"] == ["code"]
    # [3] MOLoRA: 4 experts, r 8, alpha 2, dropout 0, null slot, delta 0.95, beta 0.01, padding as the authors
    assert config["molora"] == {"experts": 4, "rank": 8, "alpha": 2, "dropout": 0.0, "null_slot": True,
                                "delta": 0.95, "beta": 0.01, "mask_padding": False}
    # [4] shared: cosine, warmup 0.1, 4 x accum 4 on 4 GPUs (64), cutoff 4096; mixture 5000 (3000: ToolAlpaca), seed 1
    training = config["training"]
    assert (training["scheduler"], training["warmup_ratio"], training["cutoff_len"]) == ("cosine", 0.1, 4096)
    assert (training["per_device_batch"], training["grad_accum"], training["num_gpus"]) == (4, 4, 4)
    mixed = config["mixtures"]["mixed"]
    assert mixed["general_per_task"] == {"api-bank": 5000, "toolalpaca": 3000}[tool] and mixed["seed"] == 1
    assert sorted(mixed["tasks"]) == sorted(GENERAL_SOURCES) and mixed["include_tool"] is True
    methods = config["methods"]
    assert methods["citi"]["mixture"] == "mixed" and methods["citi"]["adapter"] == "molora"
    assert stages(methods["citi"]) == [RP, MI, UCO]
    # [5] FT: lr 2e-5, 2 epochs, batch 2 x accum 8; LoRA: all linear modules, r 16, alpha 16, lr 2e-4, 2 epochs
    for name, mixture in (("ft", "tool"), ("ft_dm", "mixed")):
        (stage,) = methods[name]["stages"]
        assert (methods[name]["mixture"], stage["trainable"], stage["lr"], stage["epochs"], stage["per_device_batch"],
                stage["grad_accum"]) == (mixture, ["all"], 2e-5, 2, 2, 8), name
    assert config["lora"]["r"] == 16 and config["lora"]["alpha"] == 16
    for name, mixture in (("lora", "tool"), ("lora_dm", "mixed")):
        assert (methods[name]["mixture"], methods[name]["adapter"], methods[name]["components"]) == (
            mixture, "lora", "all"), name
        assert stages(methods[name]) == [("lora", ["lora"], 2e-4, 2, False)], name
    # [5] ablations, each on the mixed data with CITI's stage settings
    assert stages(methods["uco_only"]) == [UCO] and stages(methods["rp_mi"]) == [RP, MI]
    assert stages(methods["wo_rp"]) == [MI, UCO]
    assert methods["wo_lr"]["molora"]["null_slot"] is False and stages(methods["wo_lr"]) == [MI[:4] + (False,), UCO]
    assert methods["wo_molora"]["components"] == "molora_set" and methods["wo_molora"]["adapter"] == "lora"
    assert stages(methods["wo_molora"]) == [("lora", ["lora"], 2e-4, MI[3], False), UCO]
    assert all(methods[m]["mixture"] == "mixed" for m in ("uco_only", "rp_mi", "wo_rp", "wo_lr", "wo_molora"))
    # Table 2 runs on API-Bank, Table 1 on Llama-3 x API-Bank only
    assert ("top20_lora" in methods) == (tool == "api-bank")
    assert ("replace_top20" in methods) == ((backbone, tool) == ("llama-3-8b-instruct", "api-bank"))


# Issue 20, the deliberate fidelity changes (each fails on the former configs)

@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_general_samples_get_the_tool_samples_system_prompt(backbone, tool):
    from citi.data.adapters import toolalpaca
    from citi.data.mixtures import with_system

    prompt = paper(backbone, tool)["mixtures"]["mixed"]["general_system_prompt"]
    assert prompt, "general samples would carry no system turn: the router could tell them by that alone"
    general = {"id": "g", "task": "math", "messages": [{"role": "user", "content": "1+1?"},
                                                       {"role": "assistant", "content": "2"}]}
    assert with_system(general, prompt)["messages"][0] == {"role": "system", "content": prompt}
    if tool == "toolalpaca":  # every ToolAlpaca sample's system prompt ends with these instructions
        assert toolalpaca.SYSTEM.endswith(prompt)
    else:
        assert prompt.startswith("Generate an API request in the format of [ApiName(")


def test_api_bank_call_samples_begin_with_the_general_system_prompt(shared_data):
    prompt = paper("llama-3-8b-instruct", "api-bank")["mixtures"]["mixed"]["general_system_prompt"]
    for split in ("level1_api", "level2_api"):
        records = adapters.get("api_bank").load(shared_data / "api_bank", split)
        systems = [r["messages"][0]["content"].strip() for r in records]
        assert len(systems) > 100 and all(s.startswith(prompt + "\n\nAPI descriptions:") for s in systems), split


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_importance_uses_the_authors_normalisation(backbone, tool):
    assert paper(backbone, tool)["importance"]["normalisation"] == "official"


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_mt_bench_samples_at_fastchats_temperatures_with_a_seed(backbone, tool):
    from citi.evaluation import mt_bench

    options = paper(backbone, tool)["evaluation"]["benchmarks"]["mt_bench"]["options"]
    assert options["temperatures"] == mt_bench.FASTCHAT_TEMPERATURES == FASTCHAT_TEMPERATURES
    assert options["default_temperature"] == 0.7 and isinstance(options["seed"], int)
    mt_bench.check_sampling(options["temperatures"], options["default_temperature"], options["seed"])


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_triviaqa_column_says_which_set_it_scores(backbone, tool):
    config = paper(backbone, tool)
    bench = config["evaluation"]["general"]["benchmarks"]["triviaqa"]
    dataset = config["datasets"][bench["dataset"]]
    assert (dataset["source"], bench["split"]) == ("hub:mandarjoshi/trivia_qa", "validation")
    (column,) = [c for c in config["tables"]["columns"] if c["benchmark"] == "triviaqa"]
    assert column["name"] == "TQA (rc validation)" and column["paper"] is None  # not the paper's set


@pytest.mark.parametrize("backbone, tool", PAPER, ids=PAPER_IDS)
def test_phi3_unfrozen_count_is_truncated_as_the_authors(backbone, tool):
    from citi.importance.selection import set_size

    spec = paper(backbone, tool)["selection"]
    n = 128 if backbone.startswith("phi-3") else 224  # Phi-3: 4 fused modules x 32 layers; else 7 x 32
    expected = 12 if backbone.startswith("phi-3") else 22
    assert spec["unfrozen_rounding"] == ("truncate" if backbone.startswith("phi-3") else "half_up")
    assert set_size(spec["unfrozen_fraction"], n, spec["unfrozen_rounding"]) == expected


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
