"""Hidden-representation shifts after fine-tuning (CITI §2).

Each probe is a chat prompt plus its gold answer cut at a random character
length in [1, len]. One forward per probe; the LAST token's input to up_proj
(FFN side, after the post-attention norm) and to q_proj (attention side) is
taken in every layer (gate_up_proj / qkv_proj on fused models). The shift of
task t at layer l is ``ICC_t^l = mean(H_tuned - H_base)``; the same probes go
through every model, so it is the difference of the per-model means.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from ..data.sampling import sample_indices
from ..errors import ConfigError
from ..generation.engine import Engine
from ..records import target_index
from ..importance.components import site_modules
from ..importance.encoding import render

SITES = {"ffn": ("up", "gate_up"), "attn": ("q", "qkv")}  # hooked module's input, plain or fused


def probes(tok, records: list[dict], n: int, seed: int) -> list[str]:
    """``n`` seeded probe texts: chat prompt + the answer's first k characters, k uniform in [1, len]."""
    rng = random.Random(seed)
    out = []
    for i in sample_indices(len(records), n, seed):
        rec = records[i]
        prompt, _ = render(tok, rec)
        answer = rec["messages"][target_index(rec)]["content"]
        out.append(prompt + answer[: rng.randint(1, max(1, len(answer)))])
    return out


def _site_hooks(model, store: dict, last: dict):
    handles = []
    for site, names in SITES.items():
        modules = next((m for m in (site_modules(model, s) for s in names) if m), None)
        if not modules:
            raise ValueError(f"{type(model).__name__}: no {' or '.join(names)} projections to hook for '{site}'")
        for layer, module in modules.items():
            def hook(mod, inputs, site=site, layer=layer):
                x = inputs[0]
                store[site][layer] = x[torch.arange(x.shape[0], device=x.device), last["index"]].float().cpu()
            handles.append(module.register_forward_pre_hook(hook))
    return handles


@torch.no_grad()
def last_token_states(model, tok, texts: list[str], batch_size: int, max_length: int, keep_layers=()) -> dict:
    """{"mean": {site: [layers, d]}, "states": {site: [n, len(keep_layers), d]}} of the last token."""
    device = next(model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    store, last = {s: {} for s in SITES}, {}
    sums, kept = {}, {s: [] for s in SITES}
    handles = _site_hooks(model, store, last)
    encoded = [tok(t, add_special_tokens=False)["input_ids"][-max_length:] for t in texts]
    # batches of similar lengths (padding is computed too); rows go back to text order at the end
    batches = Engine.plan_dense([len(x) for x in encoded], batch_size)
    try:
        for batch in batches:
            ids = [encoded[i] for i in batch]
            width = max(map(len, ids))
            input_ids = torch.tensor([x + [pad] * (width - len(x)) for x in ids], device=device)
            mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids], device=device)
            last["index"] = torch.tensor([len(x) - 1 for x in ids], device=device)
            model.get_decoder()(input_ids=input_ids, attention_mask=mask, use_cache=False)
            for site, layers in store.items():
                stacked = torch.stack([layers[i] for i in sorted(layers)], dim=1)  # [batch, layers, d]
                sums[site] = sums.get(site, 0) + stacked.double().sum(0)
                kept[site].append(stacked[:, list(keep_layers)])
    finally:
        for h in handles:
            h.remove()
    order = torch.tensor([i for batch in batches for i in batch]).argsort()
    return {"mean": {s: (v / len(texts)).float() for s, v in sums.items()},
            "states": {s: torch.cat(v)[order] for s, v in kept.items()}}


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine of [layers, d] tensors (0 where a vector is zero)."""
    return torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=-1, eps=1e-30).float()


def pca_2d(base: dict, tuned: dict):
    """2-D PCA fitted on all tasks' base and tuned states; returns (pca, base coords, tuned coords)."""
    from sklearn.decomposition import PCA

    stacked = np.concatenate([np.asarray(base[t]) for t in base] + [np.asarray(tuned[t]) for t in tuned])
    pca = PCA(n_components=2, random_state=0).fit(stacked)
    return pca, {t: pca.transform(np.asarray(v)) for t, v in base.items()}, {t: pca.transform(np.asarray(v)) for t, v in tuned.items()}


def resolve_layers(layers, n_layers: int) -> list[int]:
    """Configured PCA layers (negative from the end); None: first, middle, last."""
    chosen = [0, n_layers // 2, n_layers - 1] if layers is None else [l % n_layers if -n_layers <= l < n_layers else None
                                                                     for l in layers]
    if None in chosen:
        raise ConfigError(f"representation.pca_layers: {layers} out of range for {n_layers} layers")
    return sorted(set(chosen))
