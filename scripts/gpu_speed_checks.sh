#!/usr/bin/env bash
# The decoder step on a CUDA GPU with and without torch.compile (and fp32 vs bf16): one
# training step on a synthetic batch per configuration, each in a fresh process
# (python -m kokoro_nb.stepbench). Results, one JSON line each, go to $OUT/speed-cuda.jsonl.
#
#   OUT=/tmp/out SHAPE=100x400 BATCH=16 bash scripts/gpu_speed_checks.sh
set -uo pipefail
SHAPE="${SHAPE:-100x400}"
BATCH="${BATCH:-16}"
source "$(dirname "$0")/gpu_env.sh"
run() {  # preset precision [--compile]
    python3 -m kokoro_nb.stepbench --device cuda --shape "$SHAPE" --batch-size "$BATCH" \
        --repeats 5 --warmup 2 --preset "$1" --precision "$2" "${@:3}" \
        >> "$OUT/speed-cuda.jsonl" 2>> "$OUT/speed-cuda.log" || echo "failed: $*" | tee -a "$OUT/speed-cuda.log"
    tail -n 1 "$OUT/speed-cuda.jsonl"
}
for preset in default demo; do
    run "$preset" bf16
    run "$preset" bf16 --compile
done
run default fp32
run default fp32 --compile
