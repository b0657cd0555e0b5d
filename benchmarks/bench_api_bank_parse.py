"""API-Bank call extraction time on long model outputs: ours vs the official regex.

The official pattern ``\\[(\\w+)\\((.*)\\)\\]`` backtracks quadratically on a long line with
many '[Name(' openings and no ')]' (a model that loops). Target (exit 1 if missed): our
extraction of a 300 KB string takes < 1 s, and both give the same answer on it.

    python benchmarks/bench_api_bank_parse.py [--skip-official-300k]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from citi import paths  # noqa: E402
from citi.toolcalls.api_bank import find_call, parse_corrected, parse_official  # noqa: E402
from citi.io import write_json  # noqa: E402

OFFICIAL = re.compile(r"\[(\w+)\((.*)\)\]")
TARGET_S = 1.0


def hostile(size: int) -> str:
    """A looping output: many call openings, one line, no closing ')]'."""
    unit = "[ToolSearcher(keywords='weather'"
    return (unit * (size // len(unit) + 1))[:size]


def long_call(size: int) -> str:
    """One call whose argument list is ``size`` characters (exercises the argument scan)."""
    unit = "k1='v a l', n=12, w=word, "
    return "[Api(" + (unit * (size // len(unit) + 1))[:size] + ")]"


def timed(fn, text: str, repeat: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(text)
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-official-300k", action="store_true", help="the official regex takes minutes there")
    ap.add_argument("--out", type=Path, default=REPO / paths.PERF / "bench_api_bank_parse.json")
    args = ap.parse_args()
    figures = {"target_ours_300k_s": TARGET_S}
    ok = True
    for label, size in (("60k", 60_000), ("300k", 300_000)):
        text = hostile(size)
        ours, got = timed(find_call, text)
        figures[f"ours_find_{label}_s"] = ours
        figures[f"ours_official_mode_{label}_s"] = timed(parse_official, text)[0]
        figures[f"ours_corrected_mode_{label}_s"] = timed(parse_corrected, text)[0]
        long = long_call(size)
        figures[f"ours_official_mode_long_call_{label}_s"] = timed(parse_official, long)[0]
        figures[f"ours_corrected_mode_long_call_{label}_s"] = timed(parse_corrected, long)[0]
        if label == "300k" and args.skip_official_300k:
            continue
        official, m = timed(lambda s: OFFICIAL.search(s), text, repeat=1)
        figures[f"official_regex_{label}_s"] = official
        same = (m is None and got is None) or (m is not None and got == (m.group(1), m.group(2)))
        figures[f"same_answer_{label}"] = same
        ok &= same
    ok &= all(v < TARGET_S for k, v in figures.items() if k.startswith("ours_") and k.endswith("300k_s"))
    figures["target_met"] = bool(ok)
    write_json(args.out, figures)
    for k, v in figures.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
