"""The app as wired: OpenAPI docs of the routes, errors as problem+json with the replica header."""

from __future__ import annotations

import httpx


def test_openapi_docs_describe_enhance(server):
    assert httpx.get(server.url + "/docs").status_code == 200
    spec = httpx.get(server.url + "/openapi.json").json()
    body = spec["paths"]["/enhance"]["post"]["requestBody"]["content"]
    assert "frames" in body["multipart/form-data"]["schema"]["properties"]


def test_errors_are_problem_json_with_the_replica(server):
    reply = httpx.post(server.url + "/enhance", json={"frames": []})
    assert reply.status_code == 415
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.headers["x-nightowl-replica"] == "replica-under-test"
    body = reply.json()
    assert body["status"] == 415 and "multipart/form-data" in body["detail"]
    assert body["type"].endswith("unsupported-media-type") and body["title"]
