"""The distribution: every package is shipped, the CLI works without torch, the service
never imports torch, the model repository's modules import on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELREPO = sorted(p.stem for p in (ROOT / "service" / "modelrepo").glob("[!_]*.py"))


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for top, folder in (("nightowl.service", "service"), ("nightowl.training", "training")):
        assert config["package-dir"][top] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((top, *parts)) in listed, f"{init.parent} missing from pyproject"


def test_cli_help_works_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from nightowl.service.cli import main\n"
            "for argv in (['--help'], ['data', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit as e:\n"
            "        assert e.code == 0, e.code\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "data" in result.stdout and "--count" in result.stdout


def test_service_never_imports_torch():
    for path in (ROOT / "service").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "torch" or n.startswith("torch.") for n in names), path


@pytest.mark.parametrize("module", MODELREPO)
def test_model_repository_modules_import_first_in_a_fresh_process(module):
    """``nightowl export --check`` and training import these before any engine: no cycle."""
    code = f"import nightowl.service.modelrepo.{module}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
