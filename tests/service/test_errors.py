"""The typed errors: each client-facing kind maps to a real gRPC code, an HTTP error status and
its own problem type; engine errors form one hierarchy below both packages that raise them."""

from __future__ import annotations

import grpc
import pytest

from nightowl.service import errors


def client_errors() -> list[type[errors.ServiceError]]:
    found, todo = [], [errors.ServiceError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo += kind.__subclasses__()
    return found


@pytest.mark.parametrize("error", client_errors(), ids=lambda e: e.__name__)
def test_every_kind_maps_to_grpc_and_http(error):
    kind = error.kind
    assert grpc.StatusCode[kind.grpc_code] is not None
    assert 400 <= kind.http_status < 600 and kind.title and kind.slug


def test_problem_types_are_unique():
    slugs = [e.kind.slug for e in client_errors()]
    assert len(slugs) == len(set(slugs))


def test_problem_document_says_what_was_wrong():
    error = errors.Overloaded("the queue is full; retry", retry_after=2)
    assert errors.problem(error, "/enhance") == {
        "type": errors.PROBLEM_BASE + "overloaded", "title": "Overloaded", "status": 503,
        "detail": "the queue is full; retry", "instance": "/enhance"}
    assert error.retry_after == 2


def test_engine_errors_share_one_base():
    for kind in (errors.ModelFileError, errors.BackendUnavailable, errors.BatchError):
        assert issubclass(kind, errors.EngineError)
    assert issubclass(errors.BatchError, ValueError)
    assert not issubclass(errors.EngineError, errors.ServiceError)
