#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once in the release build, once with
# AddressSanitizer + UndefinedBehaviorSanitizer; then the log and stream tests with
# ThreadSanitizer, and clang-tidy on the sources the last commits changed (scripts/tidy.sh).
# Usage: scripts/test.sh [--release-only]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
# ccache (from install-deps.sh) with paths relative to the repository, so that a fresh clone
# reuses what an earlier build of the same sources compiled; a cold cache changes nothing.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER="${CMAKE_CXX_COMPILER_LAUNCHER:-ccache}"
  export CMAKE_C_COMPILER_LAUNCHER="${CMAKE_C_COMPILER_LAUNCHER:-ccache}"
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
fi
run_preset() {
  local preset=$1
  echo "== configure and build: $preset"
  cmake --preset "$preset" -DFRESHET_MODULES="common;log;metrics;stream;table;objstore;delivery;process;api;api/kinesis;api/dynamodb;api/firehose;api/s3;api/lambda;api/cloudwatch;dashboard;node;produce;pipeline;cli" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== test: $preset"
  ctest --preset "$preset" -j "$jobs" --timeout 600
}

run_preset release
# The main job's binary (scripts/run.sh) is a unity build: check that it still builds, and that
# it reads the example pipeline. (The modules are run_preset's list, read back as run.sh does.)
echo "== configure and build: run (the main job's unity build)"
run_modules=$(sed -n 's/.*-DFRESHET_MODULES=.\([^"]*\)".*/\1/p' scripts/test.sh | head -1)
cmake --preset run -D "FRESHET_MODULES=$run_modules" >/dev/null
cmake --build --preset run -j "$jobs" --target freshet
run_check_dir=$(mktemp -d)
./build/run/freshet up examples/tweets.yaml --dry-run --data-dir "$run_check_dir/data" >/dev/null
rm -rf "$run_check_dir"
echo "== clang-tidy: sources changed by the last 3 commits"
./scripts/tidy.sh HEAD~3
if [ "${1:-}" != "--release-only" ]; then
  run_preset debug
  # ThreadSanitizer on the modules with the most threads and locks (group commit, engine).
  echo "== configure and build: tsan (common, log, metrics, stream)"
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j "$jobs"
  echo "== test: tsan"
  ctest --preset tsan -j "$jobs" --timeout 600
fi
echo "== all tests passed"
