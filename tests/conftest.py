"""Shared fixtures. Real-data tests find ../shared/data through ``shared_data`` only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CITI_SHARED_DATA", REPO.parent / "shared" / "data"))

# A seeded tiny random Llama: the model every test uses (SmolLM2 is the embedded default).
TINY_SPEC = {
    "source": "tiny_random",
    "dtype": "float32",
    "tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
             "intermediate_size": 128, "seed": 0},
}


def pytest_collection_modifyitems(config, items):
    """Run the local-SLURM tests last. Once SLURM is installed and its cluster stopped again, every
    Snakemake start waits 9 s on `scontrol show config` (the SLURM executor plugin asks at import,
    even for local runs), so the other tests' Snakemake runs go first."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)  # stable: order kept otherwise


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public datasets. Skips without them, except under CI=true where it fails."""
    if not SHARED_DATA.is_dir():
        reason = (f"real datasets not found at {SHARED_DATA}: clone the shared data beside the repo "
                  f"(../shared/data) or set CITI_SHARED_DATA")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the real data. {reason}")
        pytest.skip(reason)
    return SHARED_DATA


@pytest.fixture(scope="session")
def local_test_run(tmp_path_factory) -> Path:
    """The test config's whole DAG, run once locally (about 3-4 minutes on 2 cores): the end-to-end
    test checks it, and the SLURM integration test compares the cluster's outputs with it.
    Treat it as read-only: copy it before running anything in it."""
    import subprocess
    import sys

    workdir = tmp_path_factory.mktemp("test-config-run")
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "all", "--cores", "2",
                           "-d", str(workdir), "--configfile", str(REPO / "config" / "test.yaml")],
                          cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"the test config's local run failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return workdir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A materialised tiny random Llama folder (weights, tokenizer, chat template)."""
    from citi.models import materialize

    out = tmp_path_factory.mktemp("models") / "tiny"
    materialize("tiny", TINY_SPEC, out)
    return out


def random_engine(model_dir: Path, seed: int):
    """A generation engine on the tiny model with larger random weights (seeded), so outputs and
    likelihoods vary by prompt and position."""
    import torch

    from citi.generation import Engine
    from citi.models import load

    model, tok = load(model_dir)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return Engine(model, tok)
