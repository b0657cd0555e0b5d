"""The chat turns OpenCompass renders for each cross-checked general benchmark, for the lm-eval cross-check.

Runs in the OpenCompass environment (or starts its interpreter); one file per config.

Alone: python scripts/opencompass_prompts.py --config config/test.yaml
"""

from citi import paths
from citi.cli import run


def main(config, prompts=None):
    from citi.evaluation.opencompass.process import chat_prompts, installed_version
    from citi.evaluation.opencompass.crosscheck import crosscheck_names
    from citi.evaluation.opencompass.run import general_benchmarks, opencompass_python
    from citi.io import write_json

    general = general_benchmarks(config)
    wanted = crosscheck_names(general, config["evaluation"]["general"])
    benchmarks = {name: spec for name, spec in general.items() if name in wanted}
    python = opencompass_python(config["evaluation"]["general"]["opencompass"])
    write_json(prompts or paths.OPENCOMPASS_PROMPTS,
               {"opencompass": installed_version(python), "benchmarks": chat_prompts(python, benchmarks)})


if __name__ == "__main__":
    run(main, globals(), outputs=("prompts",))
