"""``nightowl export``'s serving options: bad shape profiles and unknown models fail in one
line, and ``--tensorrt`` without TensorRT says so without ever needing torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nightowl.service.cli import main
from nightowl.service.engines.profiles import tensorrt_version

MODELS = Path(__file__).resolve().parents[3] / "models"


def test_bad_profile_and_unknown_model_fail_in_one_line(tmp_path, capsys):
    for argv, message in ((["--profile-min", "2x32x32"], "min <= opt <= max"),
                          (["--profile-max", "8x1080"], "expected BxHxW"),
                          (["--model", "nope.onnx"], "nope.onnx is not listed")):
        with pytest.raises(SystemExit) as exit_info:
            main(["export", "--triton", str(tmp_path), "--models", str(MODELS), *argv])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


@pytest.mark.skipif(tensorrt_version() is not None, reason="TensorRT is installed here")
def test_tensorrt_export_without_tensorrt_says_so_and_never_needs_torch(tmp_path):
    code = ("import sys; sys.modules['torch'] = None\n"
            "from nightowl.service.cli import main\n"
            f"main(['export', '--tensorrt', '--models', {str(MODELS)!r}, "
            f"'--engine-cache', {str(tmp_path)!r}])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert "tensorrt package is not installed" in result.stderr
    assert "torch" not in result.stderr.replace("nightowl[gpu]", "")
