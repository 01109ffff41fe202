# Helpers shared by deploy/*.sh. Sourced, not run; the caller sets COMPONENT first.
# shellcheck shell=bash

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_DIR/.." && pwd)
TANHUI_VAR=${TANHUI_VAR:-$REPO_ROOT/.var}
# Absolute, so that the servers (which chdir) and other users see the same path.
case $TANHUI_VAR in /*) ;; *) TANHUI_VAR=$PWD/$TANHUI_VAR ;; esac
export TANHUI_VAR

log() { printf '%s %s: %s\n' "$(date +%H:%M:%S)" "$COMPONENT" "$*"; }
die() { printf '%s %s: ERROR: %s\n' "$(date +%H:%M:%S)" "$COMPONENT" "$*" >&2; exit 1; }

now_ms() { date +%s%3N; }
# Seconds since a now_ms stamp, one decimal: "12.3".
since() { local ms=$(($(now_ms) - $1)); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

# True when something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp, no nc needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# kill -0 also succeeds on a zombie, and this machine's pid 1 may take a while to reap one.
pid_alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) } # the state letter follows the "(command name)" field
  [[ ${st:0:1} != [ZX] ]]
}

# Prints the pid from pid file $1 when that process is alive and its command line contains $2;
# guards against a stale pid file whose number was reused by an unrelated process.
live_pid() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
  echo "$pid"
}

# stop_pid PID TIMEOUT: SIGTERM, wait up to TIMEOUT s, then SIGKILL.
stop_pid() {
  local pid=$1 timeout=$2 t0
  t0=$(now_ms)
  kill -TERM "$pid" 2>/dev/null || return 0
  while pid_alive "$pid"; do
    if (($(now_ms) - t0 > timeout * 1000)); then
      log "still running after ${timeout}s, sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  log "stopped (pid $pid) in $(since "$t0")s"
}

# Shows the end of a log file on stderr, to explain a failure.
show_tail() {
  [[ -f $1 ]] || return 0
  printf -- '----- last %s lines of %s -----\n' "${2:-30}" "$1" >&2
  tail -n "${2:-30}" "$1" >&2
  printf -- '-----\n' >&2
}
