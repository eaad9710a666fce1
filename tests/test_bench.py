"""Every benchmark still runs against the current tree: its imports resolve and ``--help``
answers (the benches themselves are run by hand; their figures are in bench/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_every_bench_script_answers_help():
    scripts = sorted(str(p) for p in (ROOT / "bench").glob("*.py"))
    code = ("import contextlib, io, runpy, sys\n"
            f"for script in {scripts!r}:\n"
            "    sys.argv = [script, '--help']\n"
            "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "        try:\n            runpy.run_path(script, run_name='__main__')\n"
            "        except SystemExit as e:\n"
            "            assert e.code in (0, None), (script, e.code)\n"
            "    assert 'usage' in out.getvalue(), script\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_the_gpu_check_runs_its_steps_in_dry_mode(tmp_path):
    # --cpu: the same steps on onnxruntime-cpu at 64x48, in this environment (no staged wheels)
    env = {**os.environ, "OUT": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(["bash", str(ROOT / "bench" / "gpu" / "check.sh"), "--cpu"],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = {line.split("\t")[0]: line.split("\t")[1]
             for line in (tmp_path / "steps.tsv").read_text().splitlines()}
    assert steps == {"pytest": "0", "engines-mim_l1_cr": "0", "service": "0"}
    summary = (tmp_path / "summary.txt").read_text()
    assert "backend onnxruntime-cpu" in summary and "window 1: held" in summary
    assert "p99" in summary
    assert (tmp_path / "engines-mim_l1_cr.json").is_file() and (tmp_path / "pytest.xml").is_file()
