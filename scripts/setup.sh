#!/usr/bin/env bash
# Installs what deltaflow needs on a fresh Debian 12 machine: system packages (apt-get, only
# those missing) and a Python virtualenv (.venv) with the build and test tools. Idempotent and
# quick when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libabsl-dev libtbb-dev libspdlog-dev libfmt-dev libsimdjson-dev libxxhash-dev tzdata
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev zlib1g-dev libsasl2-dev openssl
  libpqxx-dev libpq-dev postgresql libsqlite3-dev
)
# The Kafka test broker (scripts/kafka.sh) runs on a JDK with jars fetched by Maven.
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || packages+=(maven)
python=${PYTHON:-python3}
if [ "$(command -v "$python")" = /usr/bin/python3 ]; then
  packages+=(python3-dev python3-venv)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# librdkafka's source for the Kafka connector (cmake/librdkafka.cmake): 2.10.0, as vendored in
# the rdkafka-sys crate, fetched from crates.io with cargo. Without cargo, the build falls back
# to the system's librdkafka (librdkafka-dev).
rdkafka=build/deps/librdkafka
if [ ! -f "$rdkafka/CMakeLists.txt" ]; then
  if command -v cargo >/dev/null; then
    echo "setup: fetching librdkafka's source (crates.io: rdkafka-sys)"
    manifest=scripts/deps/librdkafka/Cargo.toml
    cargo fetch -q --manifest-path "$manifest"
    crate=$(cargo metadata --format-version 1 --manifest-path "$manifest" |
      "${python}" -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "rdkafka-sys"))')
    rm -rf "$rdkafka.tmp"
    mkdir -p "$(dirname "$rdkafka")"
    cp -r "$(dirname "$crate")/librdkafka" "$rdkafka.tmp"
    mv "$rdkafka.tmp" "$rdkafka"
  else
    missing_rdkafka=1
    dpkg-query -W -f='${Status}' librdkafka-dev 2>/dev/null | grep -q "install ok installed" && missing_rdkafka=0
    if [ $missing_rdkafka -eq 1 ]; then
      echo "setup: no cargo to fetch librdkafka's source: installing the system's (librdkafka-dev)"
      sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends librdkafka-dev
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python"
  "$python" -m venv .venv
fi
stamp=.venv/.deltaflow-requirements
if ! cmp -s requirements-dev.txt "$stamp" 2>/dev/null; then
  echo "setup: installing Python requirements into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  cp requirements-dev.txt "$stamp"
fi
