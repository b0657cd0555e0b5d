"""Where a trained MOLoRA model routes held-out tool and general inputs: null slot vs experts.

For each MOLoRA module, the token-weighted mean router distribution (slot 0 is
the null slot) over a seeded sample of held-out tool inputs and of general
inputs. CITI's routing loss should leave tool tokens with less null-slot mass
than general tokens.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import torch

from ..data.mixtures import read_records
from ..data.sampling import sample_indices
from ..errors import CitiError
from ..io import atomic_path
from .collator import Collator, pad_id

LAYER = re.compile(r"\.layers\.(\d+)\.")


def encode_inputs(records: list[dict], tokenizer, cutoff_len: int) -> list[dict]:
    """Whole conversations (prompt and any gold answer) as the router sees them, no labels needed."""
    out = []
    for rec in records:
        ids = tokenizer.apply_chat_template(rec["messages"], tokenize=True, return_dict=True)["input_ids"]
        out.append({"input_ids": ids[:cutoff_len], "labels": ids[:cutoff_len], "task_type": rec["task_type"]})
    return out


@torch.no_grad()
def mean_router_mass(model, tokenizer, records: list[dict], batch_size: int, cutoff_len: int) -> dict[str, torch.Tensor]:
    """{module: mean distribution over the N+1 slots}, weighted by each batch's token count."""
    try:
        from ..methods.molora import router_mass
    except ImportError as e:
        raise CitiError(f"router analysis needs citi.methods.molora.router_mass ({e})") from None
    collate = Collator(pad_id(tokenizer))
    samples = encode_inputs(records, tokenizer, cutoff_len)
    totals: dict[str, torch.Tensor] = {}
    tokens = 0
    model.eval()
    for i in range(0, len(samples), batch_size):
        batch = collate(samples[i:i + batch_size])
        ids, mask = batch["input_ids"].to(model.device), batch["attention_mask"].to(model.device)
        model(input_ids=ids, attention_mask=mask)
        n = int(mask.sum())
        for module, mass in router_mass(model, mask).items():
            totals[module] = totals.get(module, 0) + mass.float().cpu() * n
        tokens += n
    return {m: t / tokens for m, t in totals.items()}


def sample_sources(sources: list[dict], data_path, n: int, seed: int) -> list[dict]:
    records = []
    for ref in sources:
        rows = read_records(data_path(ref["dataset"], ref["split"]), need_target=False)
        records += [rows[i] for i in sample_indices(len(rows), n, seed)]
    return records


def write_router_analysis(masses: dict[str, dict[str, torch.Tensor]], out_dir: Path, title: str) -> list[dict]:
    """router_mass.csv (one row per module and input group) and router_mass.png (null mass per layer)."""
    rows = []
    for group, per_module in masses.items():
        for module, dist in per_module.items():
            m = LAYER.search(module)
            rows.append({"module": module, "layer": int(m.group(1)) if m else -1, "inputs": group,
                         "null_mass": float(dist[0]), "expert_mass": float(dist[1:].sum()),
                         "slots": " ".join(f"{float(x):.4f}" for x in dist)})
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "router_mass.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for group in masses:
        layers = sorted({r["layer"] for r in rows if r["inputs"] == group})
        means = [sum(r["null_mass"] for r in rows if r["inputs"] == group and r["layer"] == l)
                 / sum(1 for r in rows if r["inputs"] == group and r["layer"] == l) for l in layers]
        ax.plot(layers, means, marker="o", label=f"{group} inputs")
    ax.set_xlabel("layer")
    ax.set_ylabel("mean null-slot mass")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "router_mass.png", dpi=100)
    plt.close(fig)
    return rows


def router_analysis(model, tokenizer, groups: dict[str, list[dict]], out: str | Path, batch_size: int,
                    cutoff_len: int, title: str) -> list[dict]:
    masses = {g: mean_router_mass(model, tokenizer, recs, batch_size, cutoff_len) for g, recs in groups.items()}
    if not any(masses.values()):
        raise CitiError(f"{title}: the model has no MOLoRA routers to analyse")
    with atomic_path(out) as tmp:
        return write_router_analysis(masses, tmp, title)
