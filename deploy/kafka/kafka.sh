#!/usr/bin/env bash
# Single-node KRaft Kafka (broker and controller in one JVM) on 127.0.0.1, for local tests.
# Jars come from Maven Central through pom.xml beside this script and are cached between runs.
# Usage: kafka.sh start | stop | restart | status | wait [timeout-s] | tool CLASS [args...]
set -euo pipefail
COMPONENT=kafka
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VERSION=${TANHUI_KAFKA_VERSION:-4.4.0}
PORT=${TANHUI_KAFKA_PORT:-19092}
CPORT=${TANHUI_KAFKA_CONTROLLER_PORT:-19093}
DATA=$TANHUI_VAR/kafka
CACHE=${TANHUI_KAFKA_CACHE:-${HOME:-/root}/.cache/tanhui/kafka-$VERSION}
LIBS=$CACHE/libs
TOOLS_VERSION=${TANHUI_KAFKA_TOOLS_VERSION:-4.3.1}
TOOLS=$CACHE/tools
POM=$DEPLOY_DIR/kafka/pom.xml
TOOLS_POM=$DEPLOY_DIR/kafka/tools-pom.xml
PIDFILE=$DATA/kafka.pid
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
STOP_TIMEOUT=${TANHUI_KAFKA_STOP_TIMEOUT:-30}

# Broker JVM: the flags of Kafka's own start script, with a heap small enough for a 2-core CI box.
# shellcheck disable=SC2206  # TANHUI_KAFKA_JVM_OPTS is meant to be word-split
JVM_OPTS=(-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
  -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
  -Dkafka.logs.dir="$DATA/logs" -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/log4j2.properties"
  ${TANHUI_KAFKA_JVM_OPTS:-})
# CLI tools are short-lived: C1 only and serial GC start about twice as fast.
TOOL_OPTS=(-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$DEPLOY_DIR/kafka/tools-log4j2.properties")

need_java() {
  command -v "$JAVA" >/dev/null ||
    die "java not found: apt-get install openjdk-17-jre-headless, or set JAVA_HOME"
  local v
  v=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  ((${v:-0} >= 17)) || die "Kafka 4 needs Java 17 or newer; $JAVA is $v (set JAVA_HOME)"
}

# mvn_copy POM DIR [-Dprop=value...]: every jar POM depends on, into DIR (replaced whole).
mvn_copy() {
  local pom=$1 dir=$2 mlog
  mlog=$CACHE/mvn-$(basename "$pom" .xml).log
  shift 2
  rm -rf "$dir.tmp"
  if ! mvn -B -q -ntp -Dstyle.color=never -f "$pom" "$@" \
    dependency:copy-dependencies -DoutputDirectory="$dir.tmp" >"$mlog" 2>&1; then
    show_tail "$mlog" 40
    die "Maven could not fetch the jars of $pom (full log: $mlog). Check that Maven Central is reachable; another version: TANHUI_KAFKA_VERSION / TANHUI_KAFKA_TOOLS_VERSION"
  fi
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
}

fetch_jars() {
  # The marker names what the jars were fetched for, so a pom edit or a version change refetches.
  local stamp t0
  stamp="$VERSION $TOOLS_VERSION $(cat "$POM" "$TOOLS_POM" | sha256sum | cut -c1-16)"
  [[ -f $CACHE/.complete && $(<"$CACHE/.complete") == "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found: apt-get install maven (needed once, to fetch the jars)"
  mkdir -p "$CACHE"
  # Two checkouts starting at once must not download into the same directory. The lock fd is
  # closed again below, or the broker started later would inherit it and hold the lock.
  exec 9>"$CACHE/.lock"
  flock 9
  [[ -f $CACHE/.complete && $(<"$CACHE/.complete") == "$stamp" ]] && { exec 9>&-; return 0; }
  log "downloading Kafka $VERSION (tools $TOOLS_VERSION) jars with Maven into $CACHE (first run only, about 70 MB)..."
  t0=$(now_ms)
  mvn_copy "$POM" "$LIBS" -Dkafka.version="$VERSION"
  mvn_copy "$TOOLS_POM" "$TOOLS" -Dkafka.tools.version="$TOOLS_VERSION"
  echo "$stamp" >"$CACHE/.complete"
  exec 9>&-
  log "jars ready: $(find "$CACHE" -name '*.jar' | wc -l) jars, $(du -sh "$CACHE" | cut -f1) in $(since "$t0")s"
}

# Rewritten on every start from the template, so the port variables always apply.
write_config() {
  local t
  mkdir -p "$DATA/logs" "$DATA/data"
  t=$(<"$DEPLOY_DIR/kafka/server.properties.template")
  t=${t//@PORT@/$PORT}
  t=${t//@CONTROLLER_PORT@/$CPORT}
  printf '%s\n' "${t//@DATA@/$DATA}" >"$DATA/server.properties"
}

format_storage() {
  [[ -f $DATA/data/meta.properties ]] && return 0
  local id
  log "formatting storage in $DATA/data (first start only)"
  id=$("$JAVA" "${TOOL_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)
  if ! "$JAVA" "${TOOL_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format --standalone \
    -t "$id" -c "$DATA/server.properties" >"$DATA/logs/format.log" 2>&1; then
    show_tail "$DATA/logs/format.log"
    die "formatting failed; to start over: rm -rf $DATA"
  fi
  log "formatted, cluster id $id"
}

start() {
  local pid
  if pid=$(live_pid "$PIDFILE" "$DATA/server.properties"); then
    log "already running (pid $pid) on 127.0.0.1:$PORT"
    return 0
  fi
  port_open "$PORT" && die "port $PORT is in use by another process: stop it or set TANHUI_KAFKA_PORT"
  port_open "$CPORT" && die "port $CPORT is in use by another process: stop it or set TANHUI_KAFKA_CONTROLLER_PORT"
  need_java
  fetch_jars
  write_config
  format_storage
  cd "$DATA"
  # setsid: the broker must outlive this shell and ignore a Ctrl-C sent to it.
  setsid nohup "$JAVA" "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$DATA/server.properties" \
    >"$DATA/logs/kafka.out" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  log "started pid $! on 127.0.0.1:$PORT (controller $CPORT), logs in $DATA/logs; 'kafka.sh wait' blocks until it answers"
}

# A real request through the client stack, not only an open port: the broker must list itself.
answers() {
  timeout 30 "$JAVA" "${TOOL_OPTS[@]}" -cp "$TOOLS/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "127.0.0.1:$PORT" 2>/dev/null | grep -q '(id: 1 '
}

wait_ready() {
  local timeout=${1:-${TANHUI_KAFKA_WAIT_TIMEOUT:-90}} t0 next=10
  t0=$(now_ms)
  log "waiting up to ${timeout}s for the broker on 127.0.0.1:$PORT"
  while :; do
    if ! live_pid "$PIDFILE" "$DATA/server.properties" >/dev/null; then
      show_tail "$DATA/logs/kafka.out" 15
      show_tail "$DATA/logs/server.log" 30
      die "broker is not running (exited, or never started): see $DATA/logs, then run deploy/kafka/kafka.sh start"
    fi
    if port_open "$PORT" && answers; then
      log "ready on 127.0.0.1:$PORT after $(since "$t0")s"
      return 0
    fi
    if (($(now_ms) - t0 > timeout * 1000)); then
      show_tail "$DATA/logs/server.log" 30
      die "not ready after ${timeout}s (still starting? see $DATA/logs/server.log; longer: kafka.sh wait 300)"
    fi
    if (($(now_ms) - t0 > next * 1000)); then
      log "still waiting ($(since "$t0")s)"
      next=$((next + 10))
    fi
    sleep 0.3
  done
}

stop() {
  local pid
  if pid=$(live_pid "$PIDFILE" "$DATA/server.properties"); then
    log "stopping pid $pid (SIGTERM, SIGKILL after ${STOP_TIMEOUT}s); data is kept"
    stop_pid "$pid" "$STOP_TIMEOUT"
  else
    log "not running"
  fi
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid=$(live_pid "$PIDFILE" "$DATA/server.properties"); then
    log "running (pid $pid) on 127.0.0.1:$PORT ($(port_open "$PORT" && echo listening || echo 'not listening yet')), data $DATA"
  else
    log "not running (data $DATA)"
    return 3
  fi
}

# Runs a class from the jar cache, e.g. `kafka.sh tool TopicCommand --bootstrap-server ... --list`.
tool() {
  [[ $# -ge 1 ]] || die "usage: kafka.sh tool CLASS [args...] (a bare name means org.apache.kafka.tools.NAME)"
  local cls=$1
  shift
  [[ $cls == *.* ]] || cls=org.apache.kafka.tools.$cls
  need_java
  fetch_jars >&2
  # StorageTool lives in the broker jars, everything else in the tools classpath.
  local cp=$TOOLS
  [[ $cls == kafka.* ]] && cp=$LIBS
  exec "$JAVA" "${TOOL_OPTS[@]}" -cp "$cp/*" "$cls" "$@"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  restart) stop && start && wait_ready ;;
  status) status ;;
  wait) wait_ready "${2:-}" ;;
  tool) shift && tool "$@" ;;
  *) die "usage: $0 start|stop|restart|status|wait [timeout-s]|tool CLASS [args...]" ;;
esac
