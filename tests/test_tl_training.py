"""TL-Training: MAE per-turn data, PKT key-token weights, IRM through trl (tiny model)."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from citi.config import check_config
from citi.data.tool_turns import ErrorDetector, build_tool_turns, split_turns
from citi.records import message
from citi.training.collator import Collator, encode_record
from citi.training.pkt import answer_weights, decisive_offsets, weighted_loss
from citi.training.tool_targets import available_tools, gold_call
from tests.training_helpers import REPO


def tool_record(rid: str, messages: list[dict]) -> dict:
    return {"id": rid, "source": "t", "task": "tool", "task_type": 1, "messages": messages}


def load_test_config():
    return check_config(yaml.safe_load((REPO / "config" / "test.yaml").read_text()), source="test config")


# ---- MAE -------------------------------------------------------------------------------------

def trajectory() -> dict:
    """Four assistant turns; the second call's feedback is an error (a paper marker), the others succeed."""
    return tool_record("traj", [
        message("system", "Tools: Search, Open."), message("user", "Find the report and open it."),
        message("assistant", "API-Request: [Search(query='report')]"), message("tool", '{"hits": ["r1"]}'),
        message("assistant", "API-Request: [Open(doc=r1, mode=1, extra=2)]"),
        message("tool", "TypeError: Open() got an unexpected keyword argument 'extra'"),
        message("assistant", "API-Request: [Open(doc='r1')]"), message("tool", '{"text": "all fine"}'),
        message("assistant", "The report says all is fine.")])


def test_mae_masks_exactly_the_turns_followed_by_error_feedback():
    examples, report = split_turns([trajectory()], ErrorDetector())
    assert [e["meta"]["turn"] for e in examples] == [1, 3, 4]
    assert [e["messages"][-1]["content"] for e in examples] == [
        "API-Request: [Search(query='report')]", "API-Request: [Open(doc='r1')]", "The report says all is fine."]
    assert report["masked"] == 1 and report["masked_turns"] == [
        {"id": "traj", "turn": 2, "reason": "marker 'unexpected keyword'"}]
    assert report["assistant_turns"] == 4 and report["turns_with_feedback"] == 3
    # mask (the paper): the wrong call and its error stay in the context of the turns after it
    assert any("unexpected keyword" in m["content"] for m in examples[1]["messages"])
    dropped, _ = split_turns([trajectory()], ErrorDetector(), on_error="drop")
    assert [len(e["messages"]) for e in dropped] == [3, 5, 7]
    assert not any("unexpected" in m["content"] or "extra=2" in m["content"] for m in dropped[1]["messages"])


def test_mae_off_gives_every_turn_and_on_keeps_successes():
    plain, report = build_tool_turns([trajectory()], None)
    assert [e["meta"]["turn"] for e in plain] == [1, 2, 3, 4] and report["masked"] == 0 and not report["mae"]
    assert len({e["id"] for e in plain}) == 4  # per-turn ids stay unique
    clean = tool_record("ok", [message("user", "x"), message("assistant", "[A()]"), message("tool", "fine")])
    assert len(split_turns([clean], ErrorDetector())[0]) == 1


def test_mae_finds_the_feedback_of_a_flattened_step_in_the_next_step():
    """API-Bank's prompt files: a step's feedback is only in the history of the following step."""
    system = "API descriptions:\n{\"name\": \"Pay\", \"input_parameters\": {\"amount\": {}}}"
    first = tool_record("s1", [message("system", system), message("user", "User: pay 5\nGenerate API Request:\n"),
                               message("assistant", "API-Request: [Pay(amount='five')]")])
    second = tool_record("s2", [message("system", system), message("user", (
        "User: pay 5\nAPI-Request: [Pay(amount='five')]->Exception: amount must be a number\n"
        "Generate API Request:\n")), message("assistant", "API-Request: [Pay(amount=5)]")])
    detector = ErrorDetector(markers=(), patterns=("^Exception: ",))
    examples, report = split_turns([first, second], detector)
    assert [e["id"] for e in examples] == ["s2"] and report["feedback_from_next_step"] == 1
    assert report["masked_by_reason"] == {"pattern '^Exception: '": 1}
    dropped, report = split_turns([first, second], detector, on_error="drop")
    assert "five" not in dropped[0]["messages"][1]["content"] and report["context_lines_dropped"] == 1
    # the paper's normalisation matches across punctuation and case; literal matching does not
    assert ErrorDetector().reason('{"Error": 1}') is not None
    assert ErrorDetector(normalise=False).reason('{"Error": 1}') is None


def test_mae_runs_on_toolalpaca_training_instances(tmp_path):
    from citi.data.adapters import get

    api = {"Name": "Weather", "NLDocumentation": 'getForecast: forecast\nParameters: {"city": "Required. string."}',
           "Instances": [{"input": "Weather in Rome?", "output": "Sunny.", "intermediate_steps": [
               [["getForecast", '{"town": "Rome"}', "Thought: call it"], "Status code 400. 400 Client Error"],
               [["getForecast", '{"city": "Rome"}', "Thought: retry"], '{"sky": "sunny"}']]}]}
    path = tmp_path / "train_data.json"
    path.write_text(json.dumps([api]))
    records = get("toolalpaca").convert([path], "train")
    examples, report = split_turns(records, ErrorDetector())
    assert [e["meta"]["turn"] for e in examples] == [2, 3] and report["masked"] == 1
    assert gold_call(examples[0]) == {"api_name": "getForecast", "parameters": {"city": "Rome"}}
    assert available_tools(examples[0]) == {"getForecast": ["city"]}


def test_mae_on_the_real_api_bank_dialogues(shared_data):
    from citi.data.adapters import get

    files = sorted((shared_data / "api_bank" / "lv1-lv2-samples").glob("level-*/*.jsonl"))
    records = get("api_bank").convert(files, "dialogues")
    mae = load_test_config()["tl_training"]["mae"]
    examples, report = build_tool_turns(records, mae)
    assert report["examples"] == report["assistant_turns"] - report["masked"] == len(examples)
    assert report["turns_with_feedback"] == sum(m["role"] == "tool" for r in records for m in r["messages"])


# ---- PKT -------------------------------------------------------------------------------------

TOOLS = ["getPapersByKeywords", "getPaperDetails", "getAuthor", "finish"]


def pkt_record(gold: str = "getPapersByKeywords", tools=TOOLS, args: str = "query='llm'") -> dict:
    lines = "\n".join(json.dumps({"name": t, "input_parameters": {"query": {"type": "str"}}}) for t in tools)
    return tool_record(f"p-{gold}-{len(args)}", [message("system", f"API descriptions:\n{lines}"),
                                                 message("user", "Find papers."),
                                                 message("assistant", f"API-Request: [{gold}({args})]")])


def word_tokenizer():
    """A fast tokenizer whose tokens span several characters: 'get', 'Papers', 'By', ... ."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    split = pre_tokenizers.Split(Regex(r"[A-Z]?[a-z]+|[0-9]+|\s+|[^A-Za-z0-9\s]"), behavior="isolated")
    text = "API-Request: [getPapersByKeywords(query='llm')]"
    pieces = [p for p, _ in split.pre_tokenize_str(text)]
    vocab = {"<unk>": 0, **{p: i + 1 for i, p in enumerate(dict.fromkeys(pieces))}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = split
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>"), text


def test_decisive_characters_follow_the_shared_prefixes():
    assert decisive_offsets("getPapersByKeywords", TOOLS) == [0, 3, 8]  # start, after "get", after "getPaper"
    assert decisive_offsets("finish", TOOLS) == [0]
    assert decisive_offsets("Search", ["Search", "SearchFlights"]) == [0, 6]  # the gold is a prefix: "(" decides


def test_pkt_weights_with_multi_character_tokens():
    tok, text = word_tokenizer()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    weights = answer_weights(pkt_record(), text, ids, tok, w_max=9)
    # key: 'get' (the name's start, and where getAuthor differs) and 'Papers' (where getPaperDetails differs)
    key = [i for i, p in enumerate(pieces) if p in ("get", "Papers")]
    n_other = len(ids) - len(key)
    assert [w for w in weights if w != 1.0] == [min(n_other / 2, 9)] * 2
    assert [i for i, w in enumerate(weights) if w != 1.0] == key


def test_pkt_weights_on_the_byte_tokenizer_are_clipped(tiny_model_dir):
    from citi.models import load

    _, tok = load(tiny_model_dir)
    for w_max, expected in ((9, 9.0), (20, None)):
        sample = encode_record(pkt_record(), tok, 512, pkt={"w_max": w_max})
        answer = [i for i, label in enumerate(sample["labels"]) if label != -100]
        weights = [sample["weights"][i] for i in answer]
        text = tok.decode([sample["input_ids"][i] for i in answer])
        start = text.index("getPapers")
        # one byte per token: the key tokens are the characters at name offsets 0, 3 and 8
        assert [i for i, w in enumerate(weights) if w != 1.0] == [start, start + 3, start + 8]
        assert weights[start] == (expected or (len(answer) - 3) / 3)
        assert all(sample["weights"][i] == 0.0 for i in range(len(sample["labels"])) if sample["labels"][i] == -100)
    plain = encode_record(tool_record("g", [message("user", "hi"), message("assistant", "Hello there.")]), tok, 512,
                          pkt={"w_max": 9})
    assert set(plain["weights"]) == {0.0, 1.0}  # no call: no key tokens
    code = {"id": "c", "source": "t", "task": "code", "task_type": 0,
            "messages": [message("user", "Sort x."), message("assistant", "return sorted(x)")]}
    assert set(encode_record(code, tok, 512, pkt={"w_max": 9})["weights"]) == {0.0, 1.0}  # not a tool call


def test_pkt_loss_is_the_same_at_batch_size_one_and_eight(tiny_model_dir):
    from citi.models import load

    torch.manual_seed(0)
    model, tok = load(tiny_model_dir)
    records = [pkt_record(g, args=a) for g, a in zip(TOOLS * 2, ["q='a'", "q='bb'", "x=1", "", "q='long text'",
                                                                 "q=[1, 2]", "a='b', c='d'", "z=None"])]
    records[3] = tool_record("chat", [message("user", "hello"), message("assistant", "Hi, how can I help?")])
    samples = [encode_record(r, tok, 512, pkt={"w_max": 9}) for r in records]
    collate = Collator(tok.pad_token_id)

    def loss(batch):
        b = collate(batch)
        with torch.no_grad():
            logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
        return weighted_loss(logits, b["labels"], b["weights"]), logits, b

    together, logits, b = loss(samples)
    alone = torch.stack([loss([s])[0] for s in samples]).mean()
    assert torch.allclose(together, alone, atol=1e-5), (together, alone)
    plain = weighted_loss(logits, b["labels"], (b["labels"] != -100).float())
    assert not torch.allclose(together, plain, atol=1e-3)  # the key-token weights change the loss


# ---- IRM -------------------------------------------------------------------------------------

def test_irm_prompts_come_from_tool_calls_and_the_reward_follows_the_categories(tiny_model_dir):
    from citi.models import load
    from citi.training.irm import irm_reward_function, rl_prompts

    _, tok = load(tiny_model_dir)
    reply = tool_record("r", [message("user", "hi"), message("assistant", "Hello.")])
    prompts = rl_prompts([pkt_record(), reply], tok)
    assert len(prompts) == 1 and prompts[0]["prompt"].endswith("<|im_start|>assistant\n")
    assert "getPaperDetails" in json.loads(prompts[0]["tool_names"])
    reward = irm_reward_function(None, clip=5.0)
    completions = ["API-Request: [getPapersByKeywords(query='llm')]", "API-Request: [getPaperDetails(query='llm')]",
                   "API-Request: [getPapersByKeywords(query='gpt')]", "no call here"]
    got = reward([prompts[0]["prompt"]] * 4, completions, [prompts[0]["gold_call"]] * 4, [prompts[0]["tool_names"]] * 4)
    assert got == [1.0, -1.5, -0.25, -2.0]
    assert irm_reward_function(None, clip=1.0)([""], ["nothing"], [prompts[0]["gold_call"]],
                                               [prompts[0]["tool_names"]]) == [-1.0]


@pytest.mark.slow
def test_a_short_ppo_run_raises_the_reward_and_reports_the_kl(tiny_model_dir, tmp_path):
    from citi.models import load
    from citi.training.irm import train_ppo
    from citi.training.trainer import write_log

    torch.manual_seed(0)
    model, tok = load(tiny_model_dir)
    config = load_test_config()
    config["training"]["scheduler"] = "constant"
    config["tl_training"]["irm"].update(num_generations=8, prompts_per_step=1, max_new_tokens=4, warmup_steps=0,
                                        kl_coef=0.01)
    records = [pkt_record(args=f"query='{i}'") for i in range(4)]

    def lower_case(prompts, completions, **_):  # planted easy task: write lower-case letters
        return [sum(c.islower() for c in s) / max(len(s), 1) for s in completions]

    stage = {"name": "irm", "kind": "ppo", "trainable": ["all"], "lr": 3e-2, "epochs": 1, "max_steps": 6}
    stats = train_ppo(model, tok, records, config, stage, tmp_path / "work", reward_fn=lower_case)
    rewards = [r["reward"] for r in stats["rows"]]
    assert len(rewards) == 6
    assert sum(rewards[-2:]) / 2 > sum(rewards[:2]) / 2 + 0.2, rewards
    assert stats["kl_last"] is not None and stats["kl_last"] > 0  # the policy moved away from the reference
    write_log(stats["rows"], tmp_path / "log.csv", tmp_path / "log.png", "irm")
    header = next(csv.reader(open(tmp_path / "log.csv")))
    assert {"reward", "kl", "loss"} <= set(header)
