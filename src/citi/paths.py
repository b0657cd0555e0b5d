"""Every output path pattern of the pipeline, defined once.

Rules (via rules/common.smk) and scripts both take their paths from here, so a
pattern changes in one place. Wildcards: {model}, {dataset}, {split}, {kind},
{mixture}, {task}, {selection}, {tool_dataset}, {tuned}, {method}, {stage},
{benchmark}.
"""

RESULTS = "results"

# raw -> sampled -> mixture; models beside them
EMBEDDED_ROOT = f"{RESULTS}/raw/embedded"  # the project's own generated data, one folder per kind
DOWNLOADS = f"{RESULTS}/cache/downloads"  # URL sources, fetched once
MODEL = f"{RESULTS}/models/{{model}}"
DATA = f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl"
DATA_MANIFEST = f"{RESULTS}/data/{{dataset}}/{{split}}.manifest.json"
# TL-Training (issue 8): a tool split as per-turn examples; {turns}: all (plain SFT) | mae (MAE-filtered)
TOOL_TURNS = f"{RESULTS}/turns/{{dataset}}/{{split}}/{{turns}}.jsonl"
TOOL_TURNS_MANIFEST = f"{RESULTS}/turns/{{dataset}}/{{split}}/{{turns}}.manifest.json"
MIXTURE = f"{RESULTS}/mixtures/{{mixture}}.jsonl"
MIXTURE_MANIFEST = f"{RESULTS}/mixtures/{{mixture}}.manifest.json"

# per-job logs and Snakemake benchmark tables (not the performance suite in benchmarks/)
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
PERF = f"{RESULTS}/perf"  # figures written by benchmarks/*.py


def log(rule: str, pattern: str = "") -> str:
    """Log path for ``rule``; ``pattern`` carries the job's wildcards."""
    return f"{LOGS}/{rule}/{pattern or 'all'}.log"


def benchmark(rule: str, pattern: str = "") -> str:
    return f"{BENCHMARKS}/{rule}/{pattern or 'all'}.tsv"


# ---- analysis (issue 3) --------------------------------------------------------------
# {task} is one of the five task ids; {selection} names a component set:
# "citi" (MOLoRA + unfrozen sets) or "<top|bottom|random><percent>" (e.g. top20).
# One rule per step for every estimator: {scored} is "<task>" (the default estimator, importance.method)
# or "<estimator>/<task>" (a named one, importance.estimators.<estimator>: the same files, one folder down);
# {chosen} likewise "<selection>" or "<estimator>/<selection>".
SCORED_IMPORTANCE = f"{RESULTS}/importance/{{model}}/{{scored}}.csv"
SCORED_IMPORTANCE_TENSOR = f"{RESULTS}/importance/{{model}}/{{scored}}.pt"
CHOSEN_SELECTION = f"{RESULTS}/selection/{{model}}/{{chosen}}.json"
IMPORTANCE = SCORED_IMPORTANCE.replace("{scored}", "{task}")
IMPORTANCE_TENSOR = SCORED_IMPORTANCE_TENSOR.replace("{scored}", "{task}")
SELECTION = CHOSEN_SELECTION.replace("{chosen}", "{selection}")
ESTIMATOR_IMPORTANCE = SCORED_IMPORTANCE.replace("{scored}", "{estimator}/{task}")
ESTIMATOR_IMPORTANCE_TENSOR = SCORED_IMPORTANCE_TENSOR.replace("{scored}", "{estimator}/{task}")
ESTIMATOR_SELECTION = CHOSEN_SELECTION.replace("{chosen}", "{estimator}/{selection}")


def split_scored(value: str) -> tuple[str | None, str]:
    """A {scored} or {chosen} value as (estimator or None for the default, task or selection)."""
    estimator, _, last = value.rpartition("/")
    return estimator or None, last
IMPORTANCE_FIGURES = f"{RESULTS}/figures/importance/{{model}}"  # heatmaps, jaccard, spearman
# {tuned}: a method name (its final checkpoint) or a configured tuned-model name
REPRESENTATION = f"{RESULTS}/representation/{{model}}/{{tool_dataset}}/{{tuned}}"

# ---- training (issue 4) --------------------------------------------------------------
# One folder per stage (1-based); the method's model is its last stage's folder (citi.inputs.method_model).
# Every folder loads with AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True).
STAGE_CHECKPOINT = f"{RESULTS}/checkpoints/{{model}}/{{tool_dataset}}/{{method}}/stage{{stage}}"
ROUTER_ANALYSIS = f"{RESULTS}/router/{{model}}/{{tool_dataset}}/{{method}}"


def stage_work_dir(folder) -> str:
    """Intermediate Trainer checkpoints of a stage: beside its folder, not a declared output,
    so a failed job's resume point survives Snakemake's clean-up of failed outputs."""
    return f"{folder}.partial"

# ---- evaluation (issues 5, 6) --------------------------------------------------------
# {method} is "base" for the untuned backbone.
EVAL = f"{RESULTS}/eval/{{model}}/{{method}}/{{benchmark}}"
PREDICTIONS = f"{EVAL}/predictions.jsonl"
METRICS = f"{EVAL}/metrics.json"
# One OpenCompass run per model x method for all general benchmarks: config, data cache, its outputs
OPENCOMPASS_WORK = f"{RESULTS}/opencompass/{{model}}/{{method}}"
# The chat turns OpenCompass renders for each cross-checked benchmark's template (one file per config)
OPENCOMPASS_PROMPTS = f"{RESULTS}/opencompass/prompts.json"
# lm-eval's second score of a GSM8K-like general benchmark (evaluation.general.crosscheck)
CROSSCHECK = f"{EVAL}/crosscheck_lm_eval.json"

# ---- tables and report (issue 6) -----------------------------------------------------
TABLES = f"{RESULTS}/tables"
# {table}: main | ablations | analysis; each has a Markdown twin and a sidecar naming every cell's metrics file
TABLE = f"{TABLES}/{{table}}.csv"
TABLE_MARKDOWN = f"{TABLES}/{{table}}.md"
TABLE_SOURCES = f"{TABLES}/{{table}}.sources.json"
MAIN_TABLE = TABLE.format(table="main")
ABLATION_TABLE = TABLE.format(table="ablations")
ANALYSIS_TABLE = TABLE.format(table="analysis")
TRADEOFF_PLOT = f"{RESULTS}/figures/tradeoff.png"  # tool vs mean general score, from the main table
TRAINING_LOSS_PLOT = f"{RESULTS}/figures/training_loss.png"  # the main table's methods, every stage in order
# retention vs gain of every method (main + ablation tables, baselines included) and its Pareto front (issue 22)
# retention vs gain on one plane of methods (citi.tables.spec.PARETO_PLANES): pareto (every method) or
# pareto_baselines (the baselines table's rows: what the default's `all` builds)
PLANE_PLOT = f"{RESULTS}/figures/{{plane}}.png"
PLANE_TABLE = f"{TABLES}/{{plane}}.csv"
PLANE_MARKDOWN = f"{TABLES}/{{plane}}.md"
PARETO_PLOT = PLANE_PLOT.format(plane="pareto")
PARETO_TABLE = PLANE_TABLE.format(plane="pareto")
PARETO_MARKDOWN = PLANE_MARKDOWN.format(plane="pareto")
BASELINE_PARETO_PLOT = PLANE_PLOT.format(plane="pareto_baselines")
# paired differences between the main table's methods (95% paired bootstrap) and the generated verdict on the claims
DIFFERENCES = f"{TABLES}/differences.csv"
DIFFERENCES_MARKDOWN = f"{TABLES}/differences.md"
VERDICT = f"{TABLES}/verdict.md"
# each issue-22 baseline against FT and CITI, paired, from the baselines table
BASELINE_DIFFERENCES = f"{TABLES}/baseline_differences.csv"
BASELINE_DIFFERENCES_MARKDOWN = f"{TABLES}/baseline_differences.md"
