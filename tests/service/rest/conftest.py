"""One real server (uvicorn and grpc.aio on 127.0.0.1) for every REST test module."""

from __future__ import annotations

import pytest

from tests.serving import running


@pytest.fixture(scope="package")
def server(engines):
    with running(engines) as run:
        yield run
