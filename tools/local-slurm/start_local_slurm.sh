#!/usr/bin/env bash
# Single-node SLURM for the integration test (tests/test_slurm.py): Debian 12, root, no systemd; idempotent.
# Installs the missing Debian packages, writes the config under $L, starts munged, MariaDB,
# slurmdbd, slurmctld and slurmd. Knobs: WITH_DBD=1 (accounting, so sacct works and unknown
# accounts are refused), GPUS=2 (fake GPU devices), ACCOUNT=ml (the one valid account).
# Stop with stop_local_slurm.sh. Pitfalls found while building it: ../shared/tools/local-slurm/NOTES.md.
set -euo pipefail
L=${L:-${TMPDIR:-/tmp}/local-slurm}; WITH_DBD=${WITH_DBD:-1}; GPUS=${GPUS:-2}; ACCOUNT=${ACCOUNT:-ml}
up() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
waitfor() { for _ in $(seq 150); do "$@" &>/dev/null && return 0; sleep 0.2; done; echo "timeout: $*" >&2; return 1; }
P=(munge slurm-client slurmctld slurmd); [[ $WITH_DBD == 1 ]] && P+=(slurmdbd mariadb-server)
# installed, not just known to dpkg (a removed package keeps its config files and passes `dpkg -s`)
M=(); for p in "${P[@]}"; do [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || M+=("$p"); done
if ((${#M[@]})); then apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -yqq --no-install-recommends "${M[@]}" >/dev/null; fi
mkdir -p "$L"/{etc,state,spool,log,run,dev} /etc/slurm; H=$(hostname -s)
eval "$(slurmd -C | head -1 | tr ' ' '\n' | grep -E '^(CPUs|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=')"
G=""; : > "$L/etc/gres.conf"
if ((GPUS > 0)); then  # gpu gres needs File=
  for i in $(seq 0 $((GPUS-1))); do [[ -e $L/dev/nvidia$i ]] || mknod "$L/dev/nvidia$i" c 1 3; done
  echo "NodeName=$H Name=gpu Type=fake File=$L/dev/nvidia[0-$((GPUS-1))]" > "$L/etc/gres.conf"; G="Gres=gpu:fake:$GPUS"
fi
A="AccountingStorageType=accounting_storage/none"
[[ $WITH_DBD == 1 ]] && A=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStorageTRES=gres/gpu\nAccountingStoreFlags=job_comment\nAccountingStorageEnforce=associations'
cat > "$L/etc/slurm.conf" <<EOF
ClusterName=localcluster
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
StateSaveLocation=$L/state
SlurmdSpoolDir=$L/spool
SlurmctldPidFile=$L/run/slurmctld.pid
SlurmdPidFile=$L/run/slurmd.pid
SlurmctldLogFile=$L/log/slurmctld.log
SlurmdLogFile=$L/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
JobAcctGatherType=jobacct_gather/linux
$A
GresTypes=gpu
MinJobAge=600
ReturnToService=2
NodeName=$H CPUs=$CPUs SocketsPerBoard=$SocketsPerBoard CoresPerSocket=$CoresPerSocket ThreadsPerCore=$ThreadsPerCore RealMemory=$((RealMemory*85/100)) $G State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOF
# default path: jobstep plugin drops SLURM_CONF
for f in slurm gres slurmdbd; do ln -sfn "$L/etc/$f.conf" "/etc/slurm/$f.conf"; done
install -d -o munge -g munge /run/munge; up /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
waitfor bash -c 'munge -n | unmunge'
if [[ $WITH_DBD == 1 ]]; then
  S=$L/run/mysqld.sock
  [[ -d $L/mysql/mysql ]] || mariadb-install-db --user=root --datadir="$L/mysql" --auth-root-authentication-method=normal --skip-test-db &>"$L/log/mariadb-install.log"
  up "$L/run/mysqld.pid" || { /usr/sbin/mariadbd --user=root --datadir="$L/mysql" --socket="$S" --pid-file="$L/run/mysqld.pid" \
    --port=3307 --bind-address=127.0.0.1 --innodb-lock-wait-timeout=900 --log-error="$L/log/mariadb.err" &>/dev/null & }
  waitfor mariadb-admin --socket="$S" ping
  mariadb --socket="$S" -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db; CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  printf '%s\n' AuthType=auth/munge DbdHost=localhost DbdAddr=127.0.0.1 SlurmUser=root "LogFile=$L/log/slurmdbd.log" \
    "PidFile=$L/run/slurmdbd.pid" StorageType=accounting_storage/mysql StorageHost=127.0.0.1 StoragePort=3307 \
    StorageUser=slurm StoragePass=slurmpw > "$L/etc/slurmdbd.conf"; chmod 600 "$L/etc/slurmdbd.conf"
  up "$L/run/slurmdbd.pid" || /usr/sbin/slurmdbd
  waitfor sacctmgr -n list cluster
  for a in "cluster localcluster" "account $ACCOUNT" "user root Account=$ACCOUNT"; do sacctmgr -i add $a &>/dev/null || true; done
fi
if up "$L/run/slurmctld.pid"; then scontrol reconfigure; else /usr/sbin/slurmctld; fi
waitfor scontrol ping || { tail -3 "$L/log/slurmctld.log"; exit 1; }
up "$L/run/slurmd.pid" || /usr/sbin/slurmd
for _ in $(seq 150); do
  case $(sinfo -h -n "$H" -o %T) in idle*|mix*|alloc*) sinfo -o "%P %N %c %m %G %T"; exit 0;;
    *drain*|*inval*|*down*) scontrol update nodename="$H" state=resume 2>/dev/null || true;; esac; sleep 0.2
done; echo "node not ready" >&2; exit 1
