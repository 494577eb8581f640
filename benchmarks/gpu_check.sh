#!/usr/bin/env bash
# The one prepared GPU check (a few minutes): the cuda backend's cases on the real device (loop
# kernels included: loop_rk4, loop_scan_ys, loop_while; loops carrying arrays as launches per
# step: array_carry_loops), the PTX and simulator tests, then benchmarks/bench_gpu.py; a summary
# at the end.
#
#   bash benchmarks/gpu_check.sh          # from anywhere; figures go to $OUT (or a temp dir)
#
# Needs an NVIDIA GPU with numba and numba-cuda installed; pytest/hypothesis are optional (their
# steps are skipped, with a note, when missing). Exit status 0 only when every step that ran
# passed. Nothing here installs anything or changes the GPU's settings.
set -u
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset NUMBA_ENABLE_CUDASIM
PY=${PYTHON:-python}
OUT=${OUT:-$(mktemp -d -t symnum-gpu-check-XXXX)}
mkdir -p "$OUT"
declare -a SUMMARY=()
status=0

step() {  # step NAME TIMEOUT_S CMD... : run, log to $OUT/NAME.log, record the outcome
    local name=$1 limit=$2; shift 2
    local t0=$SECONDS
    echo; echo "=== $name: $*"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    local took=$((SECONDS - t0))
    case $rc in
        0) SUMMARY+=("PASS  $name (${took}s)") ;;
        3) SUMMARY+=("SKIP  $name: no GPU (${took}s)") ;;
        124) SUMMARY+=("FAIL  $name: timed out after ${limit}s"); status=1 ;;
        *) SUMMARY+=("FAIL  $name: exit $rc (${took}s), see $OUT/$name.log"); status=1 ;;
    esac
}

echo "=== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv \
    2>/dev/null || echo "nvidia-smi not available"
"$PY" - <<'PY'
import importlib.metadata as md, platform
for d in ("numpy", "numba", "numba-cuda", "cuda-bindings", "cuda-core", "pytest", "hypothesis"):
    try:
        print(f"{d} {md.version(d)}", end="; ")
    except md.PackageNotFoundError:
        print(f"{d} (missing)", end="; ")
print(f"Python {platform.python_version()}")
PY

# 1. every case of tests/_cuda_sim_cases.py on the device (exit 3: no GPU)
step gpu_cases 200 "$PY" tests/_cuda_sim_cases.py --examples 8

# 2. PTX → cubin and simulator tests (the GPU cases above are not run twice)
if "$PY" -c "import pytest, hypothesis" 2>/dev/null; then
    step pytest_cuda 120 "$PY" -m pytest -q -p no:cacheprovider tests/test_cuda_ptx.py \
        tests/test_cuda_sim.py -k "not real_gpu"
else
    SUMMARY+=("SKIP  pytest_cuda: pytest or hypothesis not installed")
fi

# 3. the benchmark (figures also in $OUT/bench_gpu.json); its last rows are the loop kernel (10⁵
#    RK4 integrations of 1,000 steps vs the llvm CPU kernel: two CPU calls of a few seconds) and
#    the heat equation as a loop carrying an array (10⁵–10⁷ points, 100 and 1,000 steps, one
#    launch per step; the llvm CPU reference takes ~15 s of it)
step bench_gpu 420 "$PY" benchmarks/bench_gpu.py --json "$OUT/bench_gpu.json"

echo; echo "=== summary (logs in $OUT)"
printf '%s\n' "${SUMMARY[@]}"
tail -n 1 "$OUT/gpu_cases.log" > "$OUT/gpu_cases.json" 2>/dev/null || true
exit $status
