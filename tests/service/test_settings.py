"""Settings come from one object, fed by NIGHTOWL_* variables, and fail loudly."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from nightowl.service.errors import Unauthenticated
from nightowl.service.serving.auth import check_bearer, key_matches
from nightowl.service.settings import NOT_SETTINGS, Settings


def test_defaults_and_environment(monkeypatch):
    assert (Settings().host, Settings().port, Settings().grpc_port) == ("127.0.0.1", 8000, 50051)
    monkeypatch.setenv("NIGHTOWL_PORT", "9001")
    monkeypatch.setenv("NIGHTOWL_REPLICA_ID", "replica-b")
    monkeypatch.setenv("NIGHTOWL_API_KEYS", '["k1", "k2"]')
    settings = Settings()
    assert settings.port == 9001 and settings.replica_id == "replica-b"
    assert [k.get_secret_value() for k in settings.api_keys] == ["k1", "k2"]
    assert "k1" not in repr(settings)


def test_public_host_needs_keys_or_an_explicit_opt_out():
    with pytest.raises(ValidationError, match="api_keys"):
        Settings(host="0.0.0.0")
    assert Settings(host="0.0.0.0", api_keys=["k"]).host == "0.0.0.0"
    assert Settings(host="0.0.0.0", allow_unauthenticated=True).host == "0.0.0.0"
    assert Settings(host="::1").host == "::1"


def test_require_gpu_comes_from_the_environment_and_refuses_the_cpu_backend(monkeypatch):
    assert Settings().require_gpu is False
    monkeypatch.setenv("NIGHTOWL_REQUIRE_GPU", "true")
    assert Settings().require_gpu is True and Settings(backend="onnxruntime-cuda").require_gpu
    with pytest.raises(ValidationError, match=r"require_gpu.*onnxruntime-cpu"):
        Settings(backend="onnxruntime-cpu")


def test_bad_values_name_the_setting(tmp_path):
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)
    with pytest.raises(ValidationError, match="tls_cert and tls_key"):
        Settings(tls_cert=tmp_path / "cert.pem")
    with pytest.raises(ValidationError, match="no_such_setting"):
        Settings(no_such_setting=1)


def test_keys_compare_every_key():
    keys = Settings(api_keys=["alpha", "beta"]).api_keys
    assert key_matches("beta", keys) and not key_matches("gamma", keys)
    assert not key_matches("alph", keys)
    check_bearer("Bearer alpha", keys)
    check_bearer(None, [])
    for header in (None, "alpha", "Basic alpha", "Bearer wrong"):
        with pytest.raises(Unauthenticated):
            check_bearer(header, keys)


def test_cpu_precision_comes_from_the_environment_and_reaches_the_engines(monkeypatch):
    from nightowl.service.serving.enhance_service import EnhanceService

    assert Settings().cpu_precision == "int8"
    monkeypatch.setenv("NIGHTOWL_CPU_PRECISION", "int4")
    with pytest.raises(ValidationError, match="cpu_precision"):
        Settings()
    monkeypatch.setenv("NIGHTOWL_CPU_PRECISION", "fp32")
    settings = Settings(backend="onnxruntime-cpu", threads=1, warmup_sizes=[])
    service = EnhanceService.load(settings)
    assert {e.describe()["precision"] for e in service.engines.values()} == {"fp32"}
    assert service.engines["multi"].name == "mim_l1_cr.onnx"


def test_the_memory_budget_defaults_to_half_the_hosts_memory(monkeypatch):
    import os

    from nightowl.service.settings import host_memory

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < host_memory() <= physical
    assert Settings().memory_budget_bytes == host_memory() // 2
    monkeypatch.setenv("NIGHTOWL_MEMORY_BUDGET_BYTES", str(1 << 30))
    assert Settings().memory_budget_bytes == 1 << 30


def test_a_misspelt_variable_is_an_error_naming_the_closest_setting(monkeypatch):
    monkeypatch.setenv("NIGHTOWL_PROT", "9001")
    with pytest.raises(ValidationError, match="NIGHTOWL_PROT is not a setting: did you mean "
                                              "NIGHTOWL_PORT"):
        Settings()
    monkeypatch.delenv("NIGHTOWL_PROT")
    monkeypatch.setenv("nightowl_api_key", '["k"]')  # read case-insensitively, as settings are
    with pytest.raises(ValidationError, match=r"NIGHTOWL_API_KEY .*NIGHTOWL_API_KEYS"):
        Settings()
    monkeypatch.delenv("nightowl_api_key")
    monkeypatch.setenv("NIGHTOWL_QQQQ", "1")
    with pytest.raises(ValidationError, match=r"NIGHTOWL_QQQQ is not a setting \("):
        Settings()
    monkeypatch.delenv("NIGHTOWL_QQQQ")
    monkeypatch.setenv("NIGHTOWL_REST_SERVERS", "server a:8000;")  # the router's
    assert Settings().port == 8000


def test_every_nightowl_variable_the_repository_names_is_a_setting_or_known_to_be_other():
    root = Path(__file__).resolve().parents[2]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split()
    misspelling = {"tests/service/test_settings.py", "tests/service/test_serve_command.py"}
    # ... and the README quotes the error: "NIGHTOWL_PROT is not a setting: ..."
    named = {name for f in files if (root / f).is_file() and f not in misspelling
             for name in re.findall(r"\bNIGHTOWL_[A-Z0-9_]*[A-Z0-9]\b(?! is not a setting)",
                                    (root / f).read_text(errors="replace"))}
    fields = {f"NIGHTOWL_{field.upper()}" for field in Settings.model_fields}
    assert {"NIGHTOWL_PORT", "NIGHTOWL_REST_SERVERS"} <= named
    assert named - fields - NOT_SETTINGS.keys() == set()
    assert not fields & NOT_SETTINGS.keys()


def test_memory_is_off_by_default_and_its_join_fits_its_length(monkeypatch):
    assert not Settings().background_memory
    monkeypatch.setenv("NIGHTOWL_BACKGROUND_MEMORY", "true")
    assert Settings().background_memory and Settings().background_memory_frames == 256
    with pytest.raises(ValidationError, match="background_join_frames"):
        Settings(background_memory_frames=16, background_join_frames=30)
