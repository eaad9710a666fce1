"""The images' pins: every package an image installs has an exact version in
docker/constraints.txt, and the GPU image's CUDA base is the CUDA its pinned wheels need
(docker/cuda-requirements.toml)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deploy.test_images import DOCKERFILES, ROOT, instructions

LOCK = ROOT / "docker" / "constraints.txt"
TABLE = tomllib.loads((ROOT / "docker" / "cuda-requirements.toml").read_text())
GPU = ROOT / "docker" / "Dockerfile.gpu"
CUDA_TAG = re.compile(r"nvidia/cuda:(\d+)\.(\d+)\.(\d+)-cudnn-runtime-ubuntu\d+\.\d+")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str | None = None) -> dict[str, str]:
    """{normalised name: version} of the lock; a line that is not ``name==version`` fails."""
    found = {}
    for line in (LOCK.read_text() if text is None else text).splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9][\w.-]*)==([\w.+!-]+)", line)
            assert match, f"not an exact pin: {line!r}"
            found[normalise(match[1])] = match[2]
    return found


def pip_installs(path: Path) -> list[list[str]]:
    """The words of every ``pip install`` command in the RUN steps of ``path``."""
    commands = []
    for op, args in instructions(path):
        if op == "RUN":
            for part in re.split(r"&&|;", args):
                words = shlex.split(part)
                if "pip" in " ".join(words[:1]) and words[1:2] == ["install"]:
                    commands.append(words[2:])
    return commands


def requirements(path: Path) -> list[str]:
    """Every requirement an image installs: named ones, and the project's dependencies and
    extras where it installs ``.`` or ``.[...]`` (``$extras``: each value the step assigns)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assigned = set()
    for op, args in instructions(path):
        if op == "RUN":
            for value in re.findall(r"\bextras=([\w,]+)", args):
                assigned.update(value.split(","))
    found = []
    for words in pip_installs(path):
        taking = iter(words)
        for word in taking:
            if word in ("-c", "--constraint", "--extra-index-url"):
                next(taking)
            elif word.startswith("-") or word == "$@":
                continue
            elif word == "." or word.startswith(".["):
                extras = word[2:-1].split(",") if word != "." else []
                extras = sorted(assigned) if extras == ["$extras"] else extras
                found += project["dependencies"]
                for extra in extras:
                    found += project["optional-dependencies"][extra]
            else:
                found.append(word)
    return found


def test_every_line_of_the_lock_is_an_exact_pin():
    assert len(pins()) > 20
    with pytest.raises(AssertionError, match="not an exact pin"):
        pins("numpy>=2\n")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_every_pip_install_uses_the_lock(path):
    installs = pip_installs(path)
    assert installs
    for words in installs:
        assert "docker/constraints.txt" in words and words[words.index(
            "docker/constraints.txt") - 1] == "-c", words
        builds_project = any(w == "." or w.startswith(".[") for w in words)
        assert not builds_project or "--no-build-isolation" in words, words
    copies = [args for op, args in instructions(path) if op == "COPY"]
    assert "docker/constraints.txt docker/constraints.txt" in copies


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_every_package_an_image_installs_is_pinned(path):
    locked = pins()
    wanted = [Requirement(r) for r in requirements(path)]
    assert {"pip", "setuptools", "fastapi"} <= {normalise(r.name) for r in wanted}
    assert "torch" not in {normalise(r.name) for r in wanted} | set(locked)
    for requirement in wanted:
        name = normalise(requirement.name)
        assert name in locked, f"{path.name} installs {name}, not pinned in {LOCK.name}"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{name}=={locked[name]} in {LOCK.name} does not satisfy pyproject's "
            f"{requirement}: regenerate it (python docker/lock.py)")
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for requirement in map(Requirement, build):  # built with --no-build-isolation
        assert requirement.specifier.contains(locked[normalise(requirement.name)])


def test_gpu_image_installs_tensorrt_only_when_asked():
    assert ("ARG", "TENSORRT=0") in instructions(GPU)
    assert any("tensorrt" in extra for extra in re.findall(r"extras=(\S+)", GPU.read_text()))
    assert "tensorrt" not in {normalise(r) for r in requirements(GPU)}  # the PyPI stub


def test_base_images_are_exact_tags():
    for path in DOCKERFILES:
        (base,) = [args.split("=", 1)[1] for op, args in instructions(path) if op == "ARG"
                   and args.split("=", 1)[0] in ("CUDA_IMAGE", "PYTHON_IMAGE")]
        tag = base.split(":", 1)[1]
        assert re.match(r"\d+\.\d+\.\d+-", tag), f"{path.name}: {base} is not an exact tag"


def test_the_lock_is_resolved_for_the_images_python():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "docker" / "lock.py")
    lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lock)
    cpu = next(a for op, a in instructions(ROOT / "docker" / "Dockerfile.cpu") if op == "ARG")
    assert cpu.startswith(f"PYTHON_IMAGE=python:{lock.PYTHON}.")
    assert f"/opt/venv/lib/python{lock.PYTHON}/site-packages" in GPU.read_text()  # ubuntu24.04
    assert lock.normalise("Typing_Extensions") == "typing-extensions"
    assert set(map(normalise, lock.TENSORRT)) <= set(pins())


def base_cuda() -> tuple[int, str]:
    (base,) = [a.split("=", 1)[1] for op, a in instructions(GPU) if op == "ARG"
               and a.startswith("CUDA_IMAGE=")]
    match = CUDA_TAG.fullmatch(base)
    assert match, f"{base} is not an nvidia/cuda X.Y.Z-cudnn-runtime-ubuntuNN.NN tag"
    return int(match[1]), base


def needs(name: str, version: str) -> dict:
    """The table's line for ``name`` at ``version``: its major.minor, else its major."""
    lines = TABLE[name]
    major, minor = version.split(".")[:2]
    line = lines.get(f"{major}.{minor}", lines.get(major))
    assert line is not None, (f"docker/cuda-requirements.toml has no line for {name} "
                              f"{major}.{minor}: add what it needs, with the source")
    return line


def test_each_pinned_gpu_wheel_needs_the_base_images_cuda():
    cuda, base = base_cuda()
    locked = pins()
    gpu_pins = {name: v for name, v in locked.items() if name in TABLE}
    assert {"onnxruntime-gpu", "cuda-python", "tensorrt-cu13"} <= set(gpu_pins)
    for name, version in gpu_pins.items():
        wanted = needs(name, version)["cuda"]
        assert wanted == cuda, f"{name}=={version} needs CUDA {wanted}; {base} is CUDA {cuda}"
    ort = needs("onnxruntime-gpu", locked["onnxruntime-gpu"])
    assert ort["cudnn"] == 9 and "cudnn" in base
    trt_major = int(locked["tensorrt-cu13"].split(".")[0])
    assert ort["tensorrt"] == trt_major, (f"onnxruntime-gpu {locked['onnxruntime-gpu']} links "
                                          f"TensorRT {ort['tensorrt']}, pinned {trt_major}")


def test_cuda_suffixes_of_the_pins_name_the_base_images_cuda():
    cuda, base = base_cuda()
    suffixed = {name: int(m[1]) for name in pins() if (m := re.search(r"-cu(\d+)(-|$)", name))}
    assert suffixed
    for name, major in suffixed.items():
        assert major == cuda, f"{name} is built for CUDA {major}; {base} is CUDA {cuda}"
        assert name in TABLE, f"{name} has no line in docker/cuda-requirements.toml"


def test_the_table_tells_apart_what_it_should():
    assert needs("onnxruntime-gpu", "1.31.1")["cuda"] == 13
    assert needs("onnxruntime-gpu", "1.23.2")["cuda"] == 12
    with pytest.raises(AssertionError, match=r"no line for onnxruntime-gpu 1\.99"):
        needs("onnxruntime-gpu", "1.99.0")
