"""Issue 20 item 1: every assistant turn of a ToolAlpaca trajectory is a training target.

A split with ``train_on: all_assistant_turns`` stamps its records; the training collator then labels
every assistant turn (Action / Action Input turns and the final Response), and the importance loss
predicts exactly those tokens. The paper's ToolAlpaca settings set it for every method.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from citi.config import check_config, load_config, paper_combinations, paper_configfiles
from citi.data.adapters.toolalpaca import final
from citi.data.sampling import prepare_split
from citi.data.tool_turns import split_turns
from citi.errors import ConfigError, RecordError
from citi.io import read_json, read_jsonl, write_json
from citi.records import target_indices, validate_record, with_train_on

API = {"Name": "FakeWeather", "NLDocumentation": "getFake: returns invented data\nParameters: {\"city\": str}",
       "Instances": [{
           "input": "What is the invented weather in Oslo and in Rome?", "output": "Cold in Oslo, warm in Rome.",
           "Final Thought": "I have both.",
           "intermediate_steps": [
               [["getFake", "{\"city\": \"Oslo\"}", "Thought: Oslo first\nAction: getFake"],
                "Status Code: 200. OSLO_OBS -3"],
               [["getFake", "{\"city\": \"Rome\"}", "Thought: now Rome\nAction: getFake"],
                "Status Code: 200. ROME_OBS 21"]]}]}


def toolalpaca_split(tmp_path, train_on: str | None) -> list[dict]:
    """The ToolAlpaca adapter's training records, sampled as prepare_split does for the config."""
    write_json(tmp_path / "raw" / "data" / "train_data.json", [API])
    split = {"n": None, "options": {}, **({"train_on": train_on} if train_on else {})}
    dataset = {"adapter": "toolalpaca", "source": str(tmp_path / "raw"), "revision": None, "splits": {"train": split}}
    out, manifest = tmp_path / f"{train_on}.jsonl", tmp_path / f"{train_on}.json"
    prepare_split("toolalpaca_train", dataset, "train", out, manifest, default_seed=1)
    assert read_json(manifest).get("train_on") == (train_on if train_on != "last" else None)
    return read_jsonl(out)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def labelled_runs(ids: list[int], on: list[bool], tok) -> list[str]:
    """The decoded text of each maximal run of target tokens."""
    runs, current = [], []
    for t, flag in zip(ids, on):
        if flag:
            current.append(t)
        elif current:
            runs.append(current)
            current = []
    return [tok.decode(r) for r in runs + ([current] if current else [])]


def test_the_split_setting_marks_every_assistant_turn_as_a_target(tmp_path):
    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    assert rec["train_on"] == "all_assistant_turns"
    assert [m["role"] for m in rec["messages"]] == ["system", "user", "assistant", "tool", "assistant", "tool",
                                                    "assistant"]
    assert target_indices(rec) == [2, 4, 6]
    # absent or "last": the records are as before (no field, the last turn only)
    (plain,) = toolalpaca_split(tmp_path / "plain", None)
    assert "train_on" not in plain and target_indices(plain) == [6]
    assert with_train_on(rec, "last") == plain
    with pytest.raises(RecordError, match="field 'train_on'"):
        validate_record({**plain, "train_on": "every"}, "x.jsonl:1")


def test_collator_labels_every_assistant_turn_and_no_user_tool_or_system_token(tmp_path, tok):
    from citi.training.collator import IGNORE, encode_record

    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    sample = encode_record(rec, tok, cutoff_len=4096)
    on = [label != IGNORE for label in sample["labels"]]
    assistant = [m["content"] for m in rec["messages"] if m["role"] == "assistant"]
    assert assistant[0].startswith("Thought: Oslo first\nAction: getFake\nAction Input:")
    assert assistant[-1] == final("Cold in Oslo, warm in Rome.", "I have both.")
    # each target is one assistant turn with its end-of-turn marker, nothing else
    assert labelled_runs(sample["input_ids"], on, tok) == [f"{a}<|im_end|>\n" for a in assistant]
    context = tok.decode([t for t, flag in zip(sample["input_ids"], on) if not flag])
    for m in rec["messages"]:
        if m["role"] != "assistant":
            assert m["content"] in context  # system, user and tool turns: context only
    assert context.count("<|im_start|>assistant\n") == 3  # each assistant header is context too
    labelled = [t for t, flag in zip(sample["input_ids"], on) if flag]
    assert [label for label, flag in zip(sample["labels"], on) if flag] == labelled

    # the default keeps the last turn only (API-Bank, the embedded data)
    last = encode_record(with_train_on(rec, "last"), tok, cutoff_len=4096)
    assert last["input_ids"] == sample["input_ids"]
    runs = labelled_runs(last["input_ids"], [label != IGNORE for label in last["labels"]], tok)
    assert runs == [f"{assistant[-1]}<|im_end|>\n"]


# Phi-3-mini's template closes a conversation rendered without a generation prompt with the eos
# token (a tool branch added here: Phi-3's own drops tool turns)
EOS_CLOSING_TEMPLATE = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)


def test_a_template_closing_with_the_eos_ends_each_turn_before_it(tmp_path):
    from citi.models.tiny import byte_tokenizer
    from citi.training.collator import IGNORE, encode_record

    tok = byte_tokenizer(EOS_CLOSING_TEMPLATE)
    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    sample = encode_record(rec, tok, cutoff_len=4096)
    assistant = [m["content"] for m in rec["messages"] if m["role"] == "assistant"]
    runs = labelled_runs(sample["input_ids"], [label != IGNORE for label in sample["labels"]], tok)
    # the last turn keeps the closing eos, as with the last turn alone
    assert runs == [f"{a}<|end|>\n" for a in assistant[:-1]] + [f"{assistant[-1]}<|end|>\n{tok.eos_token}"]
    assert tok.decode(sample["input_ids"]).count(tok.eos_token) == 1


def test_truncation_keeps_the_turns_in_order_within_the_budget(tmp_path, tok):
    from citi.training.collator import IGNORE, encode_record

    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    full = encode_record(rec, tok, cutoff_len=4096)
    for cutoff in (40, len(full["input_ids"]) - 30, len(full["input_ids"]) - 1):
        short = encode_record(rec, tok, cutoff_len=cutoff)
        assert len(short["input_ids"]) == len(short["labels"]) <= cutoff
        assert any(label != IGNORE for label in short["labels"])


def test_pkt_weights_cover_every_target_turn(tmp_path, tok):
    from citi.training.collator import IGNORE, encode_record

    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    sample = encode_record(rec, tok, cutoff_len=4096, pkt={"w_max": 9})
    assert len(sample["weights"]) == len(sample["labels"])
    assert all((w > 0) == (label != IGNORE) for w, label in zip(sample["weights"], sample["labels"]))


def test_importance_loss_predicts_exactly_the_collators_targets(tmp_path, tok, tiny_model_dir):
    from citi.importance.encoding import encode_targets
    from citi.importance.forward import answer_losses, full_forward
    from citi.importance.taylor import batched
    from citi.models import load
    from citi.training.collator import IGNORE, encode_record

    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    plain = with_train_on(rec, "last")
    sample = encode_record(rec, tok, cutoff_len=4096)
    ids, flags = encode_targets(tok, rec, 4096)
    assert ids == sample["input_ids"] and flags == [label != IGNORE for label in sample["labels"]]

    model, tok2 = load(str(tiny_model_dir))
    encoded, batches = batched(tok2, [rec, plain], 2, 4096, "cpu")
    chosen, batch = next(batches)
    for b, i in enumerate(chosen):
        target = encode_record([rec, plain][i], tok, cutoff_len=4096)["labels"]
        # position t predicts token t+1: the loss covers the tokens the collator labels, no other
        assert batch["predicts"][b, : len(target) - 1].tolist() == [label != IGNORE for label in target[1:]]
        assert not batch["predicts"][b, len(target) - 1 :].any()
    with torch.no_grad():
        losses = answer_losses(model, full_forward(model, batch), batch)
        for b, i in enumerate(chosen):
            target = torch.tensor([encode_record([rec, plain][i], tok, cutoff_len=4096)["labels"]])
            logits = model(input_ids=torch.tensor([encoded[i][0]])).logits
            expected = F.cross_entropy(logits[0, :-1], target[0, 1:], ignore_index=IGNORE)
            assert torch.allclose(losses[b], expected, atol=1e-5)
    assert sum(flags[1:]) > sum(encode_targets(tok, plain, 4096)[1][1:])  # more targets than the last turn alone


def test_per_turn_examples_train_their_own_turn_only(tmp_path):
    (rec,) = toolalpaca_split(tmp_path, "all_assistant_turns")
    examples, _ = split_turns([rec], None)
    assert len(examples) == 3 and all("train_on" not in e and target_indices(e) == [len(e["messages"]) - 1]
                                      for e in examples)


@pytest.mark.parametrize("backbone", sorted({b for b, _ in paper_combinations()}))
def test_paper_toolalpaca_settings_train_every_turn_for_every_method(backbone):
    config = load_config(paper_configfiles(backbone, "toolalpaca"))
    ref = config["tasks"]["tool"]
    # the tool split that importance scores and every mixture reads
    assert config["datasets"][ref["dataset"]]["splits"][ref["split"]]["train_on"] == "all_assistant_turns"
    for name in ("ft", "lora", "ft_dm", "lora_dm", "citi", "uco_only", "rp_mi", "wo_molora", "wo_lr", "wo_rp"):
        mixture = config["mixtures"][config["methods"][name]["mixture"]]
        assert mixture.get("include_tool", True) and mixture.get("tool_turns") is None, name  # whole trajectories
    api_bank = load_config(paper_configfiles(backbone, "api-bank"))
    ref = api_bank["tasks"]["tool"]
    assert "train_on" not in api_bank["datasets"][ref["dataset"]]["splits"][ref["split"]]


def test_the_schema_names_a_bad_setting():
    config = load_config(paper_configfiles("llama-3-8b-instruct", "toolalpaca"))
    config["datasets"]["toolalpaca_train"]["splits"]["train"]["train_on"] = "every_turn"
    with pytest.raises(ConfigError, match="train_on"):
        check_config(config, source="test")
