#!/usr/bin/env bash
# Installs the AWS SDK for JavaScript v3 DynamoDB packages used by the DynamoDB compatibility
# tests into tests/compat/js-dynamodb/node_modules, from package-lock.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.freshet-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules/@aws-sdk/lib-dynamodb ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "compat setup: @aws-sdk/lib-dynamodb already installed"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "compat setup: npm not found (install Node.js with npm: scripts/install-deps.sh)" >&2
  exit 1
fi
timeout 600 npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "compat setup: installed @aws-sdk/lib-dynamodb $(node -p 'require("./node_modules/@aws-sdk/lib-dynamodb/package.json").version')"
