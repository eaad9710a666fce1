"""The FastAPI app: only wiring. The service it serves is made and started by the caller."""

from __future__ import annotations

from fastapi import FastAPI

from nightowl.service.core import EnhanceService
from nightowl.service.rest import enhance, health, problems
from nightowl.service.rest.middleware import ReplicaAndBodyLimit


def create_app(service: EnhanceService) -> FastAPI:
    app = FastAPI(title="nightowl", summary="Bright, readable frames from dark roadside video",
                  version="1")
    app.state.service = service
    app.include_router(enhance.router)
    app.include_router(health.router)
    problems.install(app)
    app.add_middleware(ReplicaAndBodyLimit, replica=service.settings.replica_id,
                       limit=service.settings.max_body_bytes)
    return app
