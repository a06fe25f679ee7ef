#!/usr/bin/env bash
# Installs the Debian packages npm-mirror builds and tests with. Safe to run again: it installs only
# what is missing. Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail

packages=(
  pkg-config
  librdkafka-dev      # Kafka client (and its in-process mock cluster)
  libcurl4-openssl-dev
  libarchive-dev      # tarball inspection
  zlib1g-dev          # gzip/zlib
  libsqlite3-dev      # the embedded record database
  kcat                # talking to Kafka by hand
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all Debian packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
