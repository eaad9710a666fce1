"""The router template is a configuration that Debian's nginx accepts."""

from __future__ import annotations

import subprocess

import pytest

from tests.deploy.router_harness import TEMPLATE, render, write_config


def test_rendered_router_passes_nginx_config_test(nginx, tmp_path):
    conf, _ = write_config(tmp_path, ["127.0.0.1:8000", "127.0.0.1:8001"],
                           ["127.0.0.1:50051", "127.0.0.1:50052"])
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                             "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_rendering_refuses_a_missing_variable():
    with pytest.raises(AssertionError, match="NIGHTOWL_GRPC_SERVERS"):
        render(TEMPLATE.read_text(), {"NIGHTOWL_REST_SERVERS": "server 127.0.0.1:1;"})
