"""Every output path pattern of the pipeline, defined once.

Rules (via rules/common.smk) and scripts both take their paths from here, so a
pattern changes in one place. Wildcards: {model}, {dataset}, {split}, {kind},
{mixture}.
"""

RESULTS = "results"

# raw -> sampled -> mixture; models beside them
EMBEDDED_ROOT = f"{RESULTS}/raw/embedded"  # the project's own generated data, one folder per kind
DOWNLOADS = f"{RESULTS}/cache/downloads"  # URL sources, fetched once
MODEL = f"{RESULTS}/models/{{model}}"
DATA = f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl"
DATA_MANIFEST = f"{RESULTS}/data/{{dataset}}/{{split}}.manifest.json"
MIXTURE = f"{RESULTS}/mixtures/{{mixture}}.jsonl"
MIXTURE_MANIFEST = f"{RESULTS}/mixtures/{{mixture}}.manifest.json"

# per-job logs and Snakemake benchmark tables (not the performance suite in benchmarks/)
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"


def log(rule: str, pattern: str = "") -> str:
    """Log path for ``rule``; ``pattern`` carries the job's wildcards."""
    return f"{LOGS}/{rule}/{pattern or 'all'}.log"


def benchmark(rule: str, pattern: str = "") -> str:
    return f"{BENCHMARKS}/{rule}/{pattern or 'all'}.tsv"
