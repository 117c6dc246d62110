#!/usr/bin/env bash
# The GPU checks of torchrun training and of the current default preset, in one run on a
# CUDA machine with one GPU (about 7 minutes):
#   1. torchrun with one process on CUDA (nccl): train, resume under torchrun, resume in a
#      plain process; the bench's training section under torchrun;
#   2. `bench` on CUDA: training step time and memory for both presets, batch 8 and 16, fp32
#      and bf16; synthesis real-time factors;
#   3. the synthetic 100x400 step: the demo preset in fp32 with and without torch.compile,
#      and the default preset with --checkpoint-attention (bf16);
#   4. a short default-preset training on the demo corpus.
# Everything goes to $OUT (default ./gpu_checks); all.log holds the console output. Python
# packages missing there can be put as wheels in .whl/.
#
#   OUT=/tmp/out TRAIN_MINUTES=1.5 bash scripts/gpu_ddp_checks.sh
set -uo pipefail
TRAIN_MINUTES="${TRAIN_MINUTES:-1.5}"
source "$(dirname "$0")/gpu_env.sh"
exec > >(tee -a "$OUT/all.log") 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda, 'gpus', torch.cuda.device_count())"
CORPUS=kokoro_nb/data/demo_corpus
COMMON=(--corpus "$CORPUS" --preset demo --batch-size 16 --device cuda --no-progress --save-every 5)

echo "== 1. torchrun, one process on CUDA"
RUN=/tmp/ddp_run
rm -rf "$RUN"
start=$(date +%s.%N)
timeout 120 torchrun --standalone --nproc_per_node 1 -m kokoro_nb train "${COMMON[@]}" \
    --output "$RUN" --epochs 1000 --max-steps 40 2>&1 | grep -v "kokoro_nb.corpus"
echo "exit ${PIPESTATUS[0]}; $(python3 -c "print(round($(date +%s.%N) - $start, 1))") s"
timeout 120 torchrun --standalone --nproc_per_node 1 -m kokoro_nb train --output "$RUN" \
    --resume auto --max-steps 60 --no-progress 2>&1 | grep -E "Resum|rank|saved|Stopping|Error|error"
echo "exit ${PIPESTATUS[0]}"
timeout 120 python3 -m kokoro_nb train --output "$RUN" --resume auto --max-steps 80 \
    --no-progress 2>&1 | grep -E "Resum|rank|saved|Stopping|Error|error"
echo "exit ${PIPESTATUS[0]}"
python3 - "$RUN" <<'EOF'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1] + "/metrics.jsonl")]
steps = [r["step"] for r in records if r["type"] == "train"]
print("steps", steps[0], "..", steps[-1], "contiguous:", steps == list(range(1, steps[-1] + 1)))
print("val", [(r["step"], round(r["focus_rate"], 3), round(r["diagonality"], 3)) for r in records if r["type"] == "val"])
EOF
timeout 150 torchrun --standalone --nproc_per_node 1 -m kokoro_nb bench --only training \
    --device cuda --preset default --preset demo --batch-size 16 > "$OUT/bench-cuda-torchrun.json"
echo "exit $?"

echo "== 2. bench on cuda: training and synthesis"
timeout 240 python3 -m kokoro_nb bench --device cuda --only training --only synthesis \
    > "$OUT/bench-cuda.json"
echo "exit $?"

echo "== 3. the 100x400 step"
run() {  # preset precision [flags]
    timeout 100 python3 -m kokoro_nb.stepbench --device cuda --shape 100x400 --batch-size 16 \
        --repeats 5 --warmup 2 --preset "$1" --precision "$2" "${@:3}" \
        >> "$OUT/speed-cuda.jsonl" || echo "failed: $*"
    tail -n 1 "$OUT/speed-cuda.jsonl"
}
run demo fp32
run demo fp32 --compile
run default bf16 --checkpoint-attention

echo "== 4. default preset, demo corpus, $TRAIN_MINUTES minutes"
RUN=/tmp/gpu_default_run
rm -rf "$RUN"
timeout 200 python3 -m kokoro_nb train --corpus "$CORPUS" --output "$RUN" --preset default \
    --batch-size 16 --epochs 100000 --save-every 10 --max-minutes "$TRAIN_MINUTES" \
    --device cuda --no-progress 2>&1 | grep -E "Validation|Stopping" | tail -4
cp "$RUN/metrics.jsonl" "$OUT/train-default-metrics.jsonl" 2>/dev/null
last_png=$(ls -v "$RUN"/alignment_epoch_*.png 2>/dev/null | tail -1)
[ -n "$last_png" ] && cp "$last_png" "$OUT/train-default-alignment.png"
echo "done"
