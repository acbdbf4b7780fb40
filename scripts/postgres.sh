#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for deltaflow's tests, examples and benchmarks: a cluster made
# with the Debian server package's initdb in a temporary directory, listening on loopback only,
# with logical replication enabled (wal_level=logical) and TLS with a certificate made at start.
# The server refuses to run as root: when this script runs as root, the server runs as the
# `postgres` user.
#
#   scripts/postgres.sh start    make the cluster (once), start it, wait until it serves
#   scripts/postgres.sh stop     stop it and remove the cluster
#   scripts/postgres.sh restart  stop it and start it again on the same data (a server restart)
#   scripts/postgres.sh status   exit 0 when it runs
#   scripts/postgres.sh env      print the settings tests read (shell assignments)
#   scripts/postgres.sh psql ... run psql against the test database as the test user
#
# Port DELTAFLOW_PG_PORT (default 15432); database "deltaflow", user "deltaflow" with password
# "deltaflow-secret" (password authentication over TCP, replication allowed); the cluster,
# its log and its certificates (ca.pem, and other-ca.pem that signed nothing) live in
# DELTAFLOW_PG_DIR (default /tmp/deltaflow-pg-PORT).
set -euo pipefail
port=${DELTAFLOW_PG_PORT:-15432}
state=${DELTAFLOW_PG_DIR:-/tmp/deltaflow-pg-$port}
data=$state/data
user=deltaflow
password=deltaflow-secret
database=deltaflow

bindir=${DELTAFLOW_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
as_server() {
  # Runs a command as the user the server runs as.
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [ -f "$data/postmaster.pid" ] && as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1
}

certificates() {
  local dir=$state/tls
  as_server mkdir -p "$dir"
  as_server bash -c "
    set -e
    cd '$dir'
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=deltaflow test CA' 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 30 -subj '/CN=an unrelated CA' 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > san.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile san.cnf 2>/dev/null
    chmod 600 server.key
    chmod 644 ca.pem other-ca.pem
  "
}

start() {
  if running; then
    return
  fi
  [ -x "$bindir/initdb" ] || { echo "postgres.sh: the PostgreSQL server (postgresql-15) is not installed" >&2; exit 1; }
  rm -rf "$state"
  mkdir -p "$state"
  chmod 755 "$state"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$state"
  printf '%s\n' "$password" > "$state/.pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$state/.pwfile"
  as_server "$bindir/initdb" -D "$data" -U "$user" --pwfile="$state/.pwfile" -A scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 > "$state/initdb.log" 2>&1 || { cat "$state/initdb.log" >&2; exit 1; }
  rm -f "$state/.pwfile"
  certificates
  as_server bash -c "cat >> '$data/postgresql.conf'" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$state'
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
fsync = off
synchronous_commit = on
full_page_writes = off
shared_buffers = 256MB
max_connections = 200
ssl = on
ssl_cert_file = '$state/tls/server.pem'
ssl_key_file = '$state/tls/server.key'
log_min_messages = warning
EOF
  as_server bash -c "cat > '$data/pg_hba.conf'" <<EOF
local   all          all                  scram-sha-256
local   replication  all                  scram-sha-256
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
EOF
  launch
  PGPASSWORD=$password "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres \
    -c "CREATE DATABASE $database" >/dev/null
}

launch() {
  as_server "$bindir/pg_ctl" -D "$data" -l "$state/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$state/server.log" >&2; exit 1; }
  echo "postgres.sh: server serving on 127.0.0.1:$port" >&2
}

halt() {
  if running; then
    as_server "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  fi
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
    echo "DELTAFLOW_PG_HOST=127.0.0.1"
    echo "DELTAFLOW_PG_PORT=$port"
    echo "DELTAFLOW_PG_USER=$user"
    echo "DELTAFLOW_PG_PASSWORD=$password"
    echo "DELTAFLOW_PG_DATABASE=$database"
    echo "DELTAFLOW_PG_CA=$state/tls/ca.pem"
    echo "DELTAFLOW_PG_OTHER_CA=$state/tls/other-ca.pem"
    echo "DELTAFLOW_PG_BINDIR=$bindir"
    ;;
  psql)
    shift
    PGPASSWORD=$password exec "$bindir/psql" -h 127.0.0.1 -p "$port" -U "$user" -d "$database" "$@"
    ;;
  *)
    echo "usage: $0 start|stop|restart|status|env|psql" >&2
    exit 2
    ;;
esac
