# TL-Training data (issue 8): a tool split as per-turn examples, with or without MAE.
# Mixtures read it when they set tool_turns (citi.data.tool_turns.mixture_tool_file).


rule tool_turns:
    input:
        paths.DATA,
    output:
        data=paths.TOOL_TURNS,
        manifest=paths.TOOL_TURNS_MANIFEST,
    wildcard_constraints:
        turns="all|mae",
    params:
        config_hash=config_params(
            mae=lambda wc: config.get("tl_training", {}).get("mae") if wc.turns == "mae" else None),
    log:
        paths.log("tool_turns", "{dataset}/{split}/{turns}"),
    benchmark:
        paths.benchmark("tool_turns", "{dataset}/{split}/{turns}")
    threads: threads_for("data")
    resources:
        **resources_for("data"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/tool_turns.py"
