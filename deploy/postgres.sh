#!/usr/bin/env bash
# PostgreSQL from Debian's `postgresql` package, as a private cluster on 127.0.0.1 for `make up`
# and local tests: data in $TANHUI_VAR/postgres, role and database `tanhui` (password `tanhui`,
# superuser so that `make up` creates the services' databases tanhui_<service> and tests create
# their own).
# Usage: postgres.sh start | stop | status | wait [timeout-s]
set -euo pipefail
COMPONENT=postgres
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${TANHUI_PG_PORT:-15432}
BASE=$TANHUI_VAR/postgres
PGDATA=$BASE/data
LOGFILE=$BASE/postgres.log
OS_USER=${TANHUI_PG_OS_USER:-postgres} # postgres refuses to run as root
STOP_MODE=${TANHUI_PG_STOP_MODE:-fast} # `immediate` simulates a crash
DB_USER=tanhui DB_PASS=tanhui DB_NAME=tanhui
# The socket lives in the data dir (no /var/run needed), unless the path is too long for a
# unix socket (107 bytes).
SOCK_DIR=$PGDATA
((${#SOCK_DIR} + 20 < 107)) || SOCK_DIR=/tmp

find_bin() {
  PG_BIN=${TANHUI_PG_BIN:-/usr/lib/postgresql/15/bin}
  if [[ ! -x $PG_BIN/initdb && -z ${TANHUI_PG_BIN:-} ]]; then # another major version?
    PG_BIN=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)
  fi
  [[ -x ${PG_BIN:-}/initdb ]] ||
    die "PostgreSQL server binaries not found: apt-get install postgresql (or set TANHUI_PG_BIN)"
}

# Runs a command as the server's owner: `postgres` when we are root, else ourselves.
as_pg() {
  if ((EUID == 0)); then
    (cd / && runuser -u "$OS_USER" -- "$@")
  else
    "$@"
  fi
}

# The repo may sit under root-owned dirs (/work): the postgres user needs search (x)
# permission on every parent of its data dir. Adds o+x only where missing.
make_reachable() {
  ((EUID == 0)) || return 0
  local d=$BASE
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    if ! as_pg test -x "$d"; then
      chmod o+x "$d"
      log "chmod o+x $d (so that user $OS_USER can reach $BASE)"
    fi
  done
}

init_cluster() {
  [[ -f $PGDATA/PG_VERSION ]] && return 0
  if ((EUID == 0)); then
    id -u "$OS_USER" >/dev/null 2>&1 ||
      die "user $OS_USER does not exist: apt-get install postgresql creates it (or set TANHUI_PG_OS_USER)"
  fi
  log "creating a cluster in $PGDATA (first start only)"
  mkdir -p "$BASE"
  ((EUID == 0)) && chown -R "$OS_USER:" "$BASE"
  chmod 700 "$BASE"
  make_reachable
  # Local socket: trust (only the postgres user can open the 0700 data dir). TCP: passwords.
  if ! as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >"$BASE/initdb.log" 2>&1; then
    show_tail "$BASE/initdb.log"
    die "initdb failed (log: $BASE/initdb.log); to start over: rm -rf $BASE"
  fi
  echo "include_if_exists = 'tanhui.conf'" >>"$PGDATA/postgresql.conf"
}

# Rewritten on every start, so the port variable always applies.
write_config() {
  cat >"$PGDATA/tanhui.conf" <<EOF
# Written by deploy/postgres.sh on every start: edit the script, not this file.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCK_DIR'
max_connections = 300
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
# fsync and synchronous_commit stay on: tests check crash safety.
EOF
  ((EUID == 0)) && chown "$OS_USER:" "$PGDATA/tanhui.conf"
  return 0
}

# The postmaster's pid is the first line of postmaster.pid (pg_ctl status would take a
# not-yet-reaped zombie for a live server).
running() {
  local pid
  [[ -f $PGDATA/postmaster.pid ]] || return 1
  pid=$(head -n1 "$PGDATA/postmaster.pid")
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" && grep -q postgres "/proc/$pid/cmdline" 2>/dev/null
}

# After a crash (kill -9) the old postmaster may linger a moment as an unreaped zombie, and its
# children until they notice: a new postmaster refuses to start while either is there.
# Server processes are recognised by their working directory, which is the data dir.
leftovers() {
  local p real
  real=$(realpath "$PGDATA")
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/cwd" 2>/dev/null) == "$real" ]] && return 0
  done
  return 1
}
wait_old_gone() {
  local pid t0
  [[ -f $PGDATA/postmaster.pid ]] || return 0
  pid=$(head -n1 "$PGDATA/postmaster.pid")
  t0=$(now_ms)
  while [[ -e /proc/$pid ]] || leftovers; do
    (($(now_ms) - t0 > 15000)) &&
      die "the previous server (pid $pid) or its children are still there after 15s: check ps, kill them, start again"
    sleep 0.2
  done
  (($(now_ms) - t0 > 300)) && log "waited $(since "$t0")s for the crashed server's processes to go away"
  return 0
}

start() {
  find_bin
  if running; then
    log "already running on 127.0.0.1:$PORT"
    return 0
  fi
  port_open "$PORT" && die "port $PORT is in use by another process: stop it or set TANHUI_PG_PORT"
  init_cluster
  make_reachable
  wait_old_gone
  write_config
  # -W: return at once; `wait` checks readiness (lets infra.sh start everything in parallel).
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$LOGFILE" -W start >/dev/null ||
    { show_tail "$LOGFILE"; die "pg_ctl start failed; see $LOGFILE"; }
  log "started on 127.0.0.1:$PORT, data $PGDATA, log $LOGFILE; 'postgres.sh wait' blocks until it answers"
}

# Idempotent: role and database exist, whatever happened to them since initdb.
bootstrap() {
  as_pg "$PG_BIN/psql" -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt <<EOF
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', '$DB_USER', '$DB_PASS')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\gexec
EOF
}

wait_ready() {
  local timeout=${1:-${TANHUI_PG_WAIT_TIMEOUT:-60}} t0
  find_bin
  t0=$(now_ms)
  log "waiting up to ${timeout}s for 127.0.0.1:$PORT"
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2; do
    # pg_ctl -W returns before the postmaster writes its pid file: a moment's grace.
    if (($(now_ms) - t0 > 3000)) && ! running; then
      show_tail "$LOGFILE"
      die "server is not running (exited, or never started): see $LOGFILE, then run deploy/postgres.sh start"
    fi
    (($(now_ms) - t0 > timeout * 1000)) && { show_tail "$LOGFILE"; die "not ready after ${timeout}s; see $LOGFILE"; }
    sleep 0.2
  done
  bootstrap || die "could not create role/database $DB_USER (see $LOGFILE)"
  PGPASSWORD=$DB_PASS "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" -d "$DB_NAME" -qAtc 'select 1' >/dev/null ||
    die "server answers but login as $DB_USER over TCP fails; see $LOGFILE (to start over: postgres.sh stop; rm -rf $BASE)"
  log "ready on 127.0.0.1:$PORT (user/password/db $DB_USER/$DB_PASS/$DB_NAME) after $(since "$t0")s"
}

stop() {
  local t0
  find_bin
  if ! running; then
    log "not running"
    return 0
  fi
  t0=$(now_ms)
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m "$STOP_MODE" -t 60 stop >>"$LOGFILE" 2>&1 ||
    die "pg_ctl stop failed; see $LOGFILE"
  log "stopped ($STOP_MODE) in $(since "$t0")s; data is kept"
}

status() {
  find_bin
  if running; then
    log "running on 127.0.0.1:$PORT, data $PGDATA"
  else
    log "not running (data $PGDATA)"
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
