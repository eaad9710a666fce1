"""Every REST error as problem+json, on a tiny app built here under a real uvicorn: service
errors with their status and headers, request validation, and the framework's own errors."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from nightowl.service.errors import PROBLEM_BASE, Overloaded, Unauthenticated
from nightowl.service.rest import problems
from nightowl.service.serving.metrics import Metrics
from tests.service.rest.tiny_app import serving

METRICS = Metrics()  # the tiny app's counters


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    app.state.metrics = METRICS
    problems.install(app)

    @app.get("/overloaded")
    async def overloaded() -> None:
        raise Overloaded("the queue is full; retry on another replica", retry_after=3)

    @app.get("/locked")
    async def locked() -> None:
        raise Unauthenticated("the API key is not valid")

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug of ours")

    @app.get("/count")
    async def count(n: int) -> dict:
        return {"n": n}

    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as test_client:
        yield test_client


def check_problem(reply, status: int, slug: str) -> dict:
    assert reply.status_code == status
    assert reply.headers["content-type"] == problems.MEDIA_TYPE
    body = reply.json()
    assert body["status"] == status and body["type"] == PROBLEM_BASE + slug and body["title"]
    return body


def test_a_service_error_keeps_its_status_detail_and_retry_after(client):
    body = check_problem(client.get("/overloaded"), 503, "overloaded")
    assert body["detail"] == "the queue is full; retry on another replica"
    assert body["instance"] == "/overloaded"
    assert client.get("/overloaded").headers["retry-after"] == "3"


def test_unauthenticated_says_how_to_authenticate(client):
    reply = client.get("/locked")
    check_problem(reply, 401, "unauthenticated")
    assert reply.headers["www-authenticate"] == 'Bearer realm="nightowl"'


def test_a_validation_error_is_a_bad_request_naming_the_field(client):
    body = check_problem(client.get("/count", params={"n": "many"}), 400, "bad-request")
    assert body["detail"].startswith("invalid request: query.n:")


def test_the_frameworks_own_errors_are_problems_too(client):
    body = check_problem(client.get("/nowhere"), 404, "http-404")
    assert body["detail"] == "Not Found"


def test_errors_are_counted_by_kind(client):
    def count() -> float:
        labels = {"protocol": "rest", "type": "overloaded"}
        return METRICS.registry.get_sample_value("nightowl_errors_total", labels) or 0.0

    before = count()
    client.get("/overloaded")
    assert count() == before + 1


def test_an_unexpected_exception_is_a_problem_not_plain_text(client):
    body = check_problem(client.get("/bug"), 500, "internal")
    assert "ValueError" in body["detail"] and "a bug of ours" not in body["detail"]
