"""Split a tool split into per-turn examples, MAE-filtered or not, into results/turns/<dataset>/<split>/<turns>.jsonl.

{turns} is "all" (every assistant turn: plain SFT data) or "mae" (turns whose tool feedback
reports an error get no example; config key tl_training.mae). The manifest counts the turns
masked and gives each one's reason.

Alone: python scripts/tool_turns.py --config config/test.yaml --dataset embedded_tools --split train --turns mae
"""

from citi import paths
from citi.cli import run


def main(config, dataset, split, turns, data=None, manifest=None):
    from citi.data.mixtures import read_records
    from citi.data.tool_turns import build_tool_turns
    from citi.io import sha256_file, write_json, write_jsonl

    where = {"dataset": dataset, "split": split}
    source = paths.DATA.format(**where)
    records, summary = build_tool_turns(read_records(source), config["tl_training"]["mae"] if turns == "mae" else None)
    data = data or paths.TOOL_TURNS.format(**where, turns=turns)
    write_jsonl(data, records)
    write_json(manifest or paths.TOOL_TURNS_MANIFEST.format(**where, turns=turns),
               {**summary, "input": {"file": source, "sha256": sha256_file(source)}, "sha256": sha256_file(data)})
    print(f"{dataset}/{split} ({turns}): {summary['trajectories']} trajectories, {summary['examples']} examples, "
          f"{summary['masked']} turn(s) masked")


if __name__ == "__main__":
    run(main, globals(), wildcards=("dataset", "split", "turns"), outputs=("data", "manifest"))
