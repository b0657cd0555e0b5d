"""A seeded tiny random Llama and a byte-level tokenizer, built offline in well under a second.

Tests and dry runs use it in place of a real model: same folder layout, same
ChatML chat template, no download.
"""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

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


def tiny_model(tiny: dict, vocab_size: int, tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    """A random Llama; the seed alone fixes the weights."""
    vocab = tiny.get("vocab", vocab_size)
    if vocab < vocab_size:
        raise ValueError(f"tiny.vocab={vocab} is smaller than the tokenizer ({vocab_size} tokens)")
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
