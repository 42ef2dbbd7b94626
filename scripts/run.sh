#!/usr/bin/env bash
# Installs what is missing, builds the release binary and runs the main job:
# the Freshet server on 127.0.0.1:4567 with its data under ./data.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake --preset release -DFRESHET_MODULES="common;log;metrics;stream;table;objstore;delivery;api;api/kinesis;api/dynamodb;api/firehose;api/s3;node;cli" >/dev/null
cmake --build --preset release -j "$(nproc)"
exec ./build/release/freshet serve --listen "${FRESHET_LISTEN:-127.0.0.1:4567}" --data-dir "${FRESHET_DATA_DIR:-data}" "$@"
