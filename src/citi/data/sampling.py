"""Seeded sampling of one dataset split into results/data/<dataset>/<split>.jsonl.

The output keeps the sampled records in their original order and comes with a
manifest (source, revision, counts, seed, sha256). The same config and seed
give byte-identical files.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from . import sources
from ..io import sha256_file, write_json, write_jsonl
from ..errors import ConfigError, RecordError
from ..records import finalize, validate_record, with_train_on
from . import adapters

log = logging.getLogger(__name__)


def sample_indices(total: int, n: int | None, seed: int) -> list[int]:
    """``n`` distinct indices of ``range(total)`` chosen by ``seed``, in ascending order."""
    if n is None or n >= total:
        return list(range(total))
    return sorted(random.Random(seed).sample(range(total), n))


def partition(records: list[dict], spec: dict | None, key: str) -> list[dict]:
    """The records at positions ``part``, ``part + parts``, ... of the adapter's order (before ``n`` is
    sampled): ``parts`` disjoint slices of one file, e.g. training and evaluation questions drawn from
    the same TriviaQA subsample. None keeps every record."""
    if not spec:
        return records
    parts, part = spec["parts"], spec["part"]
    if not 0 <= part < parts:
        raise ConfigError(f"config key '{key}': part {part} is not one of 0..{parts - 1}")
    return records[part::parts]


def load_split(name: str, dataset: dict, split: str) -> tuple[list[dict], dict]:
    """All records of one configured split, validated, plus provenance."""
    adapter = adapters.get(dataset["adapter"])
    owner = f"datasets.{name}"
    resolved = sources.resolve(dataset["source"], dataset.get("revision"), owner, adapter.hub_patterns)
    options = dataset["splits"][split].get("options", {})
    files = adapter.files_for(resolved.path, split)
    records = [finalize(r, name, split) for r in adapter.convert(files, split, **options)]
    ids = set()
    for i, rec in enumerate(records):
        validate_record(rec, f"dataset '{name}' split '{split}' record {i} (from {resolved.path})")
        if rec["id"] in ids:
            raise RecordError(f"dataset '{name}' split '{split}' record {i}: duplicate id '{rec['id']}'")
        ids.add(rec["id"])
    root = resolved.path if resolved.path.is_dir() else resolved.path.parent
    provenance = {
        "source": dataset["source"],
        "source_kind": resolved.kind,
        "revision": resolved.revision,
        "adapter": dataset["adapter"],
        "options": options,
        # relative names keep the manifest identical across clones
        "input_files": [{"file": str(f.relative_to(root)) if f.is_relative_to(root) and f != resolved.path
                         else f.name, "sha256": sha256_file(f)} for f in files],
    }
    return records, provenance


def prepare_split(name: str, dataset: dict, split: str, out: str | Path, manifest: str | Path,
                  default_seed: int) -> dict:
    """Sample one split to ``out`` and write its ``manifest``; return the manifest."""
    records, provenance = load_split(name, dataset, split)
    if not records:  # else every consumer fails later and far away (the trainer's num_samples=0)
        raise RecordError(f"dataset '{name}' split '{split}' (from {provenance.get('source')}): no records; "
                          f"check the source and the split's options (datasets.{name}.splits.{split})")
    spec = dataset["splits"][split]
    seed = spec.get("seed", default_seed)
    n = spec.get("n")
    records = partition(records, spec.get("partition"), f"datasets.{name}.splits.{split}.partition")
    chosen = [records[i] for i in sample_indices(len(records), n, seed)]
    if n is not None and n > len(records):
        log.warning("dataset %s split %s: asked for %d records, only %d exist; keeping all", name, split, n, len(records))
    # the loss targets of every consumer (training, importance): absent keeps the last assistant turn
    train_on = spec.get("train_on", "last")
    chosen = [with_train_on(r, train_on) for r in chosen]
    write_jsonl(out, chosen)
    info = {"dataset": name, "split": split, "seed": seed, "requested": n, "available": len(records),
            "count": len(chosen), **({"train_on": train_on} if train_on != "last" else {}),
            **({"partition": spec["partition"]} if spec.get("partition") else {}),
            "sha256": sha256_file(out), **provenance}
    write_json(manifest, info)
    return info
