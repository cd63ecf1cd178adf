#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for tests: munged, slurmctld and slurmd (Debian's munge and slurm-wlm).
#   tools/slurm_local.sh start    install the packages if missing (root, apt-get), write slurm.conf, start the daemons,
#                                 and run one probe job; a cluster of ours that is up and runs jobs is kept as it is,
#                                 one that is half up (a daemon gone, the node down) is stopped and started clean
#   tools/slurm_local.sh status   the daemons and the node, as sinfo sees them
#   tools/slurm_local.sh running  exit status 0 when this script's cluster is up: controller answers, node usable
#   tools/slurm_local.sh stop     stop the daemons this script started and remove its state folder
#   tools/slurm_local.sh logs     the last lines of the daemons' logs (for a failed test run)
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

munge_works() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  munge_works && return 0
  [ -f /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  munged --force --pid-file "$D/munged.pid" --socket /run/munge/munge.socket.2 2>>"$D/log/munged.err" \
    && touch "$D/munged.ours"
  for _ in $(seq 20); do munge_works && return 0; sleep 0.25; done
  say "munged did not start; see $D/log/munged.err"; return 1
}

zombie() { [ "$(awk '{print $3}' /proc/"$1"/stat 2>/dev/null)" = Z ]; }  # (a parent that does not reap its children leaves them)

alive() {  # alive NAME PIDFILE: the pid in PIDFILE is a live (not zombie) process called NAME
  local pid
  pid=$(cat "$2" 2>/dev/null) || return 1  # (a daemon removes its pid file as it exits)
  [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$1" ] && ! zombie "$pid"
}

node_usable() { sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)$'; }

probe_job() {  # a job submitted now runs and completes within 60 s
  timeout 60 sbatch --wait -Q -J probe -o /dev/null --wrap true >/dev/null 2>&1
}

start() {
  install_packages
  if running && probe_job; then say "already running: $(sinfo -h -o '%P %D %c %T')"; return 0; fi
  stop >/dev/null  # whatever a killed session left: daemons half up, pid files, old state
  write_conf
  start_munge
  slurmctld -c -f "$CONF"   # -c: a clean start (no old jobs)
  slurmd -N localhost -f "$CONF"
  for _ in $(seq 60); do
    node_usable && break
    sleep 0.5
  done
  if node_usable && probe_job; then
    say "up: $(sinfo -h -o '%P %D %c %T'), a probe job ran (state in $D)"; return 0
  fi
  say "the cluster did not come up or did not run a probe job; the logs:"; logs >&2; return 1
}

logs() {
  sinfo -N -o '%N %T %E' 2>/dev/null || true
  for f in "$D"/log/*; do [ -f "$f" ] && { echo "== $f"; tail -8 "$f"; }; done
}

stop_pid() {  # stop_pid NAME PIDFILE: stop the daemon NAME whose pid is in PIDFILE (never another process)
  local f=$2 pid
  pid=$(cat "$f" 2>/dev/null) || return 0
  if alive "$1" "$f"; then
    kill "$pid"
    for _ in $(seq 40); do alive "$1" "$f" || break; sleep 0.25; done
    alive "$1" "$f" && kill -9 "$pid"
  fi
  rm -f "$f"
}

stray_pids() {  # live daemons this script started (by their command line) whose pid files are gone
  local name pid
  for name in slurmd slurmctld munged; do
    for pid in $(pgrep -x "$name"); do
      zombie "$pid" && continue
      tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -qE -- "-f $CONF|--pid-file $D/munged.pid" && echo "$pid"
    done
  done
  return 0
}

stop() {
  local pids; pids=$(stray_pids)
  [ -d "$D" ] || [ -n "$pids" ] || { say "not running (no $D)"; return 0; }
  command -v scancel >/dev/null && timeout 15 scancel --user "$(id -un)" 2>/dev/null || true
  stop_pid slurmd "$D/slurmd.pid"
  stop_pid slurmctld "$D/slurmctld.pid"
  [ -f "$D/munged.ours" ] && stop_pid munged "$D/munged.pid"
  pids=$(stray_pids)
  [ -n "$pids" ] && { kill $pids 2>/dev/null; sleep 1; kill -9 $pids 2>/dev/null || true; }
  grep -qF "$MARK" "$CONF" 2>/dev/null && rm -f "$CONF"
  rm -rf "$D"
  say "stopped"
}

running() { alive slurmctld "$D/slurmctld.pid" && alive slurmd "$D/slurmd.pid" && node_usable; }

status() {
  for n in slurmctld slurmd munged; do
    if alive "$n" "$D/$n.pid"; then say "$n running (pid $(cat "$D/$n.pid"))"
    else say "$n not running"; fi
  done
  sinfo 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  running) running ;;
  logs) logs ;;
  *) echo "usage: $0 start|stop|status|running|logs" >&2; exit 2 ;;
esac
