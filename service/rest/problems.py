"""Every REST error as an RFC 9457 problem+json response, from one exception hierarchy."""

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
        request.app.state.metrics.errors.labels("rest", error.kind.slug).inc()
        return problem_response(error, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in error.errors())
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
        request.app.state.metrics.errors.labels("rest", "internal").inc()
        return problem_response(ServiceError(f"the server failed on this request "
                                             f"({type(error).__name__}); it is logged"),
                                request.url.path)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        generic = ServiceError(str(error.detail))
        generic.kind = type(generic.kind)(error.status_code, "UNKNOWN", str(error.detail),
                                          f"http-{error.status_code}")
        return problem_response(generic, request.url.path)
