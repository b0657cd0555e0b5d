"""TL-Training: MAE per-turn data, PKT key-token weights, IRM by PPO (or trl's GRPO) on the tiny model."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
import yaml

from citi.config import check_config
from citi.data.tool_turns import ErrorDetector, build_tool_turns, split_turns
from citi.records import message
from citi.training.collator import Collator, encode_record
from citi.methods.tl_training.pkt import answer_weights, decisive_offsets, weighted_loss
from citi.toolcalls.targets import available_tools, gold_call
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
    from citi.methods.tl_training.irm import irm_reward_function, rl_prompts

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


def lower_case(prompts, completions, **_):
    """A planted easy task: the reward is the share of lower-case letters (token ids 101..126 of the byte tokenizer)."""
    return [sum(c.islower() for c in s) / max(len(s), 1) for s in completions]


def lower_case_count(prompts, completions, **_):
    """The same task paying 1 per lower-case letter: a signal PPO's fresh critic does not drown in a few steps."""
    return [float(sum(c.islower() for c in s)) for s in completions]


def irm_setup(tiny_model_dir, n_records: int = 4, **irm):
    from citi.models import load

    torch.manual_seed(0)
    model, tok = load(tiny_model_dir)
    config = load_test_config()
    config["training"]["scheduler"] = "constant"
    config["tl_training"]["irm"].update(irm)
    # one tool keeps the prompts short (the tiny tokenizer is byte-level)
    return model, tok, config, [pkt_record("getA", ["getA"], f"query='{i}'") for i in range(n_records)]


def test_gae_matches_its_closed_form():
    from citi.methods.tl_training.ppo import gae

    g, lam = 0.9, 0.8
    r = torch.tensor([[0.1, -0.2, 1.5], [0.3, 2.0, 9.0]])
    v = torch.tensor([[0.5, 0.4, 0.7], [0.2, -0.6, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])  # the second completion ends after two tokens
    adv, ret = gae(r, v, mask, g, lam)
    d = [r[0, 0] + g * v[0, 1] - v[0, 0], r[0, 1] + g * v[0, 2] - v[0, 1], r[0, 2] - v[0, 2]]
    expected0 = [d[0] + g * lam * d[1] + (g * lam) ** 2 * d[2], d[1] + g * lam * d[2], d[2]]
    e1 = [r[1, 0] + g * v[1, 1] - v[1, 0], r[1, 1] - v[1, 1]]  # no value after the last token, none from padding
    expected1 = [e1[0] + g * lam * e1[1], e1[1], 0.0]
    assert torch.allclose(adv, torch.tensor([expected0, expected1]), atol=1e-6)
    assert torch.allclose(ret, (adv + v) * mask, atol=1e-6)
    # gamma = lambda = 1 (the paper's gamma): the advantage is the reward-to-go minus the value
    adv1, _ = gae(r, v, mask, 1.0, 1.0)
    togo = torch.tensor([[1.4, 1.3, 1.5], [2.3, 2.0, 0.0]])
    assert torch.allclose(adv1, togo - v * mask, atol=1e-6)


def test_the_kl_is_in_the_token_reward_and_the_task_reward_on_the_last_token():
    from citi.methods.tl_training.ppo import completion_mask, token_rewards

    eos = 2
    tokens = torch.tensor([[7, 8, eos, 3], [7, 8, 9, 3], [eos, 2, 2, 2]])
    mask = completion_mask(tokens, [eos])
    assert mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]  # up to and with the first EOS
    logp = torch.tensor([[-1.0, -2.0, -0.5, -9.0]] * 3)
    ref = torch.tensor([[-1.5, -1.0, -0.5, -1.0]] * 3)
    rewards = token_rewards(torch.tensor([1.0, -2.0, 0.5]), logp, ref, mask, kl_coef=0.4)
    kl = -0.4 * (logp - ref) * mask
    assert torch.allclose(rewards, kl + torch.tensor([[0, 0, 1.0, 0], [0, 0, 0, -2.0], [0.5, 0, 0, 0]]))


def test_ppo_raises_a_planted_reward_trains_its_critic_and_leaves_the_reference(tiny_model_dir, tmp_path):
    """Today's kind ppo ran GRPO: no critic, no value loss, no GAE."""
    from citi.methods.tl_training.irm import rl_prompts
    from citi.methods.tl_training.ppo import PPO
    from citi.training.trainer import write_log

    model, tok, config, records = irm_setup(tiny_model_dir, num_generations=8, prompts_per_step=2, max_new_tokens=4,
                                            temperature=1.0, kl_coef=0.01)
    stage = {"name": "irm", "kind": "ppo", "trainable": ["all"], "lr": 3e-2, "epochs": 1, "max_steps": 6}
    ppo = PPO(model, tok, rl_prompts(records, tok), lower_case_count, config, stage, tmp_path / "work")
    assert ppo.policy is model and ppo.ref is not model
    assert not {id(p) for p in ppo.critic.parameters()} & {id(p) for p in model.parameters()}  # its own weights
    before = {name: {n: p.detach().clone() for n, p in m.named_parameters()}
              for name, m in (("policy", model), ("critic", ppo.critic), ("ref", ppo.ref))}
    stats = ppo.train()
    rows = stats["rows"]
    rewards = [r["reward"] for r in rows]
    assert len(rows) == 6 and stats["steps"] == 6
    assert sum(rewards[-2:]) / 2 > sum(rewards[:2]) / 2 + 0.5, rewards  # of 4 letters; about 0.4 at the start
    kls = [r["kl"] for r in rows]
    assert kls[0] == 0.0 and all(math.isfinite(k) for k in kls) and kls[-1] > 0, kls  # it starts at the reference
    assert all(math.isfinite(r["value_loss"]) and math.isfinite(r["policy_loss"]) for r in rows)

    def changed(name, m):
        return {n for n, p in m.named_parameters() if not torch.equal(p, before[name][n])}

    assert "v_head.weight" in changed("critic", ppo.critic)
    assert any(n.startswith("backbone.") for n in changed("critic", ppo.critic))  # the whole critic trains
    assert changed("policy", model) and not changed("ref", ppo.ref)
    assert all(not p.requires_grad for p in ppo.ref.parameters())
    write_log(rows, tmp_path / "log.csv", tmp_path / "log.png", "irm")
    header = next(csv.reader(open(tmp_path / "log.csv")))
    assert {"reward", "kl", "loss", "policy_loss", "value_loss"} <= set(header)


def test_ppo_is_seeded_greedy_at_temperature_zero_and_resumes_where_it_stopped(tiny_model_dir, tmp_path):
    from citi.methods.tl_training.irm import rl_prompts
    from citi.methods.tl_training.ppo import PPO

    def run(work, steps):
        model, tok, config, records = irm_setup(tiny_model_dir, num_generations=2, prompts_per_step=1,
                                                max_new_tokens=3, temperature=0)
        config["training"]["save_steps"] = 2
        stage = {"name": "irm", "kind": "ppo", "trainable": ["all"], "lr": 1e-2, "epochs": 1, "max_steps": steps}
        ppo = PPO(model, tok, rl_prompts(records, tok), lower_case, config, stage, work)
        seen = []

        def reward(prompts, completions, **_):
            seen.append(completions)
            return lower_case(prompts, completions)

        ppo.reward_fn = reward
        return ppo.train(), model, seen

    whole, model, completions = run(tmp_path / "a", 3)
    assert all(len(set(c)) == 1 for c in completions)  # greedy: a prompt's completions are the same
    assert (tmp_path / "a" / "checkpoint-2" / "trainer_state.json").is_file()
    again, model_again, _ = run(tmp_path / "b", 3)
    assert again["rows"] == whole["rows"]  # seeded
    # a rerun in the first run's folder resumes after step 2 and ends where the whole run ended
    resumed, model_resumed, completions = run(tmp_path / "a", 3)
    assert resumed["resumed_from"].endswith("checkpoint-2") and len(completions) == 1
    assert resumed["rows"] == whole["rows"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), model_resumed.state_dict().values()))


def test_stage_kinds_run_what_they_are_named(tiny_model_dir, tmp_path, monkeypatch):
    """kind ppo runs the PPO of methods/tl_training/ppo.py; kind grpo trl's GRPOTrainer; each needs its settings."""
    import trl

    from citi.errors import ConfigError
    from citi.methods.tl_training import ppo
    from citi.methods.tl_training.irm import train_irm

    calls = []
    monkeypatch.setattr(ppo, "run_ppo", lambda *a, **k: calls.append("ppo") or {"rows": []})

    class SpyGRPOTrainer(trl.GRPOTrainer):
        def __init__(self, *a, **k):
            calls.append("grpo")
            super().__init__(*a, **k)

    monkeypatch.setattr(trl, "GRPOTrainer", SpyGRPOTrainer)
    model, tok, config, records = irm_setup(tiny_model_dir, n_records=2, num_generations=2, temperature=1.0,
                                            max_new_tokens=2)
    stage = {"name": "irm", "kind": "ppo", "trainable": ["all"], "lr": 1e-3, "epochs": 1, "max_steps": 1}
    train_irm(model, tok, records, config, stage, tmp_path / "ppo", reward_fn=lower_case)
    stats = train_irm(model, tok, records, config, {**stage, "kind": "grpo"}, tmp_path / "grpo", reward_fn=lower_case)
    assert calls == ["ppo", "grpo"] and stats["steps"] == 1 and stats["rows"][0]["reward"] is not None
    config["tl_training"]["irm"]["temperature"] = 0
    with pytest.raises(ConfigError, match="grpo needs num_generations >= 2 and temperature > 0"):
        train_irm(model, tok, records, config, {**stage, "kind": "grpo"}, tmp_path / "greedy", reward_fn=lower_case)
    with pytest.raises(ConfigError, match="not an IRM kind"):
        train_irm(model, tok, records, config, {**stage, "kind": "sft"}, tmp_path / "sft")
    # the schema names both kinds; the IRM defaults are the paper's PPO
    for kind in ("ppo", "grpo"):
        cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
        cfg["methods"]["tl_training"]["stages"][1]["kind"] = kind
        assert check_config(cfg, source="test config")["methods"]["tl_training"]["stages"][1]["kind"] == kind
    cfg = yaml.safe_load((REPO / "config" / "test.yaml").read_text())
    del cfg["tl_training"]["irm"]
    irm = check_config(cfg, source="test config")["tl_training"]["irm"]
    assert {k: irm[k] for k in ("kl_coef", "clip_range", "value_clip", "reward_clip", "gamma", "lam", "ppo_epochs",
                                "num_generations", "temperature", "critic_lr_scale")} == {
        "kl_coef": 0.4, "clip_range": 0.2, "value_clip": 0.2, "reward_clip": 5.0, "gamma": 1.0, "lam": 0.95,
        "ppo_epochs": 1, "num_generations": 1, "temperature": 0, "critic_lr_scale": 0.5}


def test_tl_training_sft_stages_take_the_papers_optimiser_settings(tmp_path):
    """The paper's SFT: AdamW weight decay 0.01, beta2 0.95, warm-up 0.01; other stages keep the defaults."""
    from citi.config import load_config, paper_configfiles
    from citi.training.trainer import training_arguments

    config = load_config(paper_configfiles("llama-3-8b-instruct", "api-bank"))
    for method in ("sft", "sft_mae", "sft_pkt", "sft_irm", "tl_training"):
        args = training_arguments(config, config["methods"][method]["stages"][0], tmp_path, gpus=0)
        assert (args.weight_decay, args.adam_beta2, args.warmup_steps) == (0.01, 0.95, 0.01), method
    args = training_arguments(config, config["methods"]["citi"]["stages"][0], tmp_path, gpus=0)
    assert (args.weight_decay, args.adam_beta2, args.warmup_steps) == (0.0, 0.999, config["training"]["warmup_ratio"])


@pytest.mark.slow
def test_a_short_grpo_run_raises_the_reward_and_reports_the_kl(tiny_model_dir, tmp_path):
    from citi.methods.tl_training.irm import train_irm
    from citi.training.trainer import write_log

    model, tok, config, records = irm_setup(tiny_model_dir, num_generations=8, prompts_per_step=1, max_new_tokens=4,
                                            warmup_steps=0, kl_coef=0.01, temperature=1.0)
    stage = {"name": "irm", "kind": "grpo", "trainable": ["all"], "lr": 3e-2, "epochs": 1, "max_steps": 6}
    stats = train_irm(model, tok, records, config, stage, tmp_path / "work", reward_fn=lower_case)
    rewards = [r["reward"] for r in stats["rows"]]
    assert len(rewards) == 6
    assert sum(rewards[-2:]) / 2 > sum(rewards[:2]) / 2 + 0.2, rewards
    assert stats["kl_last"] is not None and stats["kl_last"] > 0  # the policy moved away from the reference
    write_log(stats["rows"], tmp_path / "log.csv", tmp_path / "log.png", "irm")
    header = next(csv.reader(open(tmp_path / "log.csv")))
    assert {"reward", "kl", "loss"} <= set(header)
