"""Train one stage of one method into results/checkpoints/<model>/<tool_dataset>/<method>/stage<k>/.

With more than one GPU in the job's resources it re-executes itself under torchrun (DDP).
A rerun after a crash resumes from <stage folder>.partial/.

Alone: python scripts/train_stage.py --config config/test.yaml --model tiny \
           --tool_dataset embedded_tools --method citi --stage 1
"""

from citi import inputs as resolve, paths
from citi.cli import run


def main(config, inputs, model, tool_dataset, method, stage, folder=None):
    from citi.errors import ConfigError
    from citi.training.launch import job_gpus, relaunch_if_needed
    from citi.training.stage import run_stage

    if tool_dataset != config["tasks"]["tool"]["dataset"]:
        raise ConfigError(f"--tool_dataset {tool_dataset!r}: this config trains on "
                          f"'{config['tasks']['tool']['dataset']}' (config key 'tasks.tool.dataset')")
    folder = folder or paths.STAGE_CHECKPOINT.format(model=model, tool_dataset=tool_dataset, method=method, stage=stage)
    gpus = job_gpus(config, globals().get("snakemake"))
    relaunch_if_needed(gpus)  # returns only when this process should train
    run_stage(config, model, method, int(stage), folder, gpus=gpus, inputs=inputs)


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "tool_dataset", "method", "stage"), outputs=("folder",), inputs=resolve.train_stage)
