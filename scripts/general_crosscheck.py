"""lm-eval's score of one GSM8K-like general benchmark for one model x method (the OpenCompass cross-check).

Same capped items and the same chat turns as OpenCompass (from results/opencompass/prompts.json),
in the main environment, on the model object citi.models.load gives.

Alone: python scripts/general_crosscheck.py --config config/test.yaml --model tiny --method base --benchmark embedded_math
"""

from citi import paths
from citi.inputs import general as resolve
from citi.cli import run


def main(config, inputs, model, method, benchmark, crosscheck=None):
    from citi.errors import ConfigError
    from citi.evaluation.opencompass.lm_eval import run_crosscheck
    from citi.evaluation.opencompass.config import MODEL_MAX_OUT_LEN
    from citi.evaluation.opencompass.run import crosscheck_files, general_benchmarks
    from citi.io import read_json, write_json

    if benchmark not in crosscheck_files(config, model, method):
        raise ConfigError(f"evaluation.general.crosscheck: no lm-eval cross-check of '{benchmark}' is configured "
                          f"for method '{method}'")
    spec = general_benchmarks(config)[benchmark]
    oc = config["evaluation"]["general"]["opencompass"]
    prompt = read_json(inputs["prompts"])["benchmarks"][benchmark]
    result = run_crosscheck(benchmark, spec["kind"], inputs["data"], spec["cap"], prompt, inputs["model"],
                            max_gen_toks=spec["max_out_len"] or prompt["max_out_len"] or MODEL_MAX_OUT_LEN,
                            batch_size=oc["batch_size"], dtype=oc["dtype"], device="auto" if oc["num_gpus"] else "cpu")
    write_json(crosscheck or paths.CROSSCHECK.format(model=model, method=method, benchmark=benchmark),
               {"benchmark": benchmark, "model": model, "method": method, "template": spec["template"], **result})


if __name__ == "__main__":
    run(main, globals(), wildcards=("model", "method", "benchmark"), outputs=("crosscheck",), inputs=resolve.general_crosscheck)
