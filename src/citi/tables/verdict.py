"""Paired differences between the main table's methods, and a generated verdict on each of the paper's claims.

Read from the main table's sidecar (main.sources.json) and the item scores of the metrics files it
names. A difference (method − reference) is paired item by item (same ids; an item one side lacks is
left out and counted in the note) and its 95% interval is a percentile bootstrap of the mean per-item
difference, items resampled jointly for both methods and within each benchmark of a pooled column.
Binary columns (every item 0 or 100) also count flips: items right under the reference and wrong
under the method (right→wrong), and the reverse.

Each claim is a contrast of rows (e.g. FT − base) on the tool or general columns (``plot: true``),
judged per column with its direction (higher or lower is better):

- supported: on at least one column the interval excludes 0 in the claimed direction, and on none
  in the other;
- contradicted: the reverse;
- cannot tell at this n: otherwise, and whenever a needed row, column or interval is missing
  (the text says which). A column the config does not evaluate for a needed method (n/e) is left
  out and named.

Every sentence is generated from the numbers; nothing here is a written conclusion.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache

from .. import stats
from ..io import read_json, write_text
from .build import NOT_EVALUATED, cell_items, cell_paths

# (key, claim, kind, contrast {method: weight}, claimed direction of the contrast: better | worse)
CLAIMS = (
    ("a", "FT gains tool ability over base", "tool", {"ft": 1, "base": -1}, "better"),
    ("b", "FT loses general ability vs base", "general", {"ft": 1, "base": -1}, "worse"),
    ("c", "LoRA keeps more general ability than FT", "general", {"lora": 1, "ft": -1}, "better"),
    ("d", "CITI keeps general ability closer to base than FT", "general", {"citi": 1, "ft": -1}, "better"),
    ("e", "CITI gains at least half of FT's tool gain over base", "tool",
     {"citi": 1, "base": -0.5, "ft": -0.5}, "better"),  # (CITI − base) − 0.5·(FT − base)
)
EXPRESSIONS = {"e": "(CITI − base) − 0.5·(FT − base)"}
FIELDS = ("model", "comparison", "method", "reference", "column", "kind", "direction", "difference", "lo", "hi",
          "n", "right_to_wrong", "wrong_to_right", "note")


def scores_reader():
    """A metrics-file reader that keeps only the item scores, each file read once."""
    return lru_cache(maxsize=None)(lambda path: {"item_scores": read_json(path).get("item_scores")})


def contrast(cells: list[dict], weights: list[float], boot: dict, root, read) -> dict:
    """sum_k weight_k · (cell k's item score), paired item by item: its mean, 95% interval and n.

    Without item scores: the same combination of the cells' values, no interval, and why."""
    empty = next((c for c in cells if c.get("value") is None), None)
    if empty is not None:
        why = empty.get("why") or (f"no metrics file {empty['missing'][0]}" if empty.get("missing") else "empty cell")
        return {"difference": None, "lo": None, "hi": None, "n": None, "note": why}
    point = sum(w * c["value"] for w, c in zip(weights, cells))
    found = [cell_items(c, root, read) for c in cells]
    lacking = next((why for items, why in found if items is None), None)
    if lacking:
        return {"difference": point, "lo": None, "hi": None, "n": None, "note": f"no CI: {lacking}"}
    strata, items, unpaired = [], [items for items, _ in found], 0
    for k, per_benchmark in enumerate(zip(*items)):  # one {id: value} per cell, same benchmark
        ids, arrays = stats.align(*per_benchmark, names=tuple(cell_paths(c)[k] for c in cells))
        strata.append(sum(w * a for w, a in zip(weights, arrays)))
        unpaired += sum(len(d) - len(ids) for d in per_benchmark)
    mean, lo, hi = stats.bootstrap_ci(strata, boot["n_boot"], boot["seed"], boot["level"])
    note = f"{unpaired} item score(s) without a partner left out" if unpaired else ""
    return {"difference": mean, "lo": lo, "hi": hi, "n": sum(len(s) for s in strata), "note": note, "items": items}


def difference(a_row: dict, b_row: dict, col: dict, boot: dict, root, read) -> dict:
    """a − b on one column, paired, with flips for a binary metric."""
    a, b = a_row["cells"][col["name"]], b_row["cells"][col["name"]]
    out = contrast([a, b], [1, -1], boot, root, read)
    items = out.pop("items", None)
    flips = {"right_to_wrong": None, "wrong_to_right": None}
    if items and stats.is_binary(*items[0], *items[1]):
        counts = [stats.flips(base, method) for method, base in zip(*items)]  # on the paired items
        flips = {k: sum(c[k] for c in counts) for k in flips}
    return {"model": a_row["model"], "comparison": f"{a_row['label']} − {b_row['label']}", "method": a_row["method"],
            "reference": b_row["method"], "column": col["name"], "kind": col["kind"],
            "direction": col.get("direction", "higher"), **out, **flips}


def comparisons(rows: dict) -> list[tuple[str, str]]:
    """(method, reference): every method vs base, then CITI vs FT, CITI vs LoRA, LoRA vs FT where both exist."""
    pairs = [(m, "base") for m in rows if m != "base" and "base" in rows]
    return pairs + [(a, b) for a, b in (("citi", "ft"), ("citi", "lora"), ("lora", "ft")) if a in rows and b in rows]


def by_model(table: dict) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for row in table["rows"]:
        out.setdefault(row["model"], {})[row["method"]] = row
    return out


def differences(table: dict, boot: dict, root=".", read=None) -> list[dict]:
    read = read or scores_reader()
    return [difference(rows[a], rows[b], col, boot, root, read)
            for rows in by_model(table).values() for a, b in comparisons(rows) for col in table["columns"]]


# ---- the claims ------------------------------------------------------------------------------------------

def judge(result: dict, direction: str, claimed: str) -> str:
    """'for' / 'against' the claim when the interval excludes 0, else 'includes 0'."""
    if result["lo"] > 0 or result["hi"] < 0:
        better = (result["lo"] > 0) == (direction == "higher")
        return "for" if better == (claimed == "better") else "against"
    return "includes 0"


def _num(x: float) -> str:
    return f"{x:+.2f}"


def claim_verdict(claim: tuple, rows: dict, columns: list[dict], boot: dict, root, read) -> dict:
    key, text, kind, weights, claimed = claim
    expression = EXPRESSIONS.get(key) or " − ".join(rows[m]["label"] if m in rows else m for m in weights)
    out = {"key": key, "claim": text, "expression": expression, "claimed": claimed, "needs": None,
           "evidence": [], "left_out": [], "missing": []}
    absent = [m for m in weights if m not in rows]
    relevant = [c for c in columns if c["kind"] == kind and c.get("plot", True)]
    if absent or not relevant:
        needs = f"a row for {', '.join(absent)}" if absent else f"a {kind} column with plot: true"
        return {**out, "needs": needs, "verdict": "cannot tell at this n"}
    for col in relevant:
        cells = [rows[m]["cells"][col["name"]] for m in weights]
        skipped = [rows[m]["label"] for m, c in zip(weights, cells) if c.get("why") == NOT_EVALUATED]
        if skipped:
            out["left_out"].append(f"{col['name']} (not evaluated for {', '.join(skipped)})")
            continue
        result = contrast(cells, list(weights.values()), boot, root, read)
        if result["lo"] is None:
            out["missing"].append(f"{col['name']} ({result['note']})")
            continue
        out["evidence"].append({"column": col["name"], "direction": col.get("direction", "higher"),
                                "judgement": judge(result, col.get("direction", "higher"), claimed),
                                **{k: result[k] for k in ("difference", "lo", "hi", "n")}})
    return {**out, "verdict": decide([e["judgement"] for e in out["evidence"]], bool(out["missing"]))}


def decide(judgements: list[str], missing: bool) -> str:
    """supported: some column for the claim, none against; contradicted: the reverse; else cannot tell."""
    if not missing and "for" in judgements and "against" not in judgements:
        return "supported"
    if not missing and "against" in judgements and "for" not in judgements:
        return "contradicted"
    return "cannot tell at this n"


def verdicts(table: dict, boot: dict, root=".", read=None) -> dict[str, list[dict]]:
    read = read or scores_reader()
    return {model: [claim_verdict(c, rows, table["columns"], boot, root, read) for c in CLAIMS]
            for model, rows in by_model(table).items()}


def sentence(v: dict) -> str:
    """One generated paragraph: the verdict, the numbers it rests on, and why."""
    head = f"- **({v['key']}) {v['claim']}**: **{v['verdict']}**."
    if v["needs"]:
        return f"{head} Needs {v['needs']}."
    parts = [f"{e['column']} {_num(e['difference'])} [{_num(e['lo'])}, {_num(e['hi'])}], n = {e['n']}"
             f"{' (lower is better)' if e['direction'] == 'lower' else ''}: {e['judgement']}" for e in v["evidence"]]
    text = f"{head} {v['expression']} (claimed: {v['claimed']} than 0)" + (f" on {'; '.join(parts)}." if parts else ".")
    tally = {j: sum(e["judgement"] == j for e in v["evidence"]) for j in ("for", "against", "includes 0")}
    if v["evidence"]:
        text += (f" Intervals excluding 0 for the claim: {tally['for']}, against it: {tally['against']}; "
                 f"including 0: {tally['includes 0']}.")
    else:
        text += " No column has an interval to judge by."
    if v["missing"]:
        text += f" No interval: {'; '.join(v['missing'])}."
    if v["left_out"]:
        text += f" Left out: {'; '.join(v['left_out'])}."
    return text


# ---- writing ---------------------------------------------------------------------------------------------

def _fmt(x, digits: int = 4) -> str:
    return "" if x is None else f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def to_csv(diffs: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FIELDS)
    writer.writerows([[_fmt(d[f]) for f in FIELDS] for d in diffs])
    return buf.getvalue()


def method_note(boot: dict) -> str:
    return (f"{100 * boot['level']:.0f}% percentile bootstrap over items paired by id ({boot['n_boot']} resamples, "
            f"seed {boot['seed']}; both methods' items resampled jointly, within each benchmark of a pooled column).")


def differences_markdown(table: dict, diffs: list[dict], boot: dict) -> str:
    lines = [f"# Paired differences — config {table['config']} ({table['config_hash']})", "",
             f"Difference: mean over items of (method − reference); {method_note(boot)} right→wrong / "
             "wrong→right: items of a binary column (0 or 100) right under the reference and wrong under the "
             "method, and the reverse.",
             ""]
    for model in dict.fromkeys(d["model"] for d in diffs):
        lines += [f"## {model}", "", "| comparison | column | difference [95% CI] | n | right→wrong | wrong→right |",
                  "|---|---|---:|---:|---:|---:|"]
        for d in (d for d in diffs if d["model"] == model):
            if d["difference"] is None:
                shown = f"– ({d['note']})"
            elif d["lo"] is None:
                shown = f"{_num(d['difference'])} ({d['note']})"
            else:
                shown = f"{_num(d['difference'])} [{_num(d['lo'])}, {_num(d['hi'])}]"
                shown += f" ({d['note']})" if d["note"] else ""
            lower = " (lower is better)" if d["direction"] == "lower" else ""
            lines.append(f"| {d['comparison']} | {d['column']}{lower} | {shown} | {_fmt(d['n'])} | "
                         f"{_fmt(d['right_to_wrong'])} | {_fmt(d['wrong_to_right'])} |")
        lines.append("")
    return "\n".join(lines)


def verdict_markdown(table: dict, judged: dict[str, list[dict]], boot: dict) -> str:
    lines = [f"# Verdict on the paper's claims — config {table['config']} ({table['config_hash']})", "",
             f"Each claim is a contrast of rows on the tool or general columns (plot: true), {method_note(boot)} "
             "Per column, 'for' / 'against': the interval excludes 0 in the claimed / the other direction "
             "(the column's direction says whether higher or lower is better). supported: some column for, none "
             "against; contradicted: some against, none for; cannot tell at this n: otherwise, or when a needed "
             "row, column or interval is missing.", ""]
    for model, claims in judged.items():
        lines += [f"## {model}", "", *map(sentence, claims), ""]
    return "\n".join(lines)


def baseline_differences(table: dict, baselines: list[str], boot: dict, root=".", read=None) -> list[dict]:
    """Each baseline − FT and − CITI (where those rows exist), paired, on every column of the table."""
    read = read or scores_reader()
    return [difference(rows[b], rows[ref], col, boot, root, read)
            for rows in by_model(table).values() for b in baselines if b in rows
            for ref in ("ft", "citi") if ref in rows for col in table["columns"]]


def tally(diffs: list[dict]) -> list[str]:
    """Per comparison, generated: on how many columns the interval puts the method ahead of its reference,
    behind it, or cannot tell (0 inside), each column's direction respected."""
    lines = []
    for model, comparison in dict.fromkeys((d["model"], d["comparison"]) for d in diffs):
        judged = [d for d in diffs if (d["model"], d["comparison"]) == (model, comparison) and d["lo"] is not None]
        if not judged:
            continue
        side = {"ahead": [], "behind": [], "cannot tell": []}
        for d in judged:
            verdict = judge(d, d["direction"], "better")
            side[{"for": "ahead", "against": "behind"}.get(verdict, "cannot tell")].append(d["column"])
        lines.append(f"- {model}, {comparison}: ahead on {len(side['ahead'])} of {len(judged)} columns"
                     + (f" ({', '.join(side['ahead'])})" if side["ahead"] else "")
                     + f", behind on {len(side['behind'])}"
                     + (f" ({', '.join(side['behind'])})" if side["behind"] else "")
                     + f", cannot tell on {len(side['cannot tell'])}.")
    return lines


def write_baselines(table: dict, baselines: list[str], boot: dict, csv_path, md_path, root=".") -> None:
    diffs = baseline_differences(table, baselines, boot, root)
    write_text(csv_path, to_csv(diffs))
    summary = ["## Tally (generated from the intervals below)", "",
               "Ahead / behind: the 95% interval of (baseline − reference) excludes 0 on the better / worse side "
               "of the column's direction; cannot tell: it includes 0.", "", *tally(diffs), ""]
    body = differences_markdown(table, diffs, boot).split("\n")
    write_text(md_path, "\n".join([body[0].replace("Paired differences", "Baselines against FT and CITI, paired"),
                                  "", *summary, *body[1:]]))


def write(table: dict, boot: dict, csv_path, md_path, verdict_path, root=".") -> None:
    read = scores_reader()
    diffs = differences(table, boot, root, read)
    write_text(csv_path, to_csv(diffs))
    write_text(md_path, differences_markdown(table, diffs, boot))
    write_text(verdict_path, verdict_markdown(table, verdicts(table, boot, root, read), boot))
