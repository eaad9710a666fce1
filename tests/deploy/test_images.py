"""The Dockerfiles: hadolint-clean, multi-stage, non-root, ready-checked, and without torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((ROOT / "docker").glob("Dockerfile*"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = (line.strip() for line in text.splitlines())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_there_is_a_gpu_and_a_cpu_image():
    assert {p.name for p in DOCKERFILES} == {"Dockerfile.gpu", "Dockerfile.cpu"}


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(path):
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or "hadolint"
    result = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_is_multi_stage_non_root_and_checks_readiness(path):
    assert sum(op == "FROM" for op, _ in instructions(path)) >= 2
    final = final_stage(path)
    user = [args for op, args in final if op == "USER"][-1]
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user  # numeric: runAsNonRoot can check it
    assert "/readyz" in " ".join(args for op, args in final if op == "HEALTHCHECK")
    assert {"8000", "50051"} <= set(" ".join(a for op, a in final if op == "EXPOSE").split())
    env = " ".join(args for op, args in final if op == "ENV")
    assert "NIGHTOWL_MODELS_DIR=/opt/nightowl/models" in env
    assert ("COPY", "models /opt/nightowl/models") in final


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_image_never_installs_torch(path):
    installs = [args for op, args in instructions(path) if op == "RUN" and "pip install" in args]
    assert installs
    for command in installs:
        command = command.replace("docker/constraints.txt", "")  # the lock, not a package
        assert "torch" not in command and "train" not in command, command


def test_gpu_image_has_cuda_requires_the_gpu_and_has_an_engine_cache_volume():
    # which CUDA major the base must be is tests/deploy/test_pins.py's to say
    steps = instructions(ROOT / "docker" / "Dockerfile.gpu")
    base = next(a for op, a in steps if op == "ARG")
    assert base.startswith("CUDA_IMAGE=nvidia/cuda:") and "cudnn-runtime" in base
    assert any('".[$extras]"' in a and "extras=gpu " in a for op, a in steps if op == "RUN")
    final = final_stage(ROOT / "docker" / "Dockerfile.gpu")
    assert ("VOLUME", '["/home/nightowl/.cache/nightowl"]') in final
    assert "NIGHTOWL_REQUIRE_GPU=true" in " ".join(args for op, args in final if op == "ENV")


def test_dockerignore_lets_through_what_the_images_copy():
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    for path in DOCKERFILES:
        for op, args in instructions(path):
            if op == "COPY" and not args.startswith("--from"):
                for source in args.split()[:-1]:
                    assert source in allowed, f"{path.name} copies {source}, ignored"
                    assert (ROOT / source).exists()
