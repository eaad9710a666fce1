"""docker/k8s/: valid Kubernetes objects (strict schemas of the API), GPU requests, probes on
the health endpoints, and a router that hashes over exactly the StatefulSet's replicas."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from nightowl.service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = "1.30.0"  # the oldest API version the manifests are checked against
MANIFESTS = sorted((ROOT / "docker" / "k8s").glob("*.yaml"))


def objects() -> list[dict]:
    return [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def find(kind: str, name: str) -> dict:
    (found,) = [o for o in objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def only_container(workload: dict) -> dict:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("obj", objects(), ids=lambda o: f"{o['kind']}/{o['metadata']['name']}")
def test_object_is_valid_for_the_kubernetes_api(obj):
    kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def test_validation_catches_a_misspelt_probe():
    replicas = copy.deepcopy(find("StatefulSet", "nightowl"))
    container = only_container(replicas)
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(replicas, KUBERNETES, strict=True)


def test_every_object_lives_in_the_nightowl_namespace():
    for obj in objects():
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "nightowl", obj["metadata"]["name"]


def test_replicas_get_a_gpu_each_and_probes_on_the_health_endpoints():
    container = only_container(find("StatefulSet", "nightowl"))
    resources = container["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == 1
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8000, "grpc": 50051}
    env = {e["name"]: e for e in container["env"]}
    assert env["NIGHTOWL_REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_replicas_are_scraped_by_prometheus_without_a_key():
    replicas = find("StatefulSet", "nightowl")
    annotations = replicas["spec"]["template"]["metadata"]["annotations"]
    container = only_container(replicas)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["http"])
    assert annotations["prometheus.io/path"] == "/metrics"
    env = {e["name"]: e for e in container["env"]}
    assert "secretKeyRef" in env["NIGHTOWL_API_KEYS"]["valueFrom"]  # keys on: metrics opened
    assert Settings(public_metrics=env["NIGHTOWL_PUBLIC_METRICS"]["value"]).public_metrics


def test_replicas_run_as_the_image_user_and_keep_engines_on_a_volume():
    replicas = find("StatefulSet", "nightowl")
    security = replicas["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] == 10001
    (claim,) = replicas["spec"]["volumeClaimTemplates"]
    (mount,) = only_container(replicas)["volumeMounts"]
    assert mount == {"name": claim["metadata"]["name"],
                     "mountPath": "/home/nightowl/.cache/nightowl"}


def test_router_config_map_is_the_repository_template_verbatim():
    template = (ROOT / "docker" / "nginx" / "nightowl.conf.template").read_text()
    assert find("ConfigMap", "nightowl-router")["data"]["default.conf.template"] == template


def test_router_hashes_over_exactly_the_stateful_set_replicas():
    replicas = find("StatefulSet", "nightowl")
    domain = f"{replicas['spec']['serviceName']}.nightowl.svc.cluster.local"
    assert find("Service", replicas["spec"]["serviceName"])["spec"]["clusterIP"] == "None"
    names = [f"nightowl-{i}.{domain}" for i in range(replicas["spec"]["replicas"])]
    router = only_container(find("Deployment", "nightowl-router"))
    env = {e["name"]: e["value"] for e in router["env"]}
    for variable, port in (("NIGHTOWL_REST_SERVERS", "8000"), ("NIGHTOWL_GRPC_SERVERS", "50051")):
        servers = re.findall(r"server ([\w.-]+):(\d+) resolve;", env[variable])
        assert servers == [(name, port) for name in names], variable
    template = (ROOT / "docker" / "nginx" / "nightowl.conf.template").read_text()
    assert set(re.findall(r"\$\{(NIGHTOWL_\w+)\}", template)) == {
        name for name in env if name.startswith("NIGHTOWL_")}


def test_router_is_probed_and_serves_rest_and_grpc():
    router = only_container(find("Deployment", "nightowl-router"))
    assert router["readinessProbe"]["httpGet"]["path"] == "/router/healthz"
    service = find("Service", "nightowl-router")
    ports = {p["name"]: (p["port"], p.get("appProtocol")) for p in service["spec"]["ports"]}
    assert ports == {"http": (8080, None), "grpc": (50051, "kubernetes.io/h2c")}
