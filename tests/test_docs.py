"""Docs and docstrings cite only what exists: every repository path and every
``nightowl.*`` module they name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPS = "service|training|tests|bench|proto|docker|models|\\.ci"
PATH = re.compile(rf"(?<![\w./=:-])((?:{TOPS})/(?:[\w.-]+/)*(?:[\w-]+(?:\.\w+)+|[\w-]+/))")
DOTTED = re.compile(r"\bnightowl\.((?:service|training)(?:\.\w+)+)")
RUNTIME = ("runs/", "models/eval/")  # folders that commands write, not committed


def _texts() -> list[Path]:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    keep = (".py", ".md", ".toml", ".yaml", ".yml", ".proto", ".template", ".sh")
    return [ROOT / f for f in files if f.endswith(keep) or Path(f).name.startswith("Dockerfile")
            if not f.startswith("models/eval/") and (ROOT / f).is_file()]


def _module_exists(dotted: str) -> bool:
    """Whether ``nightowl.<dotted>`` is a module, or a name a module defines or imports."""
    parts = dotted.split(".")
    where = ROOT / parts[0]
    for i, part in enumerate(parts[1:], 1):
        if (where / part).is_dir():
            where = where / part
        elif (where / f"{part}.py").is_file():
            where = where / f"{part}.py"
        else:
            source = where / "__init__.py" if where.is_dir() else where
            return (i >= len(parts) - 2 and source.is_file()
                    and re.search(rf"\b{part}\b", source.read_text()) is not None)
    return True


def test_cited_paths_exist():
    stale = []
    for path in _texts():
        for cited in PATH.findall(path.read_text(errors="replace")):
            cited = cited.rstrip(".")
            if "<" in cited or "*" in cited or cited.startswith(RUNTIME):
                continue
            if not (ROOT / cited).exists():
                stale.append(f"{path.relative_to(ROOT)}: {cited}")
    assert not stale, "\n".join(stale)


def test_cited_modules_exist():
    stale = [f"{path.relative_to(ROOT)}: nightowl.{dotted}"
             for path in _texts() for dotted in DOTTED.findall(path.read_text(errors="replace"))
             if not _module_exists(dotted)]
    assert not stale, "\n".join(stale)
