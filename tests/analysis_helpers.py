"""Small chat records and a briefly trained tiny model, shared by the analysis tests."""

from __future__ import annotations

import random

import torch

from citi.importance.encoding import encode
from citi.importance.taylor import pad_batch

TASKS = ("instruct", "math", "code", "knowledge", "tool")


def make_records(n: int, seed: int = 0, task: str = "instruct") -> list[dict]:
    """Records with prompts and answers of unequal lengths (a learnable copy-and-count pattern)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        word = "".join(rng.choice("abcdef") for _ in range(rng.randint(2, 9)))
        msgs = [{"role": "user", "content": f"repeat {word} " * rng.randint(1, 3)},
                {"role": "assistant", "content": f"{word} {len(word)}"}]
        if rng.random() < 0.3:
            msgs = [{"role": "system", "content": "sys"}, *msgs]
        out.append({"id": f"t/{i}", "source": "t", "task": task, "task_type": int(task == "tool"), "messages": msgs})
    return out


def train_briefly(model, tok, records, steps: int = 40, lr: float = 0.3, seed: int = 0):
    """A few dozen SGD steps on the answer loss, so the model sits where first-order terms describe it."""
    torch.manual_seed(seed)
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    enc = [encode(tok, r, 256) for r in records]
    for step in range(steps):
        chosen = [enc[(step * 4 + j) % len(enc)] for j in range(4)]
        batch = pad_batch(chosen, tok.pad_token_id, "cpu")
        labels = batch["input_ids"].clone()
        keep = torch.roll(batch["predicts"], 1, dims=1)  # label t is the token predicted at t-1
        labels[~keep] = -100
        loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return model
