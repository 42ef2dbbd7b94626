#!/usr/bin/env bash
# Installs playwright-core (pinned in package-lock.json) for the dashboard test into
# tests/compat/dashboard/node_modules. Idempotent. The browser is Debian's chromium
# (scripts/install-deps.sh); playwright-core downloads nothing.
set -euo pipefail
cd "$(dirname "$0")"
stamp=node_modules/.freshet-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules/playwright-core ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "dashboard setup: playwright-core already installed"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "dashboard setup: npm not found (scripts/install-deps.sh)" >&2
  exit 1
fi
timeout 600 npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "dashboard setup: installed playwright-core $(node -p 'require("./node_modules/playwright-core/package.json").version')"
