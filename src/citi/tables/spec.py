"""Which rows and columns each table has, from the config, and how its intervals are drawn.

Columns (``tables.columns``) map a shown name to one (benchmark, metric) of the metrics
files, so the embedded default can fill the paper's layout with its own benchmarks under
honest names; a column says whether higher or lower is better (``direction``). Rows are
(backbone, method) pairs: the paper's methods that the config defines, in the paper's order.
Every cell's 95% bootstrap interval uses ``tables.bootstrap`` (seed, resamples).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import paths
from ..errors import ConfigError
from .paper import BY_TOOL_DATASET, REPLACEMENT_LABELS

TABLES = ("main", "ablations", "analysis", "extra", "baselines")
# the tables whose rows share one retention-vs-gain plane (rule retention_vs_gain's {plane})
PARETO_PLANES = {"pareto": ("main", "ablations"), "pareto_baselines": ("baselines",)}
LABELS = {"base": "base", "ft": "FT", "lora": "LoRA", "citi": "CITI",
          "ft_dm": "FT+DM", "lora_dm": "LoRA+DM", "uco_only": "UCO only", "rp_mi": "RP+MI",
          "wo_molora": "w/o MOLoRA", "wo_lr": "w/o L_r", "wo_rp": "w/o RP",
          "top20_lora": "LoRA top", "bottom20_lora": "LoRA bottom", "random20_lora": "LoRA random",
          "top20_full": "Full top", "bottom20_full": "Full bottom", "random20_full": "Full random",
          # TL-Training (tl-training.md): its ablation SFT -> +MAE / +PKT / +IRM / all three, and CITI with PKT
          "sft": "SFT (per turn)", "sft_mae": "SFT+MAE", "sft_pkt": "SFT+PKT", "sft_irm": "SFT+IRM",
          "tl_training": "TL-Training", "citi_pkt": "CITI+PKT"}
ABLATIONS = ("ft_dm", "lora_dm", "uco_only", "rp_mi", "wo_molora", "wo_lr", "wo_rp",  # Tables 5-6
             "sft", "sft_mae", "sft_pkt", "sft_irm", "tl_training")  # TL-Training's ablation (no paper numbers here)
PARTIAL_TUNING = ("top20_lora", "bottom20_lora", "random20_lora", "top20_full", "bottom20_full", "random20_full")  # Table 2
REPLACEMENT = dict(zip(("replace_top20", "replace_top50", "replace_bottom20", "replace_bottom50"), REPLACEMENT_LABELS))  # Table 1


@dataclass(frozen=True)
class Column:
    name: str
    benchmark: str | tuple[str, ...]  # several: pooled, weighted by n (CITI pools API-Bank levels)
    metric: str
    kind: str  # tool | general
    paper: str | None = None  # the paper's column key where the benchmark is the paper's
    optional: bool = False
    plot: bool = True  # counts toward the trade-off plot's axis of its kind (TS/PI/CF details do not)
    direction: str = "higher"  # which way is better: higher (percent scores) | lower (e.g. answer_nll)
    table: str = "main"  # main: in the main, ablations, analysis and baselines tables | extra: only in the extra table


@dataclass(frozen=True)
class Row:
    model: str
    method: str  # the name its metrics are stored under (results/eval/<model>/<method>/...)
    label: str
    paper_row: str  # key in the paper's table: our method name, or a Table 1 label

    @property
    def key(self) -> str:
        return f"{self.model}/{self.method}"


def columns(config: dict, table: str | None = None) -> list[Column]:
    """The configured columns; for one ``table``, those it shows (extra columns only in the extra table)."""
    cols = [Column(**{**c, "benchmark": c["benchmark"] if isinstance(c["benchmark"], str) else tuple(c["benchmark"])})
            for c in config.get("tables", {}).get("columns", [])]
    names = [c.name for c in cols]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"config key 'tables.columns': duplicate column name(s) {', '.join(dup)}")
    if table is None:
        return cols
    return [c for c in cols if (c.table == "extra") == (table == "extra")]


def bootstrap_settings(config: dict) -> dict:
    """Resamples, seed and level of every interval (``tables.bootstrap``; 2000 resamples, seed 1 by default)."""
    boot = config.get("tables", {}).get("bootstrap", {})
    return {"n_boot": boot.get("n_boot", 2000), "seed": boot.get("seed", 1), "level": 0.95}


def variant_label(config: dict, estimator: str) -> str:
    """The row label of CITI on a named estimator's selection, e.g. "CITI (ablation importance, mean)"."""
    importance = config.get("importance", {})
    spec = {**importance, **importance.get("estimators", {}).get(estimator, {})}
    method = spec.get("method", estimator)
    how = f", {spec.get('replacement', 'zero')}" if method in ("ablation", "local") else ""
    return f"CITI ({method} importance{how})"


def method_label(config: dict, method: str) -> str:
    """A row's label: the paper's name, CITI on a named estimator's selection, or the method's key."""
    spec = config.get("methods", {}).get(method, {})
    if method not in LABELS and method.startswith("citi_") and "importance" in spec:
        return variant_label(config, spec["importance"])
    return LABELS.get(method, method)


def is_baseline(spec: dict) -> bool:
    """Issue 22's baselines: a merge, or a stage with frozen bottom layers."""
    return "merge" in spec or any("freeze_bottom" in st for st in spec.get("stages") or [])


def baseline_label(spec: dict) -> str:
    """E.g. "WiSE-FT (alpha=0.5)", "TIES (density 0.2, lambda=1)", "FT, bottom 25% layers frozen"."""
    if "merge" not in spec:
        fraction = next(st["freeze_bottom"] for st in spec["stages"] if "freeze_bottom" in st)
        return f"FT, bottom {round(fraction * 100)}% layers frozen"
    m = spec["merge"]
    donor = "" if m.get("from", "ft") == "ft" else f" of {LABELS.get(m['from'], m['from'])}"
    lam = f"lambda={m.get('lambda', 1):g}"
    detail = {"wise_ft": f"alpha={m.get('alpha', 1):g}", "task_arithmetic": lam,
              "ties": f"density {m.get('density', 1):g}, {lam}", "dare": f"p={m.get('drop', 0):g}, {lam}"}[m["kind"]]
    name = {"wise_ft": "WiSE-FT", "task_arithmetic": "Task arithmetic", "ties": "TIES", "dare": "DARE"}[m["kind"]]
    return f"{name}{donor} ({detail})"


def _methods(config: dict, table: str) -> list[tuple[str, str, str]]:
    """(method, label, paper row) in the paper's order, for the methods the config defines."""
    defined = config.get("methods", {})
    if table in ("main", "extra"):  # the extra table: the main rows on the extra columns
        wanted = [m for m in config.get("tables", {}).get("main_methods", ["ft", "lora", "citi"]) if m in defined]
        return [("base", "base", "base")] + [(m, method_label(config, m), m) for m in wanted]
    baselines = [(m, baseline_label(spec), m) for m, spec in defined.items() if is_baseline(spec)]
    if table == "ablations":
        # the paper's ablations, then CITI on another importance estimator's selection (no paper numbers)
        variants = [(m, variant_label(config, spec["importance"]), m)
                    for m, spec in defined.items() if m.startswith("citi_") and "importance" in spec]
        return [(m, LABELS[m], m) for m in ABLATIONS if m in defined] + variants + baselines
    if table == "baselines":
        # issue 22's cheap anti-forgetting baselines beside the main rows, on the main columns: the table
        # `all` builds when all_methods holds them (the ablation table, with every other ablation, is `full`'s)
        return (_methods(config, "main") + baselines) if baselines else []
    if table == "analysis":
        rows = [(m, label, label) for m, label in REPLACEMENT.items() if m in defined]
        if rows:  # Table 1 compares with the untouched model ("vanilla")
            rows.append(("base", "vanilla (base)", "vanilla"))
        return rows + [(m, LABELS[m], m) for m in PARTIAL_TUNING if m in defined]
    raise ConfigError(f"unknown table {table!r}; known: {', '.join(TABLES)}")


def rows(config: dict, table: str) -> list[Row]:
    return [Row(model, method, label, paper_row)
            for model in config["models"] for method, label, paper_row in _methods(config, table)]


def has_rows(config: dict, table: str) -> bool:
    if table == "extra":
        return bool(columns(config, "extra"))
    return bool(_methods(config, table)) and (table == "main" or any(m != "base" for m, _, _ in _methods(config, table)))


def benchmarks(column: Column) -> tuple[str, ...]:
    return (column.benchmark,) if isinstance(column.benchmark, str) else column.benchmark


def metrics_paths(row: Row, column: Column) -> list[str]:
    return [paths.METRICS.format(model=row.model, method=row.method, benchmark=b) for b in benchmarks(column)]


def not_evaluated(config: dict, row: Row, column: Column) -> bool:
    """True when the config runs none of the column's benchmarks for this row's method
    (``evaluation.benchmarks.<b>.methods`` or ``evaluation.general.methods``)."""
    return not any(row.method in evaluated_methods(config, b) for b in benchmarks(column))


def evaluated_methods(config: dict, benchmark: str) -> list[str]:
    """The methods ('base' included) the config evaluates a benchmark for."""
    from ..evaluation.opencompass.run import general_methods

    ev = config.get("evaluation", {})
    if benchmark in ev.get("general", {}).get("benchmarks", {}):
        return general_methods(config)
    chosen = ev.get("benchmarks", {}).get(benchmark, {}).get("methods")
    every = ["base", *config.get("methods", {})]
    unknown = [m for m in chosen or () if m not in every]
    if unknown:
        raise ConfigError(f"config key 'evaluation.benchmarks.{benchmark}.methods': {', '.join(map(repr, unknown))} "
                          f"is not 'base' or a key of methods")
    return every if chosen is None else list(chosen)


def required_inputs(config: dict, table: str) -> list[str]:
    """The metrics files a table cannot be built without (optional and not-evaluated cells excluded)."""
    return sorted({p for r in rows(config, table) for c in columns(config, table)
                   if not c.optional and not not_evaluated(config, r, c) for p in metrics_paths(r, c)})


def evaluated_benchmarks(config: dict) -> set[str]:
    """Benchmarks an evaluation rule writes metrics for: evaluation.benchmarks and evaluation.general.benchmarks."""
    ev = config.get("evaluation", {})
    return set(ev.get("benchmarks", {})) | set(ev.get("general", {}).get("benchmarks", {}))


def unproduced(config: dict, produced: set[str]) -> list[str]:
    """Column benchmarks (non-optional) that no configured evaluation produces."""
    return sorted({b for c in columns(config) if not c.optional for b in benchmarks(c)} - set(produced))


def paper_setting(config: dict) -> dict:
    """``tables.paper`` checked against the config: the tool data it claims must be the one trained on."""
    spec = config.get("tables", {}).get("paper", {})
    tool = spec.get("tool_dataset")
    if tool is not None:
        if tool not in BY_TOOL_DATASET:
            raise ConfigError(f"config key 'tables.paper.tool_dataset': {tool!r} is not one of {', '.join(BY_TOOL_DATASET)}")
        dataset = config["tasks"]["tool"]["dataset"]
        adapter = config["datasets"][dataset]["adapter"]
        if adapter != tool or config["datasets"][dataset]["source"].startswith("generated:"):
            raise ConfigError(f"config key 'tables.paper.tool_dataset': says {tool!r} but the tool training data "
                              f"'{dataset}' is {'generated' if adapter == tool else adapter!r} data; "
                              f"set it to null to show no paper numbers")
    reference = list(spec.get("reference") or [])
    if reference and tool is None:
        raise ConfigError("config key 'tables.paper.reference': the paper's numbers need the paper's tool data; "
                          "set tables.paper.tool_dataset")
    return {"tool_dataset": tool, "backbones": spec.get("backbones", {}), "reference": reference}


def training_curves(config: dict) -> list[tuple[str, str, list[str]]]:
    """(model, label, stage folders in order) of each trained method of the main table."""
    from ..inputs import stage_folder

    out = []
    for row in rows(config, "main"):
        spec = config.get("methods", {}).get(row.method)
        if spec and spec.get("stages"):
            out.append((row.model, row.label, [stage_folder(config, row.model, row.method, k)
                                               for k in range(1, len(spec["stages"]) + 1)]))
    return out


def targets(config: dict, scope: list[str] | None = None) -> list[str]:
    """What `all` builds: the main table, trade-off plot, differences and verdict, plus ablations/analysis
    when their methods exist (not when ``scope``, a config's ``all_methods``, narrows `all`), the baselines
    table when the config has baselines (and ``scope``, if any, holds every row of it), the extra table
    when columns are marked ``table: extra``, the retention-vs-gain plot of every method with the ablation
    table, and the result note (``tables.note``).

    A column whose benchmark no evaluation produces is an error (``citi.config.check_config`` names
    it at load), never a silent drop of the tables from `all`.
    """
    if not columns(config):
        return []
    missing = unproduced(config, evaluated_benchmarks(config))
    if missing:
        raise ConfigError(f"config key 'tables.columns': no evaluation configured for benchmark(s) "
                          f"{', '.join(missing)}; evaluated: {', '.join(sorted(evaluated_benchmarks(config)))}")
    narrowed = scope is not None
    others = ("extra", "baselines") if narrowed else ("extra", "baselines", "ablations", "analysis")
    in_scope = lambda t: not narrowed or all(m == "base" or m in scope for m, _, _ in _methods(config, t))  # noqa: E731
    extra = [paths.TABLE.format(table=t) for t in others if has_rows(config, t) and in_scope(t)]
    if paths.TABLE.format(table="baselines") in extra:
        extra += [paths.BASELINE_DIFFERENCES, paths.BASELINE_PARETO_PLOT]
    # every method on one plane, baselines included (issue 22): with the ablation table's rows
    pareto = [paths.PARETO_PLOT] if not narrowed and has_rows(config, "ablations") else []
    curves = [paths.TRAINING_LOSS_PLOT] if training_curves(config) else []
    note = [note_path(config)] if note_path(config) else []
    return [paths.MAIN_TABLE, paths.TRADEOFF_PLOT, paths.DIFFERENCES, paths.VERDICT, *curves, *extra, *pareto, *note]


def note_path(config: dict) -> str | None:
    """Where the result note is written (``tables.note.path``), or None without one."""
    return (config.get("tables", {}).get("note") or {}).get("path")
