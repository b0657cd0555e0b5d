"""Decoder passes shared by the importance estimators.

* ``answer_losses``: each example's mean cross-entropy over its answer tokens.
* ``LayerInputs``: one forward that keeps the hidden state entering every decoder layer.
* ``run_from``: the decoder from layer l on, started at that cached state, so a change
  in layer l does not recompute layers 0..l-1 ("layer reuse"). It runs the model's own
  decoder forward with only ``layers[l:]`` in place (same masks, positions and final
  norm), so it suits any decoder that feeds ``inputs_embeds`` unchanged to its first
  layer; ``check_reuse`` refuses a model where that does not hold (e.g. Gemma scales
  the embeddings).
* ``layer_output``: one decoder layer alone, from its cached input.
* ``replaced``: a module's output replaced while a block runs.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F


def answer_losses(model, hidden: torch.Tensor, batch: dict) -> torch.Tensor:
    """Per-example mean CE over answer tokens [batch], from the decoder's last hidden state."""
    ids, predicts = batch["input_ids"], batch["predicts"]
    # logits only where a loss is taken: the full [batch, positions, vocab] tensor is the memory peak otherwise
    logits = model.get_output_embeddings()(hidden[predicts])
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    ce = F.cross_entropy(logits, torch.roll(ids, -1, dims=1)[predicts], reduction="none")
    example = torch.arange(ids.shape[0], device=ids.device)[:, None].expand_as(ids)[predicts]
    total = torch.zeros(ids.shape[0], dtype=ce.dtype, device=ids.device).index_add_(0, example, ce)
    return total / predicts.sum(dim=1)


def decoder_layers(model) -> torch.nn.ModuleList:
    layers = getattr(model.get_decoder(), "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise ValueError(f"{type(model).__name__}: its decoder has no 'layers' list; layer reuse needs one")
    return layers


def full_forward(model, batch: dict) -> torch.Tensor:
    """The decoder's last hidden state from the token ids (the plain computation)."""
    return model.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                               use_cache=False).last_hidden_state


def run_from(model, layer: int, hidden_in: torch.Tensor, batch: dict, stop: int | None = None) -> torch.Tensor:
    """The decoder's last hidden state when ``hidden_in`` enters ``layer`` (layers ``layer..stop-1`` run)."""
    decoder, layers = model.get_decoder(), decoder_layers(model)
    decoder.layers = torch.nn.ModuleList(list(layers)[layer:stop])
    try:
        return decoder(inputs_embeds=hidden_in, attention_mask=batch["attention_mask"], use_cache=False).last_hidden_state
    finally:
        decoder.layers = layers


def layer_output(model, layer: int, hidden_in: torch.Tensor, batch: dict) -> torch.Tensor:
    """The output of decoder layer ``layer`` alone (the residual stream after it) for input ``hidden_in``."""
    seen = []
    handle = decoder_layers(model)[layer].register_forward_hook(
        lambda m, args, output: seen.append(output[0] if isinstance(output, tuple) else output))
    try:
        run_from(model, layer, hidden_in, batch, stop=layer + 1)
    finally:
        handle.remove()
    return seen[0]


class LayerInputs:
    """``capture(batch)``: a full forward keeping each layer's input (``inputs[l]``), and with ``keep_graph``
    each layer's output (``outputs[l]``, whose ``.grad`` a backward then fills)."""

    def __init__(self, model):
        self.model = model
        self.layers = decoder_layers(model)

    def capture(self, batch: dict, keep_graph: bool = False) -> torch.Tensor:
        """Runs the decoder; returns its last hidden state."""
        self.inputs, self.outputs = [], []

        def before(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            self.inputs.append(hidden.detach())

        def after(module, args, kwargs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            hidden.retain_grad()
            self.outputs.append(hidden)

        handles = [layer.register_forward_pre_hook(before, with_kwargs=True) for layer in self.layers]
        if keep_graph:
            handles += [layer.register_forward_hook(after, with_kwargs=True) for layer in self.layers]
        try:
            if keep_graph:  # the embeddings output is the leaf a backward starts from; weights get no gradient
                embeds = self.model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_(True)
                return self.model.get_decoder()(inputs_embeds=embeds, attention_mask=batch["attention_mask"],
                                                use_cache=False).last_hidden_state
            return full_forward(self.model, batch)
        finally:
            for h in handles:
                h.remove()


def check_reuse(model, cache: LayerInputs, batch: dict, base: torch.Tensor) -> None:
    """Refuse layer reuse where restarting at the last layer does not reproduce the plain losses."""
    last = len(cache.layers) - 1
    again = answer_losses(model, run_from(model, last, cache.inputs[last], batch), batch)
    if not torch.allclose(again, base, rtol=1e-3, atol=1e-5):
        raise ValueError(f"{type(model).__name__}: restarting the decoder at its last layer changes the loss "
                         f"({again.tolist()} vs {base.tolist()}); layer reuse does not suit this architecture")


@contextlib.contextmanager
def replaced(module, replace):
    """While the block runs, ``module``'s output is ``replace(output)``."""
    handle = module.register_forward_hook(lambda m, args, output: replace(output))
    try:
        yield
    finally:
        handle.remove()
