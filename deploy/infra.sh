#!/usr/bin/env bash
# The whole local infrastructure for tests and development: Kafka, PostgreSQL and Redis on
# 127.0.0.1, each with its data under $TANHUI_VAR (default <repo>/.var).
# Usage: infra.sh up | down | status | env
#   eval "$(deploy/infra.sh env)"  sets TANHUI_KAFKA_BOOTSTRAP, TANHUI_DATABASE_URL, TANHUI_REDIS_URL
set -euo pipefail
COMPONENT=infra
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA=$DEPLOY_DIR/kafka/kafka.sh
PG=$DEPLOY_DIR/postgres.sh
REDIS=$DEPLOY_DIR/redis.sh

env_lines() {
  echo "export TANHUI_KAFKA_BOOTSTRAP=127.0.0.1:${TANHUI_KAFKA_PORT:-19092}"
  echo "export TANHUI_DATABASE_URL=postgresql+psycopg://tanhui:tanhui@127.0.0.1:${TANHUI_PG_PORT:-15432}/tanhui"
  echo "export TANHUI_REDIS_URL=redis://127.0.0.1:${TANHUI_REDIS_PORT:-16379}/0"
}

up() {
  local t0 kafka_start pg_at redis_at kafka_at
  t0=$(now_ms)
  log "starting kafka, postgres and redis (data in $TANHUI_VAR)"
  # Kafka's start is the slow one (first run: jar download and format; always: a JVM),
  # so it runs beside the other two.
  "$KAFKA" start &
  kafka_start=$!
  # If postgres or redis fails, still let Kafka's start finish rather than orphan it midway.
  trap 'wait' EXIT
  "$PG" start
  "$REDIS" start
  "$PG" wait
  pg_at=$(since "$t0")
  "$REDIS" wait
  redis_at=$(since "$t0")
  wait "$kafka_start" || die "kafka did not start (see its messages above); retry with deploy/kafka/kafka.sh start"
  "$KAFKA" wait
  kafka_at=$(since "$t0")
  log "all up in ${kafka_at}s (ready at: postgres ${pg_at}s, redis ${redis_at}s, kafka ${kafka_at}s)"
  log "for tests: eval \"\$(deploy/infra.sh env)\""
}

down() {
  local t0 kafka_stop rc=0
  t0=$(now_ms)
  # Kafka's orderly shutdown takes a few seconds: overlap it with the others.
  "$KAFKA" stop &
  kafka_stop=$!
  "$PG" stop || rc=1
  "$REDIS" stop || rc=1
  wait "$kafka_stop" || rc=1
  ((rc == 0)) || die "something did not stop cleanly (see above)"
  log "all stopped in $(since "$t0")s; data kept in $TANHUI_VAR (rm -rf it to start from scratch)"
}

status() {
  local rc=0
  "$KAFKA" status || rc=3
  "$PG" status || rc=3
  "$REDIS" status || rc=3
  return "$rc"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  env) env_lines ;;
  *) die "usage: $0 up|down|status|env" ;;
esac
