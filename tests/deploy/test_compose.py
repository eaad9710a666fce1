"""docker/compose.yaml: valid against the Compose specification's schema, and wired as the
README says (no Docker engine needed)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
REPLICAS = ("nightowl-1", "nightowl-2")  # the scale-out profile's replicas, in router order


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.protocols.Validator:
    # the compose-spec schema as check-jsonschema vendors it
    vendored = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(vendored.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_follows_the_compose_specification(compose, schema_validator):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in schema_validator.iter_errors(compose)]
    assert not errors


def test_schema_check_catches_a_misspelt_key(compose, schema_validator):
    broken = json.loads(json.dumps(compose))
    broken["services"]["nightowl"]["helthcheck"] = broken["services"]["nightowl"]["healthcheck"]
    assert not schema_validator.is_valid(broken)


def test_every_service_belongs_to_one_of_the_three_profiles(compose):
    profiles = {name: tuple(s["profiles"]) for name, s in compose["services"].items()}
    assert profiles == {"nightowl": ("gpu",), "nightowl-cpu": ("cpu",),
                        "nightowl-1": ("scale-out",), "nightowl-2": ("scale-out",),
                        "router": ("scale-out",)}


@pytest.mark.parametrize("name", ["nightowl", *REPLICAS])
def test_gpu_services_reserve_an_nvidia_gpu(compose, name):
    service = compose["services"][name]
    (device,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert service["build"]["dockerfile"] == "docker/Dockerfile.gpu"
    assert service["volumes"][0].endswith(":/home/nightowl/.cache/nightowl")


def test_cpu_service_uses_the_cpu_image_without_a_gpu(compose):
    service = compose["services"]["nightowl-cpu"]
    assert service["build"]["dockerfile"] == "docker/Dockerfile.cpu" and "deploy" not in service


@pytest.mark.parametrize("name", ["nightowl", "nightowl-cpu", *REPLICAS])
def test_replicas_are_named_checked_and_built_from_the_repository(compose, name):
    service = compose["services"][name]
    assert service["environment"]["NIGHTOWL_REPLICA_ID"] == name
    assert "/readyz" in " ".join(service["healthcheck"]["test"])
    assert (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_router_hashes_over_exactly_the_scale_out_replicas(compose):
    router = compose["services"]["router"]
    env = router["environment"]
    for variable, port in (("NIGHTOWL_REST_SERVERS", 8000), ("NIGHTOWL_GRPC_SERVERS", 50051)):
        servers = re.findall(r"server ([\w.-]+):(\d+)", env[variable])
        assert servers == [(name, str(port)) for name in REPLICAS], variable
    assert set(router["depends_on"]) == set(REPLICAS)


def test_router_renders_the_repository_template_with_all_its_variables(compose):
    router = compose["services"]["router"]
    (mount,) = router["volumes"]
    source, target = mount.split(":")[:2]
    template = (COMPOSE.parent / source).resolve()
    assert template == ROOT / "docker" / "nginx" / "nightowl.conf.template"
    assert target == "/etc/nginx/templates/default.conf.template"
    # the nginx image substitutes only variables matching the filter, leaving nginx's own alone
    env = router["environment"]
    assert env["NGINX_ENVSUBST_FILTER"] == "NIGHTOWL_"
    used = set(re.findall(r"\$\{(NIGHTOWL_\w+)\}", template.read_text()))
    assert used == {name for name in env if name.startswith("NIGHTOWL_")}
