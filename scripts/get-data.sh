#!/usr/bin/env bash
# Make Fashion-MNIST available offline. siamkit looks in $SIAMKIT_DATA, ~/.cache/siamkit/fashion-mnist
# and /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist package).
# As root: apt-get install; otherwise: apt-get download + dpkg -x into the user cache (no root needed).
set -euo pipefail
sys=/usr/share/datasets/fashion-mnist
cache="${HOME}/.cache/siamkit/fashion-mnist"
have() { [ -f "$1/train-images-idx3-ubyte.gz" ] && [ -f "$1/t10k-labels-idx1-ubyte.gz" ]; }
if have "$sys" || have "$cache" || { [ -n "${SIAMKIT_DATA:-}" ] && have "$SIAMKIT_DATA"; }; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null && exit 0
fi
if command -v apt-get >/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download dataset-fashion-mnist >/dev/null && dpkg -x dataset-fashion-mnist_*.deb root)
  mkdir -p "$cache"
  cp "$tmp"/root/usr/share/datasets/fashion-mnist/*.gz "$cache"/
  rm -rf "$tmp"
  exit 0
fi
echo "Fashion-MNIST not found: install Debian's dataset-fashion-mnist, or put the four IDX .gz files in $cache" >&2
exit 1
