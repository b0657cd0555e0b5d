#!/usr/bin/env bash
# Stops only the daemons start_local_slurm.sh started (by their pidfiles), after cancelling root's jobs. PURGE=1 wipes state.
L=${L:-${TMPDIR:-/tmp}/local-slurm}
scancel -u root 2>/dev/null
for pf in "$L/run/slurmd.pid" "$L/run/slurmctld.pid" "$L/run/slurmdbd.pid" "$L/run/mysqld.pid" /run/munge/munged.pid; do
  [[ -f $pf ]] || continue; p=$(cat "$pf")
  if kill "$p" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"; echo "stopped $(basename "$pf" .pid) ($p)"
  fi; rm -f "$pf"
done
[[ ${PURGE:-0} == 1 ]] && rm -rf "$L"/{state,spool,log,run,mysql,dev} && echo purged
exit 0
