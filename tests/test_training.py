"""Training stages on the tiny model: masking, frozen groups, routing, resume, reloadable checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from training_helpers import (MOLORA_SET, REPO, TOP, UNFROZEN, make_workspace, record, records, stage_dir,
                              tiny_config, with_stage)


@pytest.fixture
def workspace(tmp_path, tiny_model_dir, monkeypatch):
    make_workspace(tmp_path, tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    return tmp_path


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "model.safetensors"))


def changed(a: dict, b: dict) -> set[str]:
    assert a.keys() == b.keys()
    return {k for k in a if not torch.equal(a[k], b[k])}


def module_of(key: str) -> str:
    return key.rsplit(".", 1)[0]


# ---- loss on target positions only -------------------------------------------------------------

@pytest.mark.parametrize("loss_fn", ["target_token_loss", "unpadded_target_token_loss"])
@pytest.mark.parametrize("method", ["ft", "lora", "citi"])
def test_target_token_loss_equals_the_models_own_loss_and_gradients(workspace, tiny_model_dir, method, loss_fn):
    """Projecting logits only where a target is predicted, and running each row at its own length,
    change cost, not the loss or its gradient."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from citi.training.collator import Collator, encode_record
    from citi.training.adapters import prepare_model
    from citi.training import trainer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    # different lengths, so right padding and targets at different positions per row
    batch = Collator(tok.pad_token_id)([encode_record(r, tok, cutoff_len=4096) for r in records(4)])
    batch.pop("task_type")
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1  # rows of different lengths
    selection = {"molora": MOLORA_SET, "unfrozen": UNFROZEN}
    config = tiny_config()

    def loss_and_grads(use_target_loss: bool):
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        model = prepare_model(base, config, method, 1, selection)
        model.train()
        loss = getattr(trainer, loss_fn)(model, dict(batch))[1] if use_target_loss else model(**batch).loss
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    reference, ref_grads = loss_and_grads(False)
    loss, grads = loss_and_grads(True)
    assert ref_grads, "nothing trainable received a gradient"
    torch.testing.assert_close(loss, reference, rtol=1e-5, atol=1e-6)
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_rows_at_their_own_length_give_the_batchs_routing_loss_and_gradients(workspace, tiny_model_dir):
    """CITI's router stages run each row alone too: the slot usages gathered row by row give the
    padded batch's CE + beta * L_r (padding masked), and the same gradients."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from citi.methods.molora import molora_layers, routing_loss
    from citi.methods.molora.layer import routing_loss_from_usage, routing_usage
    from citi.training.collator import Collator, encode_record
    from citi.training.adapters import prepare_model
    from citi.training.trainer import target_token_loss, unpadded_target_token_loss

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    recs = records(4)
    for k, rec in enumerate(recs):
        rec["task_type"] = k % 2  # tool and general rows: the two weightings of L_r
    batch = Collator(tok.pad_token_id)([encode_record(r, tok, cutoff_len=4096) for r in recs])
    task_type = batch.pop("task_type")
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1 and len(set(task_type.tolist())) == 2

    def loss_and_grads(rows: bool):
        torch.manual_seed(0)
        model = prepare_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tiny_config(), "citi", 1,
                              {"molora": MOLORA_SET, "unfrozen": UNFROZEN})
        layers = [layer for _, layer in molora_layers(model)]
        assert layers and all(layer.null_slot for layer in layers)
        for layer in layers:
            layer.mask_padding = True
        model.train()
        if rows:
            usages = {}
            gather = lambda: [usages.setdefault(n, []).append(u) for n, u in routing_usage(model).items()]
            ce = unpadded_target_token_loss(model, dict(batch), gather)[1]
            r = routing_loss_from_usage(model, {n: torch.cat(u) for n, u in usages.items()}, task_type)
        else:
            ce = target_token_loss(model, dict(batch))[1]
            r = routing_loss(model, task_type, batch["attention_mask"])
        loss = ce + 0.5 * r
        loss.backward()
        return loss.detach(), r.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    ref, ref_r, ref_grads = loss_and_grads(False)
    loss, r, grads = loss_and_grads(True)
    assert ref_grads and float(ref_r) > 0
    torch.testing.assert_close(r, ref_r, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


# ---- collation -------------------------------------------------------------------------------

def test_labels_cover_only_the_last_assistant_turn(tiny_model_dir):
    from transformers import AutoTokenizer

    from citi.training.collator import IGNORE, Collator, encode_record

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rec = record(3, tool=True)
    rec["messages"].append({"role": "user", "content": "trailing turn after the target"})
    sample = encode_record(rec, tok, cutoff_len=4096)
    labelled = [t for t, l in zip(sample["input_ids"], sample["labels"]) if l != IGNORE]
    assert tok.decode(labelled) == "API-Request: [GetWeather(city='C3')]<|im_end|>\n"
    assert "<|im_start|>assistant\nHello<|im_end|>" in tok.decode(sample["input_ids"])  # the first answer is context only
    assert "trailing turn" not in tok.decode(sample["input_ids"])
    # the first unmasked token starts the answer: everything before it renders the prompt
    first = next(i for i, l in enumerate(sample["labels"]) if l != IGNORE)
    assert tok.decode(sample["input_ids"][:first]).endswith("<|im_start|>assistant\n")

    short = encode_record(rec, tok, cutoff_len=40)
    assert len(short["input_ids"]) == 40 and sum(l != IGNORE for l in short["labels"]) > 0

    batch = Collator(tok.pad_token_id)([sample, short])
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][1].sum() == 40 and (batch["labels"][1, 40:] == IGNORE).all()
    assert (batch["input_ids"][1, 40:] == tok.pad_token_id).all()
    assert batch["task_type"].tolist() == [1, 1]


def test_a_record_without_an_assistant_turn_is_named():
    from citi.errors import RecordError
    from citi.training.collator import encode_record

    rec = record(1, tool=False)
    rec["messages"] = rec["messages"][:2]
    with pytest.raises(RecordError, match="t/train/1"):
        encode_record(rec, tokenizer=None, cutoff_len=64, where="mix.jsonl:4")


def test_methods_read_the_selections_they_need():
    from citi.importance.selection import needed_selections
    from citi.training.adapters import ADAPTERS

    config = tiny_config()
    methods = config["methods"]
    assert needed_selections("ft", methods["ft"]) == []
    assert needed_selections("citi", methods["citi"]) == ["citi"]
    assert needed_selections("top20_lora", methods["top20_lora"]) == ["top20"]
    assert needed_selections("wo_molora", methods["wo_molora"]) == ["citi"]
    assert {spec.get("adapter", "none") for spec in methods.values()} <= set(ADAPTERS)


# ---- stages ----------------------------------------------------------------------------------

def test_each_citi_stage_changes_only_its_own_parameters(workspace, tiny_model_dir):
    from citi.training.stage import run_stage

    config = tiny_config()
    base = weights(tiny_model_dir)
    folders = []
    for stage in (1, 2, 3):
        run_stage(config, "tiny", "citi", stage, stage_dir("citi", stage))
        folders.append(weights(stage_dir("citi", stage)))
    s1, s2, s3 = folders
    router = {k for k in s1 if ".molora_router." in k}
    experts = {k for k in s1 if ".molora_A" in k or ".molora_B" in k}
    assert {module_of(module_of(k)) for k in router} == set(MOLORA_SET)

    # stage 1 (RP): routers only; base weights as in the base model, experts as initialised (B = 0)
    assert changed({k: s1[k] for k in base}, base) == set()
    assert all(not s1[k].any() for k in experts if ".molora_B" in k)
    assert router and experts
    # stage 2 (MI): experts (and routers); nothing else
    moved = changed(s1, s2)
    assert moved <= experts | router and moved & experts
    # stage 3 (UCO): only the unfrozen modules' own weights; adapters untouched
    moved = changed(s2, s3)
    assert moved and {module_of(k) for k in moved} <= set(UNFROZEN)
    assert not moved & (experts | router)


def test_router_pretraining_changes_routers_and_nothing_else(workspace, tiny_model_dir):
    from citi.methods.molora import molora_parameters
    from citi.training.adapters import prepare_model
    from citi.training.stage import run_stage
    from citi.models import load
    from transformers import set_seed

    config = tiny_config()
    set_seed(config["training"]["seed"])  # the same seeded initialisation the stage starts from
    start, _ = load(tiny_model_dir, dtype="float32")
    start = prepare_model(start, config, "citi", 1, {"molora": MOLORA_SET, "unfrozen": UNFROZEN})
    initial = {k: v.detach().clone() for k, v in start.state_dict().items()}
    routers = {n for n, _ in molora_parameters(start, "router")}
    run_stage(config, "tiny", "citi", 1, stage_dir("citi", 1))
    after = weights(stage_dir("citi", 1))
    common = {k: initial[k] for k in after}
    assert changed(common, after) == routers


def test_routing_loss_falls_and_tool_tokens_use_the_experts(workspace, tiny_model_dir):
    from transformers import set_seed

    from citi.methods.molora import routing_loss
    from citi.models import load
    from citi.training.collator import Collator, encode_records
    from citi.training.adapters import prepare_model
    from citi.training.router import mean_router_mass
    from citi.training.stage import run_stage

    # whole-mixture batches at a constant rate: the routing loss (a batch statistic) then descends smoothly
    config = with_stage(tiny_config(per_device_batch=12, scheduler="constant", warmup_ratio=0.0), "citi", 1,
                        lr=1e-2, epochs=10)
    set_seed(config["training"]["seed"])  # the stage's own seeded starting point
    start, tok = load(tiny_model_dir, dtype="float32")
    start = prepare_model(start, config, "citi", 1, {"molora": MOLORA_SET, "unfrozen": UNFROZEN})
    batch = Collator(tok.pad_token_id)(encode_records(records(), tok, 256))

    def loss_on_all(model):  # the routing loss of the whole mixture as one batch: no batch-composition noise
        with torch.no_grad():
            model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            return float(routing_loss(model, batch["task_type"], batch["attention_mask"]))

    before = loss_on_all(start)
    run_stage(config, "tiny", "citi", 1, stage_dir("citi", 1))
    trained, _ = load(stage_dir("citi", 1), dtype="float32")
    after = loss_on_all(trained)
    assert after < 0.95 * before, (before, after)
    logged = [float(r["routing_loss"]) for r in csv_rows(Path(stage_dir("citi", 1)) / "training_log.csv")]
    assert len(logged) == 10 and logged[-1] < logged[0]

    held_out = records(20)[12:]
    tool = mean_router_mass(trained, tok, [r for r in held_out if r["task_type"] == 1], 4, 256)
    general = mean_router_mass(trained, tok, [r for r in held_out if r["task_type"] == 0], 4, 256)
    assert set(tool) == set(MOLORA_SET)
    tool_null = sum(float(v[0]) for v in tool.values()) / len(tool)
    general_null = sum(float(v[0]) for v in general.values()) / len(general)
    assert tool_null < general_null, (tool_null, general_null)


def csv_rows(path):
    import csv

    with open(path) as f:
        yield from csv.DictReader(f)


def test_precision_bf16_trains_under_autocast_only_on_a_cpu_with_native_bf16(workspace, monkeypatch):
    """bf16 is autocast with fp32 master weights: the saved weights stay float32, and they differ from an fp32
    run's where the CPU has native bf16 and equal them where it has not (then the stage trains in fp32)."""
    from citi import precision as prec
    from citi.training.stage import run_stage

    assert [prec.effective_precision(p, on_gpu=False) for p in ("fp32", "fp16")] == ["fp32", "fp32"]
    assert [prec.effective_precision(p, on_gpu=True) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    runs = {}
    for name, precision, native in [("fp32", "fp32", True), ("bf16", "bf16", True), ("bf16-elsewhere", "bf16", False)]:
        monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda native=native: native)
        assert prec.effective_precision(precision, on_gpu=False) == ("bf16" if precision == "bf16" and native else "fp32")
        torch.manual_seed(0)
        folder = f"results/precision/{name}"
        run_stage(tiny_config(precision=precision), "tiny", "ft", 1, folder)
        runs[name] = weights(folder)
    assert all(t.dtype == torch.float32 for run in runs.values() for t in run.values())
    assert not changed(runs["fp32"], runs["bf16-elsewhere"])  # the fallback is the fp32 run, bit for bit
    assert changed(runs["fp32"], runs["bf16"])  # autocast ran the matrix products in bf16


def test_auto_evaluation_dtype_is_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    from citi import precision as prec

    for native in (True, False):
        monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda native=native: native)
        assert prec.evaluation_dtype("auto", "cpu") == ("bfloat16" if native else "float32")
        assert [prec.evaluation_dtype(d, "cpu") for d in (None, "float32", "bfloat16")] == [None, "float32", "bfloat16"]


@pytest.mark.parametrize("method", ["ft", "lora", "citi"])
def test_saved_stage_reloads_with_identical_logits(workspace, monkeypatch, method):
    from transformers import AutoModelForCausalLM

    from citi.training import checkpoint
    from citi.training.stage import run_stage

    ids = torch.tensor([[5, 60, 70, 80, 90, 100, 7]])
    seen = {}
    original = checkpoint.save_trained

    def capture(model, *args, **kwargs):
        with torch.no_grad():
            seen["logits"] = model.eval()(input_ids=ids).logits
        return original(model, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_trained", capture)
    prov = run_stage(tiny_config(), "tiny", method, 1, stage_dir(method, 1))
    reloaded = AutoModelForCausalLM.from_pretrained(stage_dir(method, 1), trust_remote_code=True).eval()
    with torch.no_grad():
        logits = reloaded(input_ids=ids).logits
    if method == "lora":  # saved merged: the same function up to float rounding
        torch.testing.assert_close(logits, seen["logits"], atol=1e-5, rtol=1e-5)
        assert (Path(stage_dir(method, 1)) / "adapter" / "adapter_config.json").is_file()
    else:
        assert torch.equal(logits, seen["logits"])
    saved = json.loads((Path(stage_dir(method, 1)) / "citi_model.json").read_text())
    assert saved["method"] == method and saved["trainable_parameters"] == prov["trainable_parameters"] > 0
    assert saved["tokens_seen"] > 0 and saved["config_hash"]
    assert (Path(stage_dir(method, 1)) / "loss.png").stat().st_size > 0
    assert not Path(stage_dir(method, 1) + ".partial").exists()


def test_selected_full_training_touches_only_the_selection(workspace, tiny_model_dir):
    from citi.training.stage import run_stage

    run_stage(tiny_config(), "tiny", "top20_full", 1, stage_dir("top20_full", 1))
    moved = changed(weights(tiny_model_dir), weights(stage_dir("top20_full", 1)))
    assert moved and {module_of(k) for k in moved} <= set(TOP)


def test_weight_replacement_copies_only_the_selected_modules(workspace, tiny_model_dir):
    from citi.training.replace import replace_weights
    from citi.training.stage import run_stage

    run_stage(tiny_config(), "tiny", "ft", 1, stage_dir("ft", 1))
    replace_weights(tiny_model_dir, stage_dir("ft", 1), TOP, "replaced", {"method": "replace_top20"})
    base, ft, out = weights(tiny_model_dir), weights(stage_dir("ft", 1)), weights("replaced")
    for key, value in out.items():
        expected = ft[key] if module_of(key) in TOP else base[key]
        assert torch.equal(value, expected), key
    assert changed(base, out)


# ---- resume ----------------------------------------------------------------------------------

def train_in_subprocess(config_path: Path, folder: str, cwd: Path, kill_after: int | None = None):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("CITI_KILL_AFTER_STEP", None)
    if kill_after is not None:
        env["CITI_KILL_AFTER_STEP"] = str(kill_after)
    return subprocess.run([sys.executable, str(REPO / "scripts" / "train_stage.py"), "--config", str(config_path),
                           "--model", "tiny", "--tool_dataset", "embedded_tools", "--method", "ft", "--stage", "1",
                           "--folder", folder], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_a_killed_stage_resumes_to_the_same_weights(workspace):
    config = tiny_config(save_steps=2)
    config["methods"]["ft"]["stages"][0]["epochs"] = 2  # 6 steps: killed after step 2, in epoch 1
    cfg = workspace / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))

    whole = train_in_subprocess(cfg, "whole", workspace)
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = train_in_subprocess(cfg, "resumed", workspace, kill_after=2)
    assert killed.returncode == -signal.SIGKILL
    assert not Path("resumed").exists() and list(Path("resumed.partial").glob("checkpoint-2"))
    again = train_in_subprocess(cfg, "resumed", workspace)
    assert again.returncode == 0, again.stderr[-3000:]
    prov = json.loads(Path("resumed/citi_model.json").read_text())
    assert prov["resumed_from"].endswith("checkpoint-2")
    a, b = weights("whole"), weights("resumed")
    assert changed(a, b) == set()
    assert not Path("resumed.partial").exists()


# ---- rules -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_training_rules_run_end_to_end_on_the_test_config(local_test_run):
    """Checked on the session's run of the test config's whole DAG (read-only)."""
    from transformers import AutoModelForCausalLM

    from citi import paths

    def ckpt(method, stage):
        return paths.STAGE_CHECKPOINT.format(model="tiny", tool_dataset="embedded_tools", method=method, stage=stage)

    run = local_test_run
    router = paths.ROUTER_ANALYSIS.format(model="tiny", tool_dataset="embedded_tools", method="citi")
    assert (run / ckpt("wo_lr", 2) / "citi_model.json").is_file()
    for stage in (1, 2, 3):  # each stage its own job and folder, loading the previous one
        prov = json.loads((run / ckpt("citi", stage) / "citi_model.json").read_text())
        assert prov["stage"] == stage and prov["started_from"].endswith("stage2" if stage == 3 else
                                                                        "stage1" if stage == 2 else "tiny")
    model = AutoModelForCausalLM.from_pretrained(run / ckpt("citi", 3), trust_remote_code=True)
    assert sum(1 for n, _ in model.named_parameters() if "molora_router" in n) > 0
    assert (run / ckpt("replace_top20", 1) / "model.safetensors").is_file()
    rows = list(csv_rows(run / router / "router_mass.csv"))
    assert {r["inputs"] for r in rows} == {"tool", "general"}
    assert (run / router / "router_mass.png").stat().st_size > 0
    assert not list(run.rglob("*.partial"))


def test_resume_skips_a_checkpoint_cut_short_by_a_kill(tmp_path):
    """scancel mid-save leaves checkpoint-N without trainer_state.json: resume from the one before."""
    from citi.training.trainer import last_complete_checkpoint

    (tmp_path / "checkpoint-2").mkdir()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text('{"global_step": 2}')
    (tmp_path / "checkpoint-3").mkdir()
    (tmp_path / "checkpoint-3" / "config.json").write_text("")
    (tmp_path / "checkpoint-10").mkdir()
    (tmp_path / "checkpoint-10" / "trainer_state.json").write_text('{"global_st')  # torn write
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert last_complete_checkpoint(tmp_path / "missing") is None
