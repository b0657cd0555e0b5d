# Data: generated embedded data -> sampled splits -> training mixtures.


rule generate_embedded:
    output:
        root=directory(paths.EMBEDDED_ROOT),
    params:
        config_hash=config_params("generate"),
    log:
        paths.log("generate_embedded"),
    benchmark:
        paths.benchmark("generate_embedded")
    threads: threads_for("data")
    resources:
        **resources_for("data"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/generate_embedded.py"


rule prepare_split:
    input:
        unpack(inputs_of("prepare_split")),
    output:
        data=paths.DATA,
        manifest=paths.DATA_MANIFEST,
    params:
        config_hash=config_params("seed", "datasets.{dataset}", "datasets.{dataset}.splits.{split}",
                                  without=["datasets.{dataset}.splits"]),
    log:
        paths.log("prepare_split", "{dataset}/{split}"),
    benchmark:
        paths.benchmark("prepare_split", "{dataset}/{split}")
    threads: threads_for("data")
    resources:
        **resources_for("data"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/prepare_split.py"


rule build_mixture:
    input:
        unpack(inputs_of("build_mixture")),
    output:
        data=paths.MIXTURE,
        manifest=paths.MIXTURE_MANIFEST,
    params:
        config_hash=config_params("seed", "mixtures.{mixture}",
                                  tasks=lambda wc: {t: config["tasks"][t] for t in resolve.build_mixture(config, wc.mixture)}),
    log:
        paths.log("build_mixture", "{mixture}"),
    benchmark:
        paths.benchmark("build_mixture", "{mixture}")
    threads: threads_for("data")
    resources:
        **resources_for("data"),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/build_mixture.py"
