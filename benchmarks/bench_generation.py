"""Generation throughput of the shared engine on SmolLM2-135M-Instruct (CPU or GPU).

Target (exit 1 if missed): the engine at batch 16 generates >= 5x the tokens/s of a
per-sample ``model.generate`` loop on the same prompts (both greedy, same stopping).
Also checked: both produce the same text for every prompt. On GPU, vLLM is timed beside
them when it is importable (reported only).

    python benchmarks/bench_generation.py [--model-dir DIR] [--n 32] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.config import load_config  # noqa: E402
from citi.generation import Engine, GenerationSettings, render_prompt  # noqa: E402
from citi.io import write_json  # noqa: E402
from citi.models import load, materialize  # noqa: E402

MODEL = "smollm2-135m-instruct"
TOPICS = "weather in Paris|a meeting tomorrow|the sum of 17 and 25|a short poem about rain|how to boil an egg|" \
         "the capital of Peru|converting 30 euros to dollars|a reminder for Friday|why the sky is blue|" \
         "three fruits rich in vitamin C|the time in Tokyo|booking a table for two".split("|")


def prompts(tok, n: int, seed: int = 0) -> list[str]:
    """Chat prompts of varied length, made up on the spot."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ask = " ".join(f"Tell me about {rng.choice(TOPICS)}." for _ in range(rng.randint(1, 6)))
        out.append(render_prompt(tok, [{"role": "system", "content": "You are a helpful assistant."},
                                       {"role": "user", "content": ask}]))
    return out


def engine_rate(engine: Engine, texts: list[str], settings: GenerationSettings) -> tuple[float, list[str]]:
    start = time.perf_counter()
    outs = engine.generate(texts, settings)
    seconds = time.perf_counter() - start
    return sum(o.new_tokens for o in outs) / seconds, [o.text for o in outs]


def loop_rate(engine: Engine, texts: list[str], max_new_tokens: int) -> tuple[float, list[str]]:
    """The baseline: one ``model.generate`` call per prompt."""
    tokens, out, start = 0, [], time.perf_counter()
    for text in texts:
        ids = torch.tensor([engine.encode(text)], device=engine.device)
        with torch.inference_mode():
            new = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                        do_sample=False, eos_token_id=sorted(engine.eos_ids),
                                        pad_token_id=engine.pad_id)[0, ids.shape[1]:].tolist()
        cut = next((i for i, t in enumerate(new) if t in engine.eos_ids), len(new))
        tokens += cut
        out.append(engine.tokenizer.decode(new[:cut], skip_special_tokens=True))
    return tokens / (time.perf_counter() - start), out


def vllm_rate(model_dir: str, texts: list[str], max_new_tokens: int) -> float | None:
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        return None
    llm = LLM(model=model_dir, dtype="float32", enforce_eager=False)
    params = SamplingParams(temperature=0, max_tokens=max_new_tokens)
    start = time.perf_counter()
    outs = llm.generate(texts, params)
    return sum(len(o.outputs[0].token_ids) for o in outs) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=paths.MODEL.format(model=MODEL))
    parser.add_argument("--n", type=int, default=32, help="prompts")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--out", default=f"{paths.RESULTS}/perf/bench_generation.json")
    args = parser.parse_args()
    if not Path(args.model_dir).is_dir():
        materialize(MODEL, load_config(REPO / "config/config.yaml")["models"][MODEL], args.model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    engine = Engine(*load(args.model_dir, device=device))
    texts = prompts(engine.tokenizer, args.n)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    engine_rate(engine, texts[: args.batch_size], settings)  # warm-up
    batched, engine_texts = engine_rate(engine, texts, settings)
    single, loop_texts = loop_rate(engine, texts, args.max_new_tokens)
    same = sum(a == b for a, b in zip(engine_texts, loop_texts))
    figures = {
        "device": device, "torch_threads": torch.get_num_threads(), "model": MODEL, "prompts": args.n,
        "batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
        "engine_tokens_per_s": batched, "per_sample_loop_tokens_per_s": single, "speedup": batched / single,
        "identical_outputs": same, "vllm_tokens_per_s": vllm_rate(args.model_dir, texts, args.max_new_tokens)
        if device == "cuda" else None,
        "targets": {"speedup": 5.0},
    }
    figures["passed"] = figures["speedup"] >= 5.0
    write_json(args.out, figures)
    print(figures)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
