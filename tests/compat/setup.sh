#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 used by the compatibility tests into
# tests/compat/js/node_modules, from js/package-lock.json. Idempotent: does nothing when the
# installed tree already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/js"

stamp=node_modules/.freshet-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules/@aws-sdk/client-kinesis ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "compat setup: @aws-sdk/client-kinesis already installed"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "compat setup: npm not found (install Node.js with npm: scripts/install-deps.sh)" >&2
  exit 1
fi
timeout 600 npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "compat setup: installed $(node -p 'require("./node_modules/@aws-sdk/client-kinesis/package.json").version')"
