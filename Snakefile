# CITI pipeline: raw data -> sampled splits -> mixtures -> models -> ... -> tables.
#
#   snakemake --cores 2 all                                   embedded default (config/config.yaml)
#   snakemake --profile slurm all --configfile config/paper/{base,backbone/<backbone>,tool/<tool-data>,pair/<backbone>_<tool-data>}.yaml
#
# Several --configfile files are merged in order (mappings key by key, other values replaced; later
# wins); citi.config.load_config merges them the same way for scripts run alone.
#
# This file only loads and validates the config, fixes wildcards and includes
# the stages; rules live in rules/*.smk, paths in src/citi/paths.py.

from snakemake.utils import min_version, validate

min_version("9.0")

report: "report/workflow.rst"  # captions of single outputs: report/*.rst, via report(...) in the rules

# A --configfile (one or several) replaces the embedded default rather than being merged into it.
# The default is found beside this file, whatever the working directory (--directory).
if not workflow.config_settings.configfiles:
    from citi.config import read_config

    read_config(f"{workflow.basedir}/config/config.yaml")  # a YAML error named with its line (snakemake's names none)

    configfile: f"{workflow.basedir}/config/config.yaml"


include: "rules/common.smk"


check_config(config, source="config")  # named-key errors, cross-references
validate(config, "config/schema.yaml")  # snakemake's own check of the same schema


wildcard_constraints:
    model=one_of(config["models"]),
    dataset=one_of(config["datasets"]),
    mixture=one_of(config["mixtures"]),
    split=r"[A-Za-z0-9_.-]+",
    task=one_of(TASKS),
    tool_dataset=one_of([resolve.tool_dataset(config)]),
    method=one_of(["base", *config.get("methods", {})]),
    stage=r"[1-9]",
    selection=r"citi|(top|bottom|random)[0-9]+",
    benchmark=r"[A-Za-z0-9_.-]+",
    tuned=r"[A-Za-z0-9_.-]+",


include: "rules/data.smk"
include: "rules/tool_turns.smk"
include: "rules/models.smk"
include: "rules/analysis.smk"
include: "rules/training.smk"
include: "rules/evaluation.smk"
include: "rules/general_eval.smk"
include: "rules/tables.smk"


rule all:
    default_target: True
    input:
        final_targets(),


# every method, ablation and analysis table, whatever all_methods narrows `all` to
rule full:
    input:
        final_targets(full=True),
