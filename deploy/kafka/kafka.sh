#!/usr/bin/env bash
# Single-node KRaft Kafka (broker and controller in one JVM) on 127.0.0.1, for local tests.
# Jars come from Maven Central through pom.xml beside this script and are cached between runs.
# Usage: kafka.sh start | stop | restart | status | wait [timeout-s] | tool CLASS [args...]
#        kafka.sh run      (in the foreground, for a container: docker-compose.yml's broker)
#        kafka.sh answers  (exit 0 when the broker answers a request: a container health check)
# TANHUI_KAFKA_SECURE=1: the production setting (secure.properties.template): SASL/SCRAM-SHA-512
# and ACLs, super user `admin` with TANHUI_KAFKA_ADMIN_PASSWORD (see deploy/README.md).
set -euo pipefail
COMPONENT=kafka
# shellcheck source-path=SCRIPTDIR source=../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

VERSION=${TANHUI_KAFKA_VERSION:-4.4.0}
PORT=${TANHUI_KAFKA_PORT:-19092}
CPORT=${TANHUI_KAFKA_CONTROLLER_PORT:-19093}
HOST=${TANHUI_KAFKA_HOST:-127.0.0.1}
ADVERTISED_HOST=${TANHUI_KAFKA_ADVERTISED_HOST:-$HOST}
SECURE=${TANHUI_KAFKA_SECURE:-0}
DATA=$TANHUI_VAR/kafka
CACHE=${TANHUI_KAFKA_CACHE:-${HOME:-/root}/.cache/tanhui/kafka-$VERSION}
LIBS=$CACHE/libs
TOOLS_VERSION=${TANHUI_KAFKA_TOOLS_VERSION:-4.3.1}
TOOLS=$CACHE/tools
# A Kafka distribution already on the machine (the apache/kafka image: /opt/kafka) is used as it
# is: its libs/ serve the broker and the tools, and nothing is fetched.
if [[ -n ${TANHUI_KAFKA_HOME:-} ]]; then
  LIBS=$TANHUI_KAFKA_HOME/libs
  TOOLS=$TANHUI_KAFKA_HOME/libs
fi
ADMIN_CONFIG=$DATA/admin-client.properties
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
  [[ -n ${TANHUI_KAFKA_HOME:-} ]] && return 0
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

secure() { [[ $SECURE == 1 ]]; }

# The super user's password goes into a properties file and a SCRAM credential; keep it to
# characters neither format needs to escape.
admin_password() {
  local p=${TANHUI_KAFKA_ADMIN_PASSWORD:-}
  [[ $p =~ ^[A-Za-z0-9._~-]{16,}$ ]] ||
    die "TANHUI_KAFKA_SECURE=1 needs TANHUI_KAFKA_ADMIN_PASSWORD: 16 or more of A-Z a-z 0-9 . _ ~ - (e.g. openssl rand -hex 24)"
  printf '%s' "$p"
}

# Rewritten on every start from the template(s), so the port variables always apply.
write_config() {
  local t password
  mkdir -p "$DATA/logs" "$DATA/data"
  t=$(<"$DEPLOY_DIR/kafka/server.properties.template")
  if secure; then
    password=$(admin_password)
    t+=$'\n'$(<"$DEPLOY_DIR/kafka/secure.properties.template")
    t=${t//@HOST@/$HOST}
    t=${t//@ADVERTISED_HOST@/$ADVERTISED_HOST}
    t=${t//@ADMIN_PASSWORD@/$password}
    # what `answers` and an operator's `tool ... --command-config` connect with
    (umask 077 && printf '%s\n' "security.protocol=SASL_PLAINTEXT" "sasl.mechanism=SCRAM-SHA-512" \
      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$password\";" \
      >"$ADMIN_CONFIG")
  fi
  t=${t//@PORT@/$PORT}
  t=${t//@CONTROLLER_PORT@/$CPORT}
  (umask 077 && printf '%s\n' "${t//@DATA@/$DATA}" >"$DATA/server.properties")
}

format_storage() {
  if [[ -f $DATA/data/meta.properties ]]; then
    # SCRAM credentials are written at format time: storage formatted without them cannot serve
    # the secure mode (nobody could authenticate), and vice versa.
    if secure && [[ ! -f $DATA/secure ]]; then
      die "$DATA was formatted without SASL: give the secure broker a TANHUI_VAR of its own"
    elif ! secure && [[ -f $DATA/secure ]]; then
      die "$DATA was formatted for TANHUI_KAFKA_SECURE=1: start it that way, or use another TANHUI_VAR"
    fi
    return 0
  fi
  local id scram=()
  # KRaft: the super user's SCRAM credential must exist before any client can authenticate, so
  # it is part of the format (KIP-900); the services' principals are made later, by that user.
  secure && scram=(--add-scram "SCRAM-SHA-512=[name=admin,password=$(admin_password)]")
  log "formatting storage in $DATA/data (first start only)"
  id=$("$JAVA" "${TOOL_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool random-uuid)
  if ! "$JAVA" "${TOOL_OPTS[@]}" -cp "$LIBS/*" kafka.tools.StorageTool format --standalone \
    -t "$id" -c "$DATA/server.properties" "${scram[@]}" >"$DATA/logs/format.log" 2>&1; then
    show_tail "$DATA/logs/format.log"
    die "formatting failed; to start over: rm -rf $DATA"
  fi
  secure && touch "$DATA/secure"
  log "formatted, cluster id $id${scram:+, with the SCRAM credential of the super user admin}"
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
  log "started pid $! on $HOST:$PORT (controller $CPORT$(secure && echo ', SASL/SCRAM + ACLs')), logs in $DATA/logs; 'kafka.sh wait' blocks until it answers"
}

# In the foreground (a container's main process): the same config and format as `start`.
run() {
  need_java
  fetch_jars
  write_config
  format_storage
  echo $$ >"$PIDFILE"
  log "running on $HOST:$PORT, advertised as $ADVERTISED_HOST:$PORT$(secure && echo ', SASL/SCRAM + ACLs')"
  exec "$JAVA" "${JVM_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$DATA/server.properties"
}

# A real request through the client stack, not only an open port: the broker must list itself.
answers() {
  local auth=()
  secure && auth=(--command-config "$ADMIN_CONFIG")
  timeout 30 "$JAVA" "${TOOL_OPTS[@]}" -cp "$TOOLS/*" org.apache.kafka.tools.BrokerApiVersionsCommand \
    --bootstrap-server "$ADVERTISED_HOST:$PORT" "${auth[@]}" 2>/dev/null | grep -q '(id: 1 '
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
  run) run ;;
  answers) answers ;;
  *) die "usage: $0 start|stop|restart|status|wait [timeout-s]|tool CLASS [args...]|run|answers" ;;
esac
