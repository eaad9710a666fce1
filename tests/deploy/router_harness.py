"""The router of docker/nginx/ run for real: Debian's nginx on 127.0.0.1, rendered from the same
template that compose and Kubernetes use."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docker" / "nginx" / "nightowl.conf.template"

# What the nginx image adds around conf.d/; here every path is under the test's folder and one
# foreground process serves (no worker that switches user).
MAIN_CONF = """\
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/nightowl.conf;
}}
"""


def render(template: str, variables: Mapping[str, str]) -> str:
    """``template`` with each ``${NIGHTOWL_*}`` replaced, as the nginx image's envsubst does
    with NGINX_ENVSUBST_FILTER=NIGHTOWL_; every such variable must be given."""
    used = set(re.findall(r"\$\{(NIGHTOWL_\w+)\}", template))
    assert used == set(variables), f"template variables {sorted(used)}, given {sorted(variables)}"
    return re.sub(r"\$\{(NIGHTOWL_\w+)\}", lambda m: variables[m.group(1)], template)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited with {process.returncode}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Router:
    rest_port: int
    grpc_port: int
    folder: Path

    @property
    def error_log(self) -> str:
        return (self.folder / "error.log").read_text()


def write_config(folder: Path, rest: Sequence[str], grpc: Sequence[str]) -> tuple[Path, Router]:
    """Render the router for replicas at ``rest`` / ``grpc`` (HOST:PORT, in the same order)."""
    folder.mkdir(parents=True, exist_ok=True)
    router = Router(free_port(), free_port(), folder)
    variables = {
        "NIGHTOWL_ROUTER_REST_LISTEN": f"127.0.0.1:{router.rest_port}",
        "NIGHTOWL_ROUTER_GRPC_LISTEN": f"127.0.0.1:{router.grpc_port}",
        "NIGHTOWL_ROUTER_RESOLVER": "",
        "NIGHTOWL_REST_SERVERS": " ".join(f"server {a};" for a in rest),
        "NIGHTOWL_GRPC_SERVERS": " ".join(f"server {a};" for a in grpc),
    }
    (folder / "nightowl.conf").write_text(render(TEMPLATE.read_text(), variables))
    conf = folder / "nginx.conf"
    conf.write_text(MAIN_CONF.format(dir=folder))
    return conf, router
