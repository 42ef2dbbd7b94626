#!/usr/bin/env bash
# clang-tidy on the C++ sources a change touched (default: the commits since BASE=HEAD~5, or
# every source file with --all), with the checks in .clang-tidy. A finding of the checks
# listed in GATE in the storage core (src/common, src/log, src/stream: GATED_DIRS) fails the
# run; findings elsewhere, and of the other checks, are printed as advice. Widen GATED_DIRS
# as modules are checked clean. Needs build/release/compile_commands.json (scripts/test.sh makes it).
#   scripts/tidy.sh [--all | BASE]
set -euo pipefail
cd "$(dirname "$0")/.."

GATE='bugprone-use-after-move,bugprone-dangling-handle,bugprone-undefined-memory-manipulation,clang-analyzer-core.*,clang-analyzer-cplusplus.*,clang-analyzer-unix.*,performance-move-const-arg'
db=build/release
if [ ! -f "$db/compile_commands.json" ]; then
  echo "tidy: no $db/compile_commands.json (build the release preset first)" >&2
  exit 2
fi
if [ "${1:-}" = "--all" ]; then
  mapfile -t files < <(git ls-files 'src/*.cc')
else
  base=${1:-HEAD~5}
  git rev-parse -q --verify "$base" >/dev/null || base=$(git rev-list --max-parents=0 HEAD)
  # At most the 8 most recently changed files, so that the test script stays fast.
  mapfile -t files < <(git log --name-only --diff-filter=AM --format= "$base"..HEAD -- 'src/*.cc' |
                       awk 'NF && !seen[$0]++' | head -8)
fi
# Only files the build knows (a module left out of FRESHET_MODULES has no compile command).
known=()
for f in "${files[@]}"; do
  if grep -q "\"file\": \"[^\"]*/$f\"" "$db/compile_commands.json"; then known+=("$f"); fi
done
if [ ${#known[@]} -eq 0 ]; then
  echo "tidy: no changed source files"
  exit 0
fi
echo "tidy: ${#known[@]} files (errors: $GATE)"
start=$(date +%s)
printf '%s\n' "${known[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$db" --quiet --warnings-as-errors="$GATE" \
    2>/dev/null | grep -E '(warning|error):' | sort -u > /tmp/freshet-tidy.$$ || true
# Only the gate's checks count: clang's own parse errors on GCC-only code
# ([clang-diagnostic-error]) are not findings.
GATED_DIRS=${GATED_DIRS:-'src/(common|log|stream)/|include/freshet/(common|log|stream)/'}
grep 'error:' /tmp/freshet-tidy.$$ | grep -v 'clang-diagnostic-error' |
  grep -E "$GATED_DIRS" > /tmp/freshet-tidy-errors.$$ || true
grep 'error:' /tmp/freshet-tidy.$$ | grep -v 'clang-diagnostic-error' | grep -vE "$GATED_DIRS" |
  sed 's/^/advice: /' || true
errors=$(wc -l < /tmp/freshet-tidy-errors.$$)
warnings=$(grep -c 'warning:' /tmp/freshet-tidy.$$ || true)
cat /tmp/freshet-tidy-errors.$$
rm -f /tmp/freshet-tidy-errors.$$
echo "tidy: $errors errors, $warnings advisory warnings in $(( $(date +%s) - start ))s"
rm -f /tmp/freshet-tidy.$$
[ "$errors" -eq 0 ]
