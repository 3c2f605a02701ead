#!/bin/bash
# pdiff on a GPU machine that may have no Node.js: unpacks .gpu/ (made here by
# scripts/gpu/pack.sh), then runs on the webgpu backend
#   engine    npm run bench -- engine --backend webgpu (sgemm GFLOP/s, cnn-s/AE/denoiser train
#             step ms) and, where PyTorch is importable, the same steps on CUDA, for the ratio;
#   pipeline  pdiff run of $PRESET (default fmnist-bn: the default config) on the full
#             Fashion-MNIST, printing each stage's seconds; rerunning resumes it ($RUN_DIR);
#             then `pdiff compare` against the packed CPU run of the same config, if any.
#   check     only the set-up: unpack, the adapter the webgpu backend opens, PyTorch's device.
# Usage: bash scripts/gpu/run.sh [check] [engine] [pipeline] [cpu-engine]   (default: engine pipeline)
# Env: OUT (logs and results; default /tmp/pdiff-gpu-out), PRESET, RUN_DIR, SETS (extra
# --set k=v words for the pipeline), BENCH_STEPS, BENCH_SGEMM_N, SKIP_DEBS=1 (do not unpack the
# Vulkan/GL loader packages into /, e.g. on the development machine), W (unpack folder),
# PDIFF_TORCH_PYTHON (the python3 with PyTorch; found on PATH when /usr/bin/python3 lacks it).
# Every figure also lands in $OUT as JSON: engine-webgpu.json, pipeline.json, stages.json, compare.json.
set -u -o pipefail
R=$(cd "$(dirname "$0")/../.." && pwd)
G=$R/.gpu
[ -f "$G/commit" ] || { echo "run.sh: $G is missing or incomplete: run 'bash scripts/gpu/pack.sh' first (and carry .gpu)" >&2; exit 2; }
OUT=${OUT:-/tmp/pdiff-gpu-out}; mkdir -p "$OUT"
W=${W:-/tmp/pdiff-gpu}
PRESET=${PRESET:-fmnist-bn}
RUN_DIR=${RUN_DIR:-$W/runs/$PRESET}
WHAT=${*:-engine pipeline}
T0=$(date +%s)
say() { echo "== [gpu +$(( $(date +%s) - T0 )) s] $*"; }

say "host $(uname -srm); $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
if [ ! -x "$W/node" ] || [ "$(cat "$W/commit" 2>/dev/null)" != "$(cat "$G/commit")" ]; then
  say "unpacking .gpu ($(cat "$G/commit")) into $W"
  rm -rf "$W"; mkdir -p "$W"
  if [ "${SKIP_DEBS:-0}" != 1 ] && ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for f in "$G"/debs/*.deb; do dpkg -x "$f" /; done; ldconfig
  fi
  xz -dc "$G/node.xz" > "$W/node" && chmod +x "$W/node"
  cp -r "$G/app" "$W/app" && tar -xJf "$G/node_modules.tar.xz" -C "$W/app"
  mkdir -p "$W/fashion-mnist"
  for f in "$G"/fashion-mnist/*.xz; do xz -dc "$f" > "$W/fashion-mnist/$(basename "$f" .xz)"; done
  if [ -d "$G/ref" ]; then
    cp -r "$G/ref" "$W/ref"
    for f in "$W"/ref/eval/*.xz; do [ -f "$f" ] && xz -d "$f"; done
  fi
  cp "$G/commit" "$W/commit"
fi
# the NVIDIA driver's Vulkan ICD and EGL vendor files (container layout of ../shared/gpu)
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$f" ]; then export VK_DRIVER_FILES=$f; break; fi
done
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export PATH="$W:$PATH"
cd "$W/app"
"$W/node" --version >/dev/null || { echo "run.sh: the unpacked node does not run" >&2; exit 10; }
say "node $("$W/node" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
if ! PDIFF_BACKEND=webgpu node src/cli/main.js backend | tee "$OUT/backend.txt"; then
  echo "run.sh: the webgpu backend does not start here (see above)" >&2; exit 11
fi
# PyTorch for the CUDA baseline: Debian's python3 by default, else the first python3 on PATH that has it
if [ -z "${PDIFF_TORCH_PYTHON:-}" ] && ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  for py in $(command -v -a python3 2>/dev/null); do
    if "$py" -c 'import torch' 2>/dev/null; then export PDIFF_TORCH_PYTHON=$py; break; fi
  done
fi
say "PyTorch baseline: ${PDIFF_TORCH_PYTHON:-/usr/bin/python3} ($(${PDIFF_TORCH_PYTHON:-/usr/bin/python3} -c 'import torch; print(torch.__version__, "cuda" if torch.cuda.is_available() else "no cuda")' 2>/dev/null || echo 'not importable'))"
rc=0
for what in $WHAT; do
  case $what in
    engine|cpu-engine)
      be=webgpu; [ "$what" = cpu-engine ] && be=auto
      say "engine benchmark (--backend $be)"
      if node bench/index.js engine --backend $be > "$OUT/engine-$be.json" 2> "$OUT/engine-$be.err"; then
        tail -1 "$OUT/engine-$be.json"
      else rc=1; tail -20 "$OUT/engine-$be.err"; fi ;;
    pipeline)
      say "pipeline: pdiff run --preset $PRESET --backend webgpu --out $RUN_DIR"
      # shellcheck disable=SC2086
      node src/cli/main.js run --preset "$PRESET" --backend webgpu --out "$RUN_DIR" \
        --set "data.dir=\"$W/fashion-mnist\"" ${SETS:-} --json > "$OUT/pipeline.json" 2> >(tee "$OUT/pipeline.err" >&2) || rc=1
      # per-stage seconds from the run folder's stage markers
      node -e '
        const fs = require("fs"), d = process.argv[1] + "/stages", out = {};
        for (const f of fs.existsSync(d) ? fs.readdirSync(d) : []) {
          const m = JSON.parse(fs.readFileSync(d + "/" + f, "utf8"));
          out[f.replace(/\.json$/, "") + "_s"] = m.seconds;
        }
        console.log(JSON.stringify(out));' "$RUN_DIR" | tee "$OUT/stages.json"
      [ -f "$RUN_DIR/report.md" ] && cp "$RUN_DIR/report.md" "$RUN_DIR/summary.json" "$OUT/"
      # the same config on the CPU (packed by pack.sh), side by side with this run
      # (an unfinished run is compared on its finished evaluation groups)
      if { [ -f "$RUN_DIR/summary.json" ] || [ -f "$RUN_DIR/eval/original.json" ]; } && [ -f "$W/ref/summary.json" ]; then
        say "compare: CPU reference run vs this webgpu run"
        node src/cli/main.js compare "$W/ref" "$RUN_DIR" | tee "$OUT/compare.txt"
        node src/cli/main.js compare "$W/ref" "$RUN_DIR" --json > "$OUT/compare.json" || true
      fi ;;
    check) ;;
    *) echo "run.sh: unknown step '$what' (check, engine, pipeline, cpu-engine)" >&2; rc=2 ;;
  esac
done
say "done (rc $rc)"
exit $rc
