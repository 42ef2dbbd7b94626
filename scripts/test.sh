#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: once in the release build, once with
# AddressSanitizer + UndefinedBehaviorSanitizer. Usage: scripts/test.sh [--release-only]
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

jobs=$(nproc)
run_preset() {
  local preset=$1
  echo "== configure and build: $preset"
  cmake --preset "$preset" -DFRESHET_MODULES="common;log;metrics;stream;table;objstore;delivery;api;api/kinesis;api/dynamodb;api/firehose;api/s3;cli" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== test: $preset"
  ctest --preset "$preset" -j "$jobs" --timeout 600
}

run_preset release
if [ "${1:-}" != "--release-only" ]; then
  run_preset debug
fi
echo "== all tests passed"
