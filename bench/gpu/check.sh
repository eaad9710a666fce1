#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root; everything lands in $OUT.
#
#   OUT=/some/dir bench/gpu/check.sh [--staged bench/gpu/staged] [--cpu] [--flow-minutes M]
#                                    [--skip-serving]
#
# 1. joins the parts bench/gpu/stage.sh made, checks every wheel against SHA256SUMS, and
#    installs them (no index, no dependency resolution) into a venv that sees the machine's own
#    packages (--system-site-packages: torch and its nvidia-* CUDA libraries), then the package
#    itself (editable, built with the staged setuptools); LD_LIBRARY_PATH gets every
#    nvidia/*/lib folder on the venv's path, so onnxruntime-gpu finds CUDA 13, cuBLAS, cuDNN;
# 2. pytest -m requires_cuda on the GPU tests;
# 3. bench/bench_engines.py at 1280x720 (batches 1, 4, 8) on the fp32 model and on its fp16
#    copy (onnxruntime-cuda runs the file it is given; torch eager runs both precisions);
# 4. the real server (backend onnxruntime-cuda, require_gpu on) under bench/bench_service.py's
#    cameras on loopback: held frames/s and p99 latency per window, with nvidia-smi sampling
#    GPU utilisation every 200 ms meanwhile;
# 5. with --flow-minutes M (> 0): the flow network trained here for M minutes on the GPU
#    (training/configs/flow.toml; a development VM's CPU leaves it at zero motion), exported
#    into a copy of models/ under $OUT, and bench/bench_flow.py against DIS on that backend
#    (end-point errors, MIM L1+L_CR's PSNR and characters read on each, ms per 1280x720
#    window). Its run and files come back under $OUT/runs and $OUT/models.
# Each step's exit status goes to $OUT/steps.tsv and the run goes on; the script exits 1 when
# any step failed. --cpu: the same steps on the CPU backend with small sizes (the plumbing,
# where there is no GPU); without --staged it uses the current Python environment as it is.
set -uo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
: "${OUT:?set OUT to the folder for the results}"
mkdir -p "$OUT"
staged=""
cpu=0
flow_minutes=0
serving=1
while [ $# -gt 0 ]; do
    case "$1" in
        --staged) staged="$2"; shift 2 ;;
        --cpu) cpu=1; shift ;;
        --flow-minutes) flow_minutes="$2"; shift 2 ;;
        --skip-serving) serving=0; shift ;;
        *) echo "usage: OUT=DIR $0 [--staged DIR] [--cpu] [--flow-minutes M] [--skip-serving]" >&2
           exit 2 ;;
    esac
done
if [ "$cpu" = 1 ]; then
    backend=onnxruntime-cpu; require_gpu=false; size=64x48; cameras=1; fps=2; window=2
    windows=1; engine_args=(--quick --sizes 64x48 --rounds 1)
    flow_args=(--batch-size 2 --workers 1); flow_count=1
else
    backend=onnxruntime-cuda; require_gpu=true; size=1280x720; cameras=16; fps=15; window=10
    windows=4; engine_args=(--sizes 1280x720 --rounds 3)
    flow_args=(--batch-size 16 --workers 12); flow_count=20
    export NIGHTOWL_ALIGN_THREADS="${NIGHTOWL_ALIGN_THREADS:-8}"  # 720p flow for 16 cameras
fi
: > "$OUT/steps.tsv"
failed=0

step() {  # step NAME COMMAND...: run it, output to $OUT/NAME.log, status to steps.tsv
    local name="$1"; shift
    local start=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    local status=$?
    printf '%s\t%s\t%ss\n' "$name" "$status" "$((SECONDS - start))" >> "$OUT/steps.tsv"
    [ "$status" = 0 ] || failed=1
    return "$status"
}

install_staged() {
    local wheels="$OUT/wheels"
    mkdir -p "$wheels"
    cp "$staged"/wheels/*.whl "$wheels"/ 2>/dev/null
    for first in "$staged"/parts/*.part-aa; do
        [ -e "$first" ] || continue
        local wheel
        wheel="$(basename "${first%.part-aa}")"
        cat "${first%aa}"* > "$wheels/$wheel"
    done
    (cd "$wheels" && sha256sum -c "$staged/SHA256SUMS") || return 1
    python3 -m venv --system-site-packages "$OUT/venv" || return 1
    "$OUT/venv/bin/python" -m pip install --no-index --no-deps "$wheels"/*.whl || return 1
    "$OUT/venv/bin/python" -m pip install --no-index --no-deps --no-build-isolation -e . \
        || return 1
    rm -rf "$wheels"
}

python=python3
if [ -n "$staged" ]; then
    step install install_staged && python="$OUT/venv/bin/python"
fi
libs="$("$python" -c 'import glob, sys; print(":".join(sorted({d for p in sys.path for d in glob.glob(p + "/nvidia/*/lib")})))')"
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$python" - > "$OUT/environment.txt" 2>&1 <<'EOF'
import os, sys
import onnxruntime
print("python", sys.version.split()[0], sys.executable)
print("onnxruntime", onnxruntime.__version__, onnxruntime.get_available_providers())
print("LD_LIBRARY_PATH", os.environ.get("LD_LIBRARY_PATH", ""))
EOF

if [ "$serving" = 1 ]; then
    step pytest "$python" -m pytest -q -m requires_cuda -p no:cacheprovider \
        --junitxml="$OUT/pytest.xml" tests/service/engines/test_engines_gpu.py \
        tests/service/serving/test_enhance_service_gpu.py
    for model in mim_l1_cr.onnx mim_l1_cr.fp16.onnx; do
        [ "$cpu" = 1 ] && [ "$model" != mim_l1_cr.onnx ] && continue  # fp16 is a GPU format
        step "engines-${model%.onnx}" "$python" bench/bench_engines.py --model "$model" \
            "${engine_args[@]}" --json "$OUT/engines-${model%.onnx}.json"
    done

    smi=""
    if command -v nvidia-smi > /dev/null; then
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -lms 200 \
            > "$OUT/gpu-utilisation.csv" 2>&1 &
        smi=$!
    fi
    NIGHTOWL_BACKEND="$backend" NIGHTOWL_REQUIRE_GPU="$require_gpu" \
        step service "$python" bench/bench_service.py --cameras "$cameras" --fps "$fps" \
        --size "$size" --window "$window" --max-windows "$windows"
    [ -n "$smi" ] && kill "$smi"

fi

if [ "$flow_minutes" != 0 ]; then
    step flow-train "$python" -m nightowl.service.cli train training/configs/flow.toml \
        --out "$OUT/runs/flow" --max-minutes "$flow_minutes" "${flow_args[@]}" \
        && rm -rf "$OUT/models" && cp -r models "$OUT/models" \
        && step flow-export "$python" -m nightowl.service.cli export --runs "$OUT/runs" \
            --models "$OUT/models" --only flow \
        && step flow-bench "$python" bench/bench_flow.py --models "$OUT/models" \
            --count "$flow_count" --timing 3 --backend "$backend" --out "$OUT/flow.json"
fi

{
    echo "backend $backend, $cameras cameras x $fps fps at $size"
    cat "$OUT/steps.tsv"
    [ -s "$OUT/service.log" ] && grep -E "^window|agree|soak done" "$OUT/service.log"
    [ -s "$OUT/flow-bench.log" ] && grep -E "all|ms per" "$OUT/flow-bench.log"
    if [ -s "$OUT/gpu-utilisation.csv" ]; then
        awk -F', ' 'NR > 1 { gsub(/ %/, "", $1); n++; sum += $1; if ($1 > max) max = $1 }
            END { if (n) printf "GPU utilisation: mean %.0f%%, max %d%% over %d samples\n",
                  sum / n, max, n }' "$OUT/gpu-utilisation.csv"
    else
        echo "GPU utilisation: no nvidia-smi"
    fi
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
exit "$failed"
