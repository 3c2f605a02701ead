#!/bin/bash
# Packs what scripts/gpu/run.sh needs on a GPU machine that has no Node.js, no npm and no
# internet into .gpu/ (git-ignored; about 60 MB): the node binary, pdiff compiled to JavaScript
# (src/ and bench/), the production npm packages with Dawn (npm `webgpu`) for linux-x64 only,
# Fashion-MNIST, Debian's Vulkan/GL loader packages, and the summary of a CPU run of the default
# config ($REF, default runs/blas-default) to compare the GPU run with. Run it here after scripts/setup.sh:
#
#   bash scripts/gpu/pack.sh            # then, on the GPU machine: bash scripts/gpu/run.sh
#
# With the device tool: run(command="bash scripts/gpu/run.sh", carry=[".gpu"]).
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpu
rm -rf "$G.tmp"; mkdir -p "$G.tmp"
say() { echo "[gpu pack] $*" >&2; }

say "compiling src/ and bench/ to $G/app"
npx tsc -p scripts/gpu/tsconfig.json --outDir "$G.tmp/app"
mkdir -p "$G.tmp/app/bench/torch" && cp bench/torch/*.py "$G.tmp/app/bench/torch/"
# the CLI reads its version from ../../package.json (here: app/package.json)
node -e 'const p = require("./package.json"); console.log(JSON.stringify({ name: p.name, version: p.version, type: "module", private: true }))' > "$G.tmp/app/package.json"

say "production npm packages (webgpu for linux-x64 only)"
# every installed package npm counts as a production dependency, as paths relative to the root
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | sed "s|^$(pwd)/||" | grep '^node_modules/' | sort -u > "$G.tmp/modules.txt"
grep -q '^node_modules/webgpu$' "$G.tmp/modules.txt" || { say "the optional package webgpu is not installed: run scripts/setup.sh first"; exit 1; }
tar -cf - --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' -T "$G.tmp/modules.txt" | xz -T2 -6 > "$G.tmp/node_modules.tar.xz"

say "node $(node --version)"
xz -T2 -6 -c "$(command -v node)" > "$G.tmp/node.xz"

say "Fashion-MNIST"
mkdir -p "$G.tmp/fashion-mnist"
for f in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do   # xz packs the raw IDX bytes ~15 % smaller than gzip
  zcat "$f" | xz -T2 -9 > "$G.tmp/fashion-mnist/$(basename "$f" .gz).xz"
done

REF=${REF:-runs/blas-default}
if [ -f "$REF/summary.json" ]; then
  say "CPU reference run $REF (summary, config, test-set size) for pdiff compare there"
  mkdir -p "$G.tmp/ref/eval"
  cp "$REF/summary.json" "$REF/config.json" "$G.tmp/ref/"
  if [ -f "$REF/eval/original.preds.safetensors" ]; then
    xz -T2 -9 -c "$REF/eval/original.preds.safetensors" > "$G.tmp/ref/eval/original.preds.safetensors.xz"
  fi
else
  say "no CPU reference run at $REF (REF=...): run.sh will not compare"
fi

say "Vulkan / GL loader packages"
mkdir -p "$G.tmp/debs"
(cd "$G.tmp/debs" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)

# what was packed and when: run.sh unpacks again whenever this line changes
echo "$(git describe --always --dirty 2>/dev/null || echo unknown) packed $(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$G.tmp/commit"
rm -f "$G.tmp/modules.txt"
rm -rf "$G"; mv "$G.tmp" "$G"
say "done: $(du -sh "$G" | cut -f1) in $G ($(ls "$G" | tr '\n' ' '))"
