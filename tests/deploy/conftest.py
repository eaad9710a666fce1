"""Fixtures that run the router for real: nginx must be installed (.ci/run installs it)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.deploy.router_harness import Router, wait_for_port, write_config


@pytest.fixture(scope="session")
def nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail("nginx is not installed: apt-get install nginx (.ci/run does)")
    return found


@pytest.fixture
def start_router(nginx, tmp_path) -> Iterator[Callable[[Sequence[str], Sequence[str]], Router]]:
    processes: list[subprocess.Popen] = []

    def start(rest: Sequence[str], grpc: Sequence[str]) -> Router:
        folder = tmp_path / f"router{len(processes)}"
        conf, router = write_config(folder, rest, grpc)
        process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(conf),
                                    "-e", str(folder / "error.log")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        processes.append(process)
        try:
            wait_for_port(router.rest_port, process)
            wait_for_port(router.grpc_port, process)
        except (AssertionError, TimeoutError) as e:
            raise RuntimeError(f"nginx did not start ({e}): {process.stderr.read()}") from e
        return router

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
        process.stderr.close()
