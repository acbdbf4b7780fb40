#!/usr/bin/env bash
# A Kafka Connect worker (standalone mode) with Debezium's PostgreSQL connector, for deltaflow's
# tests of pw.io.debezium: assembled from Maven Central artifacts (scripts/debezium/pom.xml)
# and run with the installed JDK against the broker of scripts/kafka.sh. Connectors are added
# through its REST interface (POST /connectors), listening on loopback only.
#
#   scripts/debezium.sh start    assemble (once), start, wait until its REST interface serves
#   scripts/debezium.sh stop     stop it and remove its state
#   scripts/debezium.sh status   exit 0 when it runs
#   scripts/debezium.sh env      print the settings tests read (shell assignments)
#
# REST port DELTAFLOW_CONNECT_PORT (default 18083); the broker DELTAFLOW_KAFKA_BOOTSTRAP
# (default 127.0.0.1:19092). State in DELTAFLOW_CONNECT_DIR (default build/debezium/run), the
# jars in build/debezium/libs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${DELTAFLOW_CONNECT_PORT:-18083}
bootstrap=${DELTAFLOW_KAFKA_BOOTSTRAP:-127.0.0.1:19092}
state=${DELTAFLOW_CONNECT_DIR:-$root/build/debezium/run}
libs=$root/build/debezium/libs
pidfile=$state/connect.pid

. "$root/scripts/lib/service.sh"

running() {
  pid_running "$pidfile"
}

assemble() {
  maven_libs debezium.sh "$root/scripts/debezium/pom.xml" "$libs" "Kafka Connect and Debezium"
}

start() {
  if running; then
    return
  fi
  assemble
  rm -rf "$state"
  mkdir -p "$state"
  cat > "$state/worker.properties" <<PROPS
bootstrap.servers=$bootstrap
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=$state/offsets
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
plugin.discovery=only_scan
PROPS
  cat > "$state/log4j2.properties" <<PROPS
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/connect.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.connect.name = org.apache.kafka.connect.runtime.rest.RestServer
logger.connect.level = info
PROPS
  nohup java -Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$state/log4j2.properties" -cp "$libs/*" \
    org.apache.kafka.connect.cli.ConnectStandalone "$state/worker.properties" >> "$state/connect.out" 2>&1 &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + 120))
  until curl -fs "http://127.0.0.1:$port/connectors" >/dev/null 2>&1; do
    if ! running; then
      echo "debezium.sh: Kafka Connect exited; its output:" >&2
      tail -n 40 "$state/connect.out" "$state/connect.log" >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "debezium.sh: Kafka Connect did not start within 120 s" >&2
      stop
      exit 1
    fi
    sleep 0.3
  done
  echo "debezium.sh: Kafka Connect serving on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
}

stop() {
  pid_stop "$pidfile"
  rm -rf "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  env) echo "DELTAFLOW_CONNECT_URL=http://127.0.0.1:$port" ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
