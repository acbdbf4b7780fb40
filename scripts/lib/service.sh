# Shared by the scripts of the test services (kafka.sh, debezium.sh): sourced, not run.

# Whether the process whose id is in the file $1 is alive.
pid_running() {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# The runtime jars of the Maven project $2 (a pom.xml) in the directory $3, fetched from Maven
# Central once (again when the pom changes). $1 names the calling script in messages, $4 what
# is fetched.
maven_libs() {
  local script=$1 pom=$2 libs=$3 what=$4
  if [ -f "$libs/.complete" ] && cmp -s "$pom" "$libs/.complete"; then
    return
  fi
  command -v mvn >/dev/null || { echo "$script: maven (mvn) is needed to fetch $what" >&2; exit 1; }
  echo "$script: fetching $what from Maven Central" >&2
  rm -rf "$libs"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >&2
  cp "$pom" "$libs/.complete"
}

# Stops the process whose id is in the file $1: SIGTERM, up to 10 s to exit, then SIGKILL.
pid_stop() {
  pid_running "$1" || return 0
  local pid
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}
