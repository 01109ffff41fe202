#!/usr/bin/env bash
# redis-server from Debian's `redis-server` package, on 127.0.0.1 for local tests: its own dir
# $TANHUI_VAR/redis, append-only file on, daemonized with a pid file.
# Usage: redis.sh start | stop | status | wait [timeout-s]
set -euo pipefail
COMPONENT=redis
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${TANHUI_REDIS_PORT:-16379}
DIR=$TANHUI_VAR/redis
PIDFILE=$DIR/redis.pid
LOGFILE=$DIR/redis.log
STOP_TIMEOUT=${TANHUI_REDIS_STOP_TIMEOUT:-20}
# redis-server retitles itself "redis-server <bind>:<port>"; used to recognise our process.
TITLE="redis-server 127.0.0.1:$PORT"

need_bins() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    die "redis-server/redis-cli not found: apt-get install redis-server"
  fi
}

# Rewritten on every start, so the port variable always applies.
write_config() {
  mkdir -p "$DIR"
  cat >"$DIR/redis.conf" <<EOF
# Written by deploy/redis.sh on every start: edit the script, not this file.
port $PORT
bind 127.0.0.1
# Loopback only; protected mode would only refuse clients when no password is set.
protected-mode no
daemonize yes
pidfile "$PIDFILE"
logfile "$LOGFILE"
dir "$DIR"
appendonly yes
appendfsync everysec
# The AOF is the durability; RDB snapshots would only add background forks.
save ""
EOF
}

start() {
  local pid
  need_bins
  if pid=$(live_pid "$PIDFILE" "$TITLE"); then
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  port_open "$PORT" && die "port $PORT is in use by another process: stop it or set TANHUI_REDIS_PORT"
  write_config
  rm -f "$PIDFILE"
  redis-server "$DIR/redis.conf" || { show_tail "$LOGFILE"; die "redis-server failed to start; see $LOGFILE"; }
  log "started on 127.0.0.1:$PORT, dir $DIR; 'redis.sh wait' blocks until it answers"
}

wait_ready() {
  local timeout=${1:-${TANHUI_REDIS_WAIT_TIMEOUT:-30}} t0 reply
  need_bins
  t0=$(now_ms)
  log "waiting up to ${timeout}s for 127.0.0.1:$PORT"
  # PING answers LOADING while the AOF is replayed: wait for a real PONG.
  until reply=$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>&1) && [[ $reply == PONG ]]; do
    # The pid file appears only after daemonizing: give it a moment before calling it dead.
    if (($(now_ms) - t0 > 2000)) && ! live_pid "$PIDFILE" "$TITLE" >/dev/null; then
      show_tail "$LOGFILE"
      die "redis-server is not running (exited, or never started): see $LOGFILE, then run deploy/redis.sh start"
    fi
    (($(now_ms) - t0 > timeout * 1000)) && { show_tail "$LOGFILE"; die "not ready after ${timeout}s (last reply: $reply)"; }
    sleep 0.1
  done
  log "ready on 127.0.0.1:$PORT after $(since "$t0")s"
}

stop() {
  local pid
  if pid=$(live_pid "$PIDFILE" "$TITLE"); then
    # SIGTERM: redis flushes the AOF and exits cleanly.
    stop_pid "$pid" "$STOP_TIMEOUT"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(live_pid "$PIDFILE" "$TITLE"); then
    log "running (pid $pid) on 127.0.0.1:$PORT, dir $DIR"
  else
    log "not running (dir $DIR)"
    return 3
  fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  wait) wait_ready "${2:-}" ;;
  *) die "usage: $0 start|stop|status|wait [timeout-s]" ;;
esac
