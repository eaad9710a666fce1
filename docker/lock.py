"""Write docker/constraints.txt: the exact version of every package either image installs.

    python docker/lock.py

One lock serves both images (``pip install -c docker/constraints.txt``): the CPU image installs
a subset of what the GPU image does, and pinning both from one resolution keeps their shared
packages, onnxruntime included, at the same release, so a CPU replica and a GPU replica differ
only in the execution provider. The README's two commands and CI install with it as well, so
what is tested and measured is what the images serve. pip resolves here (this machine's pip
configuration ignored) for the images' Python and Linux x86_64, wheels only, as the images'
builds would.

TensorRT is not resolved: its libraries are not on PyPI (a stub sdist fetches them from NVIDIA's
index at install time). Its bindings wheel is, and the three packages of one TensorRT release
share its version, so the bindings' resolved version pins all three.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "docker" / "constraints.txt"
PYTHON = "3.12"  # python3 of ubuntu24.04 (Dockerfile.gpu) and of python:3.12 (Dockerfile.cpu)
GLIBC = range(17, 37)  # manylinux_2_17 .. manylinux_2_36: bookworm's glibc is the lower one
TENSORRT = ("tensorrt-cu13", "tensorrt-cu13-libs", "tensorrt-cu13-bindings")


def inputs(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """What the images install: the dependencies, the gpu extra, pip, the build backend, and
    the tensorrt extra as its bindings wheel."""
    config = tomllib.loads(pyproject.read_text())
    extras = config["project"]["optional-dependencies"]
    bindings = [re.sub(r"^tensorrt-cu13(?=[<>=!~ ]|$)", "tensorrt-cu13-bindings", r)
                for r in extras["tensorrt"]]
    return [*config["project"]["dependencies"], *extras["gpu"], "pip",
            *config["build-system"]["requires"], *bindings]


def resolve(requirements: list[str]) -> dict[str, str]:
    """{normalised name: version} of what pip would install for ``requirements``."""
    platforms = [f"--platform=manylinux_2_{minor}_x86_64" for minor in GLIBC]
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--dry-run",
                   "--ignore-installed", "--only-binary=:all:", f"--python-version={PYTHON}",
                   *platforms, "--platform=manylinux2014_x86_64", f"--target={scratch}/t",
                   f"--report={report}", *requirements]
        subprocess.run(command, check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
        installs = json.loads(report.read_text())["install"]
    return {normalise(i["metadata"]["name"]): i["metadata"]["version"] for i in installs}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock(requirements: list[str]) -> dict[str, str]:
    """The pins: onnxruntime at onnxruntime-gpu's release (one ONNX Runtime in both images),
    and the TensorRT trio at its bindings' version."""
    pins = resolve(requirements)
    if pins["onnxruntime"] != pins["onnxruntime-gpu"]:
        pins = resolve([*requirements, f"onnxruntime=={pins['onnxruntime-gpu']}"])
    for name in TENSORRT:
        pins[name] = pins["tensorrt-cu13-bindings"]
    return dict(sorted(pins.items()))


def write(pins: dict[str, str], path: Path = LOCK) -> None:
    header = ("# Exact versions of everything docker/Dockerfile.cpu and docker/Dockerfile.gpu "
              "install,\n# transitive packages included, for CPython "
              f"{PYTHON} on Linux x86_64. Generated: python docker/lock.py\n")
    path.write_text(header + "".join(f"{name}=={version}\n" for name, version in pins.items()))


if __name__ == "__main__":
    write(lock(inputs()))
    print(f"wrote {LOCK.relative_to(ROOT)}")
