#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests: munged, slurmctld and slurmd (Debian's munge and slurm-wlm).
#   tools/slurm_local.sh start    install the packages if missing (root, apt-get), write slurm.conf, start the daemons
#   tools/slurm_local.sh status   the daemons and the node, as sinfo sees them
#   tools/slurm_local.sh running  exit status 0 when this script's controller is running
#   tools/slurm_local.sh stop     stop the daemons this script started and remove its state folder
# State, spool, logs and the job-completion log live under $SLURM_LOCAL_DIR (default: /tmp/resnet_nb_slurm).
# The config goes to /etc/slurm/slurm.conf, where SLURM's commands look for it; one written by someone else is left
# alone and the start refuses. Accounting without slurmdbd: jobcomp/filetxt, so `sacct --completion` lists ended jobs.
set -euo pipefail
D=${SLURM_LOCAL_DIR:-/tmp/resnet_nb_slurm}
CONF=/etc/slurm/slurm.conf
MARK='# written by resnet_nb tools/slurm_local.sh'

say() { echo "slurm_local: $*"; }

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { say "slurm-wlm and munge are not installed and this is not root"; return 1; }
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge) >/dev/null
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    say "$CONF exists and was not written by this script; not touching it"; return 1
  fi
  local mem; mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  mkdir -p /etc/slurm "$D"/state "$D"/spool "$D"/log
  cat > "$CONF" <<CONF_EOF
$MARK (state under $D)
ClusterName=resnetnb
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
# a test cluster answers at once: pending jobs are looked at every 2 s, a requeued job may start again after 10 s
# (both 60 s and 120 s by default)
SchedulerParameters=sched_interval=2
AuthInfo=cred_expire=10
ReturnToService=2
MpiDefault=none
KillWait=10
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/jobcomp.txt
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF_EOF
}

start_munge() {
  pgrep -x munged >/dev/null && return 0
  [ -f /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  munged --force --pid-file "$D/munged.pid" --socket /run/munge/munge.socket.2 2>>"$D/log/munged.err" \
    && touch "$D/munged.ours"
}

start() {
  install_packages
  if running; then say "already running"; return 0; fi
  write_conf
  start_munge
  slurmctld -c -f "$CONF"   # -c: a clean start (no old jobs)
  slurmd -N localhost -f "$CONF"
  for _ in $(seq 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      say "up: $(sinfo -h -o '%P %D %c %T') (state in $D)"; return 0
    fi
    sleep 0.5
  done
  say "the node did not come up; see $D/log"; tail -5 "$D"/log/*.log >&2 || true; return 1
}

stop_pid() {  # stop the daemon whose pid file is $1, waiting for it to exit
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$f"
}

stop() {
  [ -d "$D" ] || { say "not running (no $D)"; return 0; }
  command -v scancel >/dev/null && scancel --user "$(id -un)" 2>/dev/null || true
  stop_pid "$D/slurmd.pid"
  stop_pid "$D/slurmctld.pid"
  [ -f "$D/munged.ours" ] && stop_pid "$D/munged.pid"
  grep -qF "$MARK" "$CONF" 2>/dev/null && rm -f "$CONF"
  rm -rf "$D"
  say "stopped"
}

running() { [ -f "$D/slurmctld.pid" ] && kill -0 "$(cat "$D/slurmctld.pid")" 2>/dev/null; }

status() {
  for n in slurmctld slurmd munged; do
    if [ -f "$D/$n.pid" ] && kill -0 "$(cat "$D/$n.pid")" 2>/dev/null; then say "$n running (pid $(cat "$D/$n.pid"))"
    else say "$n not running"; fi
  done
  sinfo 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  running) running ;;
  *) echo "usage: $0 start|stop|status|running" >&2; exit 2 ;;
esac
