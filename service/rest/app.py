"""The FastAPI app: only wiring. The service it serves is attached by the caller once loaded
(``app.state.service``; until then every route but the probes, metrics and docs answers 503)."""

from __future__ import annotations

from fastapi import FastAPI

from nightowl.service.rest import docs, enhance, health, live, openapi, problems
from nightowl.service.rest.middleware import AccessLog, ReplicaAndBodyLimit
from nightowl.service.serving.metrics import Metrics
from nightowl.service.settings import Settings


def create_app(settings: Settings, metrics: Metrics) -> FastAPI:
    app = FastAPI(title="nightowl", summary="Bright, readable frames from dark roadside video",
                  version="1", docs_url=None, redoc_url=None, openapi_url=None)  # docs.router
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service = None
    app.include_router(enhance.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    if settings.live_page:
        app.include_router(live.router)
    problems.install(app)
    openapi.install(app)
    app.add_middleware(ReplicaAndBodyLimit, replica=settings.replica_id,
                       limit=settings.max_body_bytes, timeout_s=settings.body_timeout_s,
                       metrics=metrics)
    if settings.access_log:
        app.add_middleware(AccessLog)  # outermost: it sees every answer, refusals included
    return app
