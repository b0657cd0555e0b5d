"""Reuse a job's prompt caches for later prompts that start the same way.

The prompts of one tool benchmark share long prefixes (the system prompt and tool catalogue,
the dialogue before a later call): in the default's 16 level-1 prompts, two thirds of the
tokens repeat the start of an earlier prompt, and a 4-way choice scores each prompt four
times. A causal model's keys and values at position t depend only on the tokens up to t,
so a prompt's cache up to the shared length is the earlier prompt's cache cut there, and
only the rest of the prompt is computed.
"""

from __future__ import annotations

MIN_SHARED = 16  # shorter shared starts are recomputed: below this, reuse saves less than it copies


def shared_length(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def as_cache(layers: list[tuple]):
    """A DynamicCache holding ``layers`` (per layer: keys, values); the cache copies them."""
    from transformers import DynamicCache

    cache = DynamicCache()
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


def static_cache(model_config, layers: list[tuple], capacity: int):
    """A StaticCache of ``capacity`` positions holding ``layers`` at its start: decoding writes each
    new token's keys and values in place, where a DynamicCache concatenates (copies) the whole
    cache at every step, which costs more than the step's matrix products on a CPU."""
    from transformers import StaticCache

    cache = StaticCache(config=model_config, max_cache_len=capacity)
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


class PrefixStore:
    """The per-layer (keys, values) of token sequences, each as if computed alone, reusing the
    caches of the last ``keep`` sequences (callers order their prompts so neighbours share)."""

    def __init__(self, decoder, device, keep: int = 8):
        self.decoder, self.device, self.keep = decoder, device, keep
        self.entries: list[tuple[list[int], list[tuple]]] = []
        self.computed = self.reused = 0  # token counts, for the logs and tests

    def kv(self, ids: list[int]) -> list[tuple]:
        """Per layer (keys, values) of shape [1, kv heads, len(ids), head dim]."""
        import torch

        best, n = None, 0
        for prev, layers in self.entries:
            k = shared_length(prev, ids)
            if k > n:
                best, n = layers, k
        if best is not None and n == len(ids):
            layers = [(k[:, :, :n], v[:, :, :n]) for k, v in best]
        else:
            if n < MIN_SHARED:
                n = 0
            cache = as_cache([(k[:, :, :n], v[:, :, :n]) for k, v in best]) if n else None
            out = self.decoder(input_ids=torch.tensor([ids[n:]], device=self.device), cache=cache, use_cache=True)
            layers = [(layer.keys, layer.values) for layer in out.cache.layers]
            self.computed += len(ids) - n
        self.reused += n
        self.entries = [*self.entries[-(self.keep - 1):], (list(ids), layers)] if self.keep > 1 else [(list(ids), layers)]
        return layers


def lexicographic(sequences: list[list[int]]) -> list[int]:
    """Indices of ``sequences`` in token order: sequences that share a start become neighbours."""
    return sorted(range(len(sequences)), key=lambda i: (sequences[i], i))

