# Models: each configured backbone as a standard HF folder that later rules load.


rule materialize_model:
    output:
        folder=directory(paths.MODEL),
    params:
        config_hash=config_params("models.{model}"),
    log:
        paths.log("materialize_model", "{model}"),
    benchmark:
        paths.benchmark("materialize_model", "{model}")
    threads: threads_for("models")
    resources:
        **resources_for("models"),
    conda:
        "../envs/models.yaml"
    script:
        "../scripts/materialize_model.py"
