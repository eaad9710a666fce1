"""Every benchmark still runs against the current tree: its imports resolve and ``--help``
answers (the benches themselves are run by hand; their figures are in bench/README.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
