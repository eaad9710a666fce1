"""/openapi.json as the server answers: FastAPI's document, with the Problem schema that every
error response has, without FastAPI's own 422 validation body (a parameter that does not
validate is a 400 problem, problems.install), and the replica header every response carries."""

from __future__ import annotations

import json

from fastapi import FastAPI

from nightowl.service.errors import Problem

REPLICA = {"description": "the replica that answered (setting replica_id)", "required": True,
           "schema": {"type": "string"}}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` give the document as served (built once, as FastAPI's is)."""
    framework = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = as_served(framework())
        return app.openapi_schema

    app.openapi = openapi


def as_served(spec: dict) -> dict:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for path in spec["paths"].values():
        for operation in path.values():
            answers = operation["responses"]
            for status in [s for s, a in answers.items() if _FASTAPI_422 in json.dumps(a)]:
                del answers[status]
            for answer in answers.values():
                answer.setdefault("headers", {})["X-Nightowl-Replica"] = REPLICA
    return spec
