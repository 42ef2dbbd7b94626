#!/usr/bin/env bash
# Installs every Debian package Freshet's build and tests need. Idempotent: installs only
# what is missing, and touches nothing outside Debian's package archive.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libboost1.81-dev
  libsimdjson-dev
  libssl-dev zlib1g-dev libzstd-dev libsnappy-dev liblz4-dev libdeflate-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libnghttp2-dev
  libjemalloc-dev
  libcurl4-openssl-dev
  librocksdb-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang-format clang-tidy
  python3 python3-cbor2 python3-boto3
  # tests/compat: decompress delivered Firehose objects (Snappy, ZSTD).
  python3-snappy python3-zstandard
  curl
  # tests/compat: AWS CLI v2 (/usr/bin/aws), pytest for /usr/bin/python3, Node.js for the
  # AWS SDK for JavaScript v3 (npm comes with this machine's nodejs package).
  awscli python3-pytest nodejs
  # tests/compat/test_cloudwatch_dashboard.py: the dashboard in headless Chromium
  # (driven by playwright-core from npm, tests/compat/dashboard/package-lock.json).
  chromium
  # tests/compat/test_prometheus.py: /metrics through a real Prometheus text parser and
  # scraped by Debian's Prometheus server.
  python3-prometheus-client prometheus
)

# npm: this machine's nodejs (NodeSource) ships it; Debian's own nodejs needs the npm package.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
