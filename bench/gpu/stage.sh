#!/usr/bin/env bash
# Stage here what the GPU check machine lacks, for bench/gpu/check.sh to install there offline.
#
#   bench/gpu/stage.sh [--python 3.12] [--dest bench/gpu/staged] [--part-mib 59]
#
# That machine has torch with CUDA 13 libraries (cuBLAS, cuDNN 9, cuFFT, cuRAND in torch's
# nvidia-* packages) and the CPU onnxruntime, and reaches no package index. This downloads, for
# its Python (--python) on Linux x86_64, wheels only: onnxruntime-gpu and cuda-python at the
# versions of docker/constraints.txt, the server's dependencies (pinned the same way; the CPU
# onnxruntime left out), setuptools to build the package there, and what the checks import
# beside torch (pytest, httpx; onnx, onnxscript and PyAV for training and exporting the
# flow network there; these five unpinned). Files of --part-mib MiB or more are
# split into parts below that size (<file>.part-aa, -ab, ...): what one transfer can carry.
# SHA256SUMS holds every whole file's sum, so check.sh can prove each join.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
python_version=3.12
dest="$root/bench/gpu/staged"
part_mib=59
while [ $# -gt 0 ]; do
    case "$1" in
        --python) python_version="$2"; shift 2 ;;
        --dest) dest="$2"; shift 2 ;;
        --part-mib) part_mib="$2"; shift 2 ;;
        *) echo "usage: $0 [--python 3.12] [--dest DIR] [--part-mib 59]" >&2; exit 2 ;;
    esac
done

# the server's dependencies and the gpu extra, from pyproject.toml, less the CPU onnxruntime
mapfile -t wanted < <(python3 - "$root/pyproject.toml" <<'EOF'
import re, sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["gpu"]:
    if re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0] != "onnxruntime":
        print(requirement)
print("setuptools")
EOF
)
platforms=()
for minor in $(seq 17 28); do platforms+=("--platform=manylinux_2_${minor}_x86_64"); done
platforms+=("--platform=manylinux2014_x86_64")

wheels="$dest/wheels"
rm -rf "$dest" && mkdir -p "$wheels" "$dest/parts"
# PIP_CONFIG_FILE: this machine's pip settings (local mirrors, caps) stay out of it
PIP_CONFIG_FILE=/dev/null python3 -m pip download --quiet --only-binary=:all: \
    --python-version "$python_version" "${platforms[@]}" -d "$wheels" \
    -c "$root/docker/constraints.txt" "${wanted[@]}" pytest httpx onnx onnxscript av
(cd "$wheels" && sha256sum -- *.whl > "$dest/SHA256SUMS")
limit=$((part_mib * 1024 * 1024))
for wheel in "$wheels"/*.whl; do
    if [ "$(stat -c %s "$wheel")" -ge "$limit" ]; then
        split -b "$((limit - 1))" -- "$wheel" "$dest/parts/$(basename "$wheel").part-"
        rm -- "$wheel"
    fi
done
echo "python $python_version" > "$dest/STAGED"
ls "$wheels" "$dest/parts" >> "$dest/STAGED"
du -sh "$dest"
