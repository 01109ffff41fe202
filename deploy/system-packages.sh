#!/usr/bin/env bash
# Install the Debian packages the platform needs, only those missing.
# Usage: deploy/system-packages.sh up|test   (up: what `make up` runs on; test: plus what tests use)
set -euo pipefail

want=(postgresql redis-server)              # the services' databases; the gateway's rate limits
want+=(fonts-wqy-microhei)                  # the Chinese font credits embeds in certificate PDFs
command -v java >/dev/null 2>&1 || want+=(openjdk-17-jre-headless)   # Kafka
command -v mvn >/dev/null 2>&1 || want+=(maven)                       # Kafka's jars
if [ "${1:-up}" = test ]; then
  # browser tests (their screenshots use the CJK font above too), proxy benchmark
  want+=(chromium nginx)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "[tanhui] missing Debian packages: ${missing[*]}; install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "[tanhui] installing Debian packages: ${missing[*]} (apt-get; a minute or two the first time)..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these as system services on install; the platform runs its own on other ports.
for svc in redis-server nginx postgresql; do
  if [[ " ${missing[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop "$svc" >/dev/null 2>&1 || true
  fi
done
echo "[tanhui] Debian packages installed."
