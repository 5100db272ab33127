#!/usr/bin/env bash
# Runs the standard calibration (GEMM sweep of the shared gemm.csv / gemm_m.csv shapes,
# memory-bound kernels, sustained run) on a lent GPU machine and writes everything
# under $OUT. Prepared on a machine without a GPU; see calibration/README.md.
#
# Build here first, then carry the binary (the device machine has no Rust toolchain):
#   cargo build --release -p llmplan-calibrate
#   run: command="bash calibration/run-on-device.sh", carry=["target/release/llmplan-calibrate"]
#
# Environment: OUT (required on the device tool; defaults to a temp folder elsewhere),
# SUSTAINED_S (default 20), QUICK=1 for a ~1-minute smoke run, BIN to use another binary.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-target/release/llmplan-calibrate}
OUT=${OUT:-$(mktemp -d)}
SUSTAINED_S=${SUSTAINED_S:-20}
mkdir -p "$OUT"

# libcublasLt and libnvrtc come from python3's nvidia wheels (nvidia/cu13/lib); libnvrtc
# dlopens libnvrtc-builtins by bare name, so that folder must be on the loader path
# itself. libcuda comes with the driver.
libdirs=()
while IFS= read -r d; do
  [ -d "$d/nvidia/cu13/lib" ] && libdirs+=("$d/nvidia/cu13/lib")
done < <(python3 -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
libdirs+=(/usr/local/cuda/lib64)
LD_LIBRARY_PATH="$(IFS=:; echo "${libdirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv || true
"$BIN" info | tee "$OUT/info.json"

quick=()
[ "${QUICK:-0}" = 1 ] && quick=(--quick)
start=$(date +%s)
"$BIN" all --out-root "$OUT" --sustained-s "$SUSTAINED_S" "${quick[@]}" 2>&1 | tee "$OUT/run.log"
echo "calibration took $(( $(date +%s) - start )) s" | tee -a "$OUT/run.log"

# Compare with the shared PyTorch measurements (H100 80GB HBM3) wherever rows match.
for dir in "$OUT"/*/; do
  [ -f "$dir/gemm.csv" ] || continue
  "$BIN" compare "$dir" hardware-profiles/calibration/h100-sxm | tee "$dir/compare-h100-sxm.txt" || true
done
