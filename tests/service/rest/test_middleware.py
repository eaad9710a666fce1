"""The replica header on every response and the body limit, declared or streamed, on a tiny
app built here."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request

from nightowl.service.rest import problems
from nightowl.service.rest.middleware import ReplicaAndBodyLimit
from nightowl.service.serving.metrics import Metrics
from tests.service.rest.tiny_app import serving

LIMIT = 1000


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    app.state.metrics = Metrics()
    problems.install(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    with serving(ReplicaAndBodyLimit(app, "replica-7", LIMIT)) as url, \
            httpx.Client(base_url=url, timeout=10) as test_client:
        yield test_client


def test_every_response_names_the_replica(client):
    assert client.post("/echo", content=b"x" * 10).headers["x-nightowl-replica"] == "replica-7"
    assert client.get("/missing").headers["x-nightowl-replica"] == "replica-7"


def test_a_body_within_the_limit_passes(client):
    assert client.post("/echo", content=b"x" * LIMIT).json() == {"bytes": LIMIT}


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(client):
    reply = client.post("/echo", content=b"x" * (LIMIT + 1))
    assert reply.status_code == 413 and reply.headers["x-nightowl-replica"] == "replica-7"
    assert reply.json()["detail"] == (f"the request body is {LIMIT + 1} bytes; at most {LIMIT} "
                                      "bytes are accepted")


def test_a_streamed_body_over_the_limit_is_refused_while_it_streams(client):
    reply = client.post("/echo", content=(b"x" * 400 for _ in range(3)))  # chunked, no length
    assert reply.status_code == 413
    assert reply.json()["detail"].startswith(f"the request body is more than {LIMIT} bytes")
