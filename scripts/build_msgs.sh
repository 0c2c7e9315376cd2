#!/usr/bin/env bash
# Build the stae_msgs interfaces (msg/*.msg) into a venv that holds the ROS 2 wheels
# (requirements-ros.txt), so `import stae_msgs.msg` works with no `source setup.bash`.
#
# Usage: scripts/build_msgs.sh [VENV]      (VENV defaults to $VIRTUAL_ENV, else ./.venv)
#
# Idempotent: re-running patches nothing twice, rebuilds only what changed and reinstalls.
# Why the patch: the wheels' exported *__rosidl_generator_py CMake targets hard-code the include
# directories of the machine that built them (/opt/python/cp311-cp311/...); cmake refuses
# targets whose include paths do not exist, so we point them at this venv's Python and numpy.
# On a ROS host use colcon instead (see docs/ros.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${VIRTUAL_ENV:-$REPO/.venv}}"
VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"
BUILD="${STAE_MSGS_BUILD_DIR:-$REPO/build/stae_msgs}"
JOBS="${STAE_MSGS_JOBS:-2}"

if [[ ! -x "$PY" ]]; then
  echo "build_msgs: no python at $PY; pass the venv folder (e.g. scripts/build_msgs.sh .venv)" >&2
  exit 2
fi
for tool in cmake make g++; do
  command -v "$tool" >/dev/null || { echo "build_msgs: '$tool' not found; install cmake, make and g++" >&2; exit 2; }
done
if [[ ! -d "$VENV/share/rosidl_default_generators" ]]; then
  echo "build_msgs: $VENV has no rosidl_default_generators; pip install -r requirements-ros.txt first" >&2
  exit 2
fi

# 1. Patch the hard-coded include paths (only files that still hold them are rewritten).
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INCLUDE="$("$PY" -c 'import numpy; print(numpy.get_include())')"
patched=0
shopt -s nullglob
for f in "$VENV"/share/*/cmake/*rosidl_generator_py*.cmake; do
  if grep -qE '/opt/python/cp[0-9]+-cp[0-9]+/(include|lib)' "$f"; then
    sed -i -E \
      -e "s#/opt/python/cp[0-9]+-cp[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#${NP_INCLUDE}#g" \
      -e "s#/opt/python/cp[0-9]+-cp[0-9]+/include/python3\.[0-9]+#${PY_INCLUDE}#g" \
      "$f"
    patched=$((patched + 1))
  fi
done
shopt -u nullglob
echo "build_msgs: patched include paths in $patched cmake file(s) (python: $PY_INCLUDE, numpy: $NP_INCLUDE)"

# 2. Configure, build, install. The venv's bin first on PATH so rosidl's generators run with it.
export PATH="$VENV/bin:$PATH"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
mkdir -p "$BUILD"
cmake -S "$REPO/stae_msgs" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$PY" \
  -DSTAE_MSG_ROOT="$REPO" \
  -DBUILD_TESTING=OFF >"$BUILD/configure.log" 2>&1 \
  || { tail -n 40 "$BUILD/configure.log" >&2; echo "build_msgs: cmake configure failed (log: $BUILD/configure.log)" >&2; exit 1; }
cmake --build "$BUILD" -j "$JOBS" >"$BUILD/build.log" 2>&1 \
  || { tail -n 40 "$BUILD/build.log" >&2; echo "build_msgs: build failed (log: $BUILD/build.log)" >&2; exit 1; }
cmake --install "$BUILD" >"$BUILD/install.log" 2>&1 \
  || { tail -n 40 "$BUILD/install.log" >&2; echo "build_msgs: install failed (log: $BUILD/install.log)" >&2; exit 1; }

# 3. Check the result imports in a fresh interpreter.
"$PY" -c 'from stae_msgs.msg import SemanticClip, ActionLabel, LinkStats, BudgetCommand; print("build_msgs: stae_msgs OK:", ", ".join(m.__name__ for m in (SemanticClip, ActionLabel, LinkStats, BudgetCommand)))'
