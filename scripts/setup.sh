#!/usr/bin/env bash
# Installs everything pdiff needs on a fresh Debian machine (run as root):
# system packages (OpenBLAS for the blas backend, the Fashion-MNIST data set, a C toolchain),
# then the npm packages from package-lock.json, which also builds the OpenBLAS addon and dist/
# (and installs onnxruntime-node's CPU build, docs/export.md#onnx-runtime).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
pkgs="libopenblas-dev dataset-fashion-mnist g++ make python3 redis-server"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install:$missing" >&2; exit 1; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing
fi
# onnxruntime-node (optional) would fetch its CUDA provider from outside the npm registry on
# linux/x64; pdiff uses the CPU provider the package ships. .npmrc says the same for a plain npm ci.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
