#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft mode) for deltaflow's tests, examples and benchmarks,
# assembled from Maven Central artifacts (scripts/kafka/pom.xml) and run with the installed JDK,
# listening on loopback only.
#
#   scripts/kafka.sh start    assemble (once), start, wait until it serves; no-op if running
#   scripts/kafka.sh stop     stop it and remove its data
#   scripts/kafka.sh restart  stop it and start it again on the same data (a broker restart)
#   scripts/kafka.sh status   exit 0 when it runs
#   scripts/kafka.sh env      print the settings tests read (shell assignments)
#
# Listeners (DELTAFLOW_KAFKA_PORT, default 19092, is the first):
#   PORT     PLAINTEXT
#   PORT+1   the KRaft controller
#   PORT+2   SSL (a certificate for 127.0.0.1/localhost signed by a CA made at start: ca.pem)
#   PORT+3   SASL_PLAINTEXT with PLAIN and SCRAM-SHA-256 (user "alice", password "alice-secret")
# State (data, logs, certificates, pid) lives in DELTAFLOW_KAFKA_DIR (default build/kafka/run);
# the jars in build/kafka/libs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=${DELTAFLOW_KAFKA_PORT:-19092}
state=${DELTAFLOW_KAFKA_DIR:-$root/build/kafka/run}
libs=$root/build/kafka/libs
pidfile=$state/broker.pid

. "$root/scripts/lib/service.sh"

running() {
  pid_running "$pidfile"
}

assemble() {
  maven_libs kafka.sh "$root/scripts/kafka/pom.xml" "$libs" "the broker's jars"
}

certificates() {
  local dir=$state/tls
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
      -subj "/CN=deltaflow test CA" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 30 \
      -subj "/CN=an unrelated CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 \
      -extfile san.cnf 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in server.key -out server.pk8
    cat server.pk8 server.pem > keystore.pem
  )
}

start() {
  if running; then
    return
  fi
  assemble
  command -v java >/dev/null || { echo "kafka.sh: a JDK (java 17+) is needed" >&2; exit 1; }
  rm -rf "$state"
  mkdir -p "$state/data"
  certificates
  cat > "$state/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 1))
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1)),SSL://127.0.0.1:$((port + 2)),SASL_PLAINTEXT://127.0.0.1:$((port + 3))
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$((port + 2)),SASL_PLAINTEXT://127.0.0.1:$((port + 3))
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
ssl.keystore.type=PEM
ssl.keystore.location=$state/tls/keystore.pem
ssl.client.auth=none
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  cat > "$state/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $state/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
EOF
  local cluster
  cluster=$(java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$cluster" \
    -c "$state/server.properties" --add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]' \
    > "$state/format.log" 2>&1 || { cat "$state/format.log" >&2; exit 1; }
  launch
}

java_opts=(-Xms256m -Xmx768m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$state/log4j2.properties")

# Runs the broker of the prepared state directory and waits until it serves.
launch() {
  local starts
  starts=$(grep -c "Kafka Server started" "$state/broker.log" 2>/dev/null || true)
  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$state/server.properties" \
    >> "$state/broker.out" 2>&1 &
  echo $! > "$pidfile"
  local deadline=$((SECONDS + 90))
  until [ "$(grep -c "Kafka Server started" "$state/broker.log" 2>/dev/null || true)" -gt "${starts:-0}" ]; do
    if ! running; then
      echo "kafka.sh: the broker exited; its output:" >&2
      tail -n 30 "$state/broker.out" "$state/broker.log" >&2 || true
      exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "kafka.sh: the broker did not start within 90 s" >&2
      stop
      exit 1
    fi
    sleep 0.2
  done
  echo "kafka.sh: broker serving on 127.0.0.1:$port (pid $(cat "$pidfile"))" >&2
}

halt() {
  pid_stop "$pidfile"
}

stop() {
  halt
  rm -rf "$state"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart)
    halt
    launch
    ;;
  status) running ;;
  env)
    echo "DELTAFLOW_KAFKA_BOOTSTRAP=127.0.0.1:$port"
    echo "DELTAFLOW_KAFKA_SSL_BOOTSTRAP=127.0.0.1:$((port + 2))"
    echo "DELTAFLOW_KAFKA_SASL_BOOTSTRAP=127.0.0.1:$((port + 3))"
    echo "DELTAFLOW_KAFKA_CA=$state/tls/ca.pem"
    echo "DELTAFLOW_KAFKA_OTHER_CA=$state/tls/other-ca.pem"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
