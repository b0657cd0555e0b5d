"""Print what a model folder computes, as JSON, under whichever interpreter runs this file.

Run by tests/test_opencompass.py in the main env (transformers 5) and in the
OpenCompass env (transformers 4.x) so the two readings can be compared. Uses
only torch and transformers, never the citi package.

    python tests/helpers/crossenv_logits.py <model folder>
"""

import json
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer


def main(folder: str) -> None:
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32).eval()
    convo = [{"role": "user", "content": "What is 12 + 30? Answer briefly."}]
    text = tok.apply_chat_template(convo, tokenize=False, add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(ids).logits[0]
    rope = getattr(model.config, "rope_parameters", None) or {}
    print(json.dumps({
        "transformers": transformers.__version__,
        "tokenizer_class": type(tok).__name__,
        "rope_theta": rope.get("rope_theta", getattr(model.config, "rope_theta", None)),
        "text": text,
        "ids": ids[0].tolist(),
        "logits": [[round(float(x), 5) for x in row] for row in logits[-3:]],
    }))


if __name__ == "__main__":
    main(sys.argv[1])
