#!/usr/bin/env bash
# The main job: installs what is missing, builds only the freshet binary, and runs the tweet
# pipeline (examples/tweets.yaml: a tweet producer -> Kinesis -> Firehose -> GZIP objects by
# hour in a bucket) on 127.0.0.1:4567 with its data under ./data.
#
#   scripts/run.sh                          # the tweet pipeline
#   scripts/run.sh path/to/pipeline.yaml    # another pipeline file
#   scripts/run.sh --dry-run                # print the plan only (other flags go to freshet up)
#
# FRESHET_LISTEN and FRESHET_DATA_DIR override the listen address and the data directory.
# The modules list is the one scripts/test.sh builds: cli needs all of them; only the binary's
# targets are built here (no tests, no benchmarks), with the `run` preset (build/run: -O1, -Og
# off the data path, no debug info, a unity build, no `freshet bench`), which builds from
# nothing in a fraction of the release preset's time (docs/performance.md, "Cold build of the
# main job"; bench/cold_start.sh measures it).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
export CMAKE_CXX_COMPILER_LAUNCHER="${CMAKE_CXX_COMPILER_LAUNCHER:-$(command -v ccache || true)}"
modules=$(sed -n 's/.*-DFRESHET_MODULES="\([^"]*\)".*/\1/p' scripts/test.sh | head -1)
cmake --preset run -DFRESHET_MODULES="$modules" >/dev/null
cmake --build --preset run -j "$(nproc)" --target freshet

file=examples/tweets.yaml
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then file=$1; shift; fi
exec ./build/run/freshet up "$file" --listen "${FRESHET_LISTEN:-127.0.0.1:4567}" \
  --data-dir "${FRESHET_DATA_DIR:-data}" "$@"
