"""/openapi.json as the server answers: FastAPI's document, with the Problem schema that every
error response has, without FastAPI's own 422 validation body (a parameter that does not
validate is a 400 problem, problems.install), the replica header every response carries, and
the API key as a security scheme (OpenAPI ignores an ``Authorization`` header parameter, so
Swagger UI would never send one) on the routes that check it, when keys are set."""

from __future__ import annotations

import json

from fastapi import FastAPI

from nightowl.service.errors import Problem

REPLICA = {"description": "the replica that answered (setting replica_id)", "required": True,
           "schema": {"type": "string"}}
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
SCHEMES = {"bearer": {"type": "http", "scheme": "bearer",
                      "description": "an API key of the server (setting api_keys)"},
           "key": {"type": "apiKey", "in": "query", "name": "key",
                   "description": "the same key in the address: the live view and /docs, "
                   "for a browser that cannot send a header"}}
_KEY = {("header", "authorization"): "bearer", ("query", "key"): "key"}  # the checks' inputs


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` give the document as served (built once, as FastAPI's is)."""
    framework = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            settings = app.state.settings
            opened = {"/metrics"} if settings.public_metrics else set()
            app.openapi_schema = as_served(framework(), bool(settings.api_keys), opened)
        return app.openapi_schema

    app.openapi = openapi


def as_served(spec: dict, keys: bool, opened: set[str]) -> dict:
    """``spec`` as served; ``keys``: API keys are set; ``opened``: paths that need none even
    then (a public_* setting)."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    used = set()
    for where, path in spec["paths"].items():
        for operation in path.values():
            answers = operation["responses"]
            for status in [s for s, a in answers.items() if _FASTAPI_422 in json.dumps(a)]:
                del answers[status]
            for answer in answers.values():
                answer.setdefault("headers", {})["X-Nightowl-Replica"] = REPLICA
            schemes = _take_key_parameters(operation)
            if keys and schemes and where not in opened:
                operation["security"] = [{scheme: []} for scheme in schemes]
                used.update(schemes)
    if used:
        components["securitySchemes"] = {name: SCHEMES[name] for name in sorted(used)}
    return spec


def _take_key_parameters(operation: dict) -> list[str]:
    """Remove the parameters that carry the key from ``operation``; the schemes they were."""
    parameters = operation.get("parameters", [])
    schemes = [_KEY[p["in"], p["name"]] for p in parameters if (p["in"], p["name"]) in _KEY]
    kept = [p for p in parameters if (p["in"], p["name"]) not in _KEY]
    if kept:
        operation["parameters"] = kept
    else:
        operation.pop("parameters", None)
    return sorted(schemes)
