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
)
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
