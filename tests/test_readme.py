"""The README's two commands are the ones the project really runs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.test_pins import pins

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    blocks = re.findall(r"```\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)
    return [b for b in blocks if b.startswith("python3 -m venv")]


def test_readme_has_the_run_and_test_one_liners():
    commands = readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    run, test = commands
    assert "nightowl" in run and "pytest" in test


def test_ci_runs_exactly_the_readme_test_command():
    _, test = readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines


def test_both_commands_install_at_the_images_lock():
    """Tests and a local server run what the images ship: the lock constrains every install,
    so a newer wheel on the registry cannot move what is tested or measured."""
    assert {"opencv-python-headless", "onnxruntime", "numpy", "av"} <= pins().keys()
    for command in readme_commands():
        assert "pip install -q -c docker/constraints.txt -e " in command
