"""Liveness, readiness, Prometheus metrics, and what model is loaded."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from nightowl.service.errors import NotReady
from nightowl.service.rest import problems
from nightowl.service.rest.deps import Authorised, MetricsReader, Service
from nightowl.service.serving.metrics import engine_info

router = APIRouter()


@router.get("/healthz", summary="Alive: the process answers")
async def healthz() -> dict:
    return {"status": "alive"}


@router.get("/readyz", summary="Ready: model loaded and warmed up, not shutting down, "
            "engines running and work moving", responses=problems.responses(503))
async def readyz(service: Service) -> dict:
    if (reason := service.unready()) is not None:
        raise NotReady(reason)
    return {"status": "ready", **engine_info(service.engines["multi"])}


@router.get("/metrics", summary="Prometheus metrics", dependencies=[MetricsReader],
            response_class=PlainTextResponse,
            responses={200: {"description": "the Prometheus text format (its version in the "
                             "Content-Type)"}, **problems.responses(401)})
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/model", summary="The loaded model: manifest entry, backend, alignment",
            dependencies=[Authorised], responses=problems.responses(401, 503))
async def model(service: Service) -> dict:
    return service.describe()
