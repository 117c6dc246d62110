#!/usr/bin/env bash
# The GPU checks of docs/bench, in one run on a CUDA machine (about 10 minutes):
#   1. `bench` on CUDA: training step time and memory for both presets, batch 8 and 16,
#      fp32 and bf16; synthesis real-time factors; the operator profile of one step;
#   2. a short default-preset training on the demo corpus (validation curve, step times).
# Results go to $OUT (default ./gpu_checks): bench JSON, the training log, metrics.jsonl and
# the last alignment PNG. Python packages missing there can be put as wheels in .whl/.
#
#   OUT=/tmp/out TRAIN_MINUTES=3 bash scripts/gpu_checks.sh
set -uo pipefail
TRAIN_MINUTES="${TRAIN_MINUTES:-3}"
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)" | tee -a "$OUT/gpu.txt"

echo "== bench: training and synthesis on cuda"
python3 -m kokoro_nb bench --device cuda --only training --only synthesis \
    > "$OUT/bench-cuda.json" 2> "$OUT/bench-cuda.log"
echo "exit $?"
echo "== bench: profile on cuda"
python3 -m kokoro_nb bench --device cuda --only profile --preset demo --preset default \
    > "$OUT/bench-cuda-profile.json" 2> "$OUT/bench-cuda-profile.log"
echo "exit $?"

echo "== default preset, demo corpus, $TRAIN_MINUTES minutes"
RUN=/tmp/gpu_default_run
rm -rf "$RUN"
python3 -m kokoro_nb train --corpus kokoro_nb/data/demo_corpus --output "$RUN" \
    --preset default --batch-size 16 --epochs 100000 --save-every 10 \
    --max-minutes "$TRAIN_MINUTES" --device cuda --no-progress > "$OUT/train-default.log" 2>&1
echo "exit $?"
cp "$RUN/metrics.jsonl" "$OUT/train-default-metrics.jsonl" 2>/dev/null
last_png=$(ls -v "$RUN"/alignment_epoch_*.png 2>/dev/null | tail -1)
[ -n "$last_png" ] && cp "$last_png" "$OUT/train-default-alignment.png"
tail -5 "$OUT/train-default.log"
