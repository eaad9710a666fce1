"""Every REST error as an RFC 9457 problem+json response, from one exception hierarchy, and
as routes declare them in /openapi.json (:func:`responses`)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from nightowl.service.errors import BadRequest, ServiceError, problem

MEDIA_TYPE = "application/problem+json"
CLIENT_CLOSED = 499  # nginx's status for a client that hung up before the answer (access log)
log = logging.getLogger("nightowl.rest")
SCHEMA = {"$ref": "#/components/schemas/Problem"}  # errors.Problem (openapi.install adds it)
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "how to authenticate: Bearer", "required": True,
                               "schema": {"type": "string", "pattern": "^Bearer "}}},
    **{status: {"Retry-After": {"description": "seconds to wait before retrying (or retry on "
                                "another replica at once)",
                                "schema": {"type": "integer", "minimum": 1}}}
       for status in (429, 503)}}


def responses(*statuses: int) -> dict[int | str, dict]:
    """A route's ``responses=`` for the problem statuses it can answer: the Problem schema,
    the titles of the errors behind each status, and the headers they carry."""
    return {status: {"description": _titles(status), "content": {MEDIA_TYPE: {"schema": SCHEMA}},
                     "headers": _HEADERS.get(status, {})} for status in statuses}


def _titles(status: int) -> str:
    kinds, found = [ServiceError], []
    while kinds:
        kind = kinds.pop(0)
        kinds += kind.__subclasses__()
        if kind.kind.http_status == status and kind.kind.title not in found:
            found.append(kind.kind.title)
    if status == 400:
        found.append("or a parameter that does not validate")
    return ", ".join(found)


def problem_response(error: ServiceError, instance: str | None = None) -> JSONResponse:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    if error.kind.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="nightowl"'
    if error.kind.http_status == 408:  # the rest of the body is not awaited: hang up
        headers["Connection"] = "close"
    return JSONResponse(problem(error, instance), error.kind.http_status, headers,
                        media_type=MEDIA_TYPE)


def install(app: FastAPI) -> None:
    """Route every error the app can raise through :func:`problem_response`."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> JSONResponse:
        request.app.state.metrics.failed("rest", error.kind.slug)
        return problem_response(error, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in error.errors())
        request.app.state.metrics.failed("rest", BadRequest.kind.slug)
        return problem_response(BadRequest(f"invalid request: {where}"), request.url.path)

    @app.exception_handler(ClientDisconnect)
    async def hung_up(request: Request, error: ClientDisconnect) -> Response:
        # the client's choice, not a failure of ours: one line, no traceback
        log.info("%s %s: the client hung up before its request was read whole",
                 request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED)  # nobody is left to read it

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # a bug of ours still answers as a problem (Starlette logs the traceback once)
        request.app.state.metrics.failed("rest", "internal")
        return problem_response(ServiceError(f"the server failed on this request "
                                             f"({type(error).__name__}); it is logged"),
                                request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        generic = ServiceError(str(error.detail))
        generic.kind = type(generic.kind)(error.status_code, "UNKNOWN", str(error.detail),
                                          f"http-{error.status_code}")
        return problem_response(generic, request.url.path)
