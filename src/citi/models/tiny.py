"""A seeded tiny random Llama and a byte-level tokenizer, built offline in well under a second.

Tests and dry runs use it in place of a real model: same folder layout, same
ChatML chat template, no download.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ..errors import ConfigError

# SmolLM2's ids for its specials (0, 1, 2), so code that peeks at ids behaves alike; a distinct pad
# lets training mask padding without masking the end-of-turn token.
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

# ChatML, laid out like SmolLM2's template (minus its default system prompt); any role
# (system/user/assistant/tool) renders the same way.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _byte_chars() -> list[str]:
    """GPT-2's printable stand-in for each byte 0..255, the alphabet ByteLevel works in."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(shifted)) for b in range(256)]


def byte_tokenizer(chat_template: str = CHATML_TEMPLATE) -> PreTrainedTokenizerFast:
    """Byte-level BPE with no merges: every byte is one token, so any text round-trips."""
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({ch: len(SPECIALS) + b for b, ch in enumerate(_byte_chars())})  # id = 4 + byte
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(SPECIALS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<|endoftext|>", pad_token="<|pad|>", chat_template=chat_template,
        model_max_length=2048,
    )


SIZES = ("hidden_size", "num_layers", "num_heads", "intermediate_size")  # required; num_kv_heads, vocab optional


def check_tiny(tiny: dict, vocab_size: int, where: str = "tiny") -> None:
    """Refuse a shape no Llama can have, naming the key (``where`` is its config prefix), before
    transformers fails on it with a message that names none, or, worse, builds a model that fails later."""
    for key in (*SIZES, "num_kv_heads", "vocab"):
        if key not in tiny:
            if key in SIZES:
                raise ConfigError(f"config key '{where}.{key}': missing; the tiny model needs {', '.join(SIZES)}")
            continue
        value = tiny[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"config key '{where}.{key}': {value!r} is not a positive integer")
    hidden, heads = tiny["hidden_size"], tiny["num_heads"]
    kv_heads = tiny.get("num_kv_heads", heads)
    if hidden % heads:
        raise ConfigError(f"config key '{where}.num_heads': {heads} heads do not divide {where}.hidden_size "
                          f"{hidden}; pick a divisor (each head gets hidden_size / num_heads dimensions)")
    if (hidden // heads) % 2:
        raise ConfigError(f"config key '{where}.hidden_size': {hidden} / {heads} heads gives an odd head size "
                          f"{hidden // heads}; rotary embeddings need an even one")
    if heads % kv_heads:
        raise ConfigError(f"config key '{where}.num_kv_heads': {kv_heads} does not divide {where}.num_heads {heads}")
    if tiny.get("vocab", vocab_size) < vocab_size:
        raise ConfigError(f"config key '{where}.vocab': {tiny['vocab']} is smaller than the tokenizer "
                          f"({vocab_size} tokens)")


def tiny_model(tiny: dict, vocab_size: int, tokenizer: PreTrainedTokenizerFast, where: str = "tiny") -> LlamaForCausalLM:
    """A random Llama; the seed alone fixes the weights. ``where`` names ``tiny`` in errors."""
    check_tiny(tiny, vocab_size, where)
    vocab = tiny.get("vocab", vocab_size)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=tiny["hidden_size"],
        num_hidden_layers=tiny["num_layers"],
        num_attention_heads=tiny["num_heads"],
        num_key_value_heads=tiny.get("num_kv_heads", tiny["num_heads"]),
        intermediate_size=tiny["intermediate_size"],
        max_position_embeddings=2048,
        tie_word_embeddings=True,  # as SmolLM2
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(tiny.get("seed", 0))
        return LlamaForCausalLM(config).eval()
