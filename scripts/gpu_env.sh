# Sourced by the scripts/gpu_*.sh checks: $OUT made, unbuffered Python, and the wheels in
# .whl/ (packages the GPU machine lacks) installed into /tmp/site and put on PYTHONPATH.
OUT="${OUT:-./gpu_checks}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD"
fi
