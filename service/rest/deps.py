"""What routes share, as Annotated dependencies: the service, and the API-key checks (health
needs none; metrics and the docs need one unless their public_* setting opens them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, Request

from nightowl.service.errors import NotReady
from nightowl.service.serving.auth import check_bearer, check_viewer
from nightowl.service.serving.enhance_service import EnhanceService


def get_service(request: Request) -> EnhanceService:
    service = request.app.state.service
    if service is None:
        raise NotReady("starting: the model is still loading", retry_after=1)
    return service


def authorised(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    check_bearer(authorization, request.app.state.settings.api_keys)


def viewer(request: Request, authorization: Annotated[str | None, Header()] = None,
           key: Annotated[str | None, Query()] = None) -> None:
    check_viewer(authorization, key, request.app.state.settings.api_keys)


def metrics_reader(request: Request,
                   authorization: Annotated[str | None, Header()] = None) -> None:
    settings = request.app.state.settings
    if not settings.public_metrics:
        check_bearer(authorization, settings.api_keys)


def docs_reader(request: Request, authorization: Annotated[str | None, Header()] = None,
                key: Annotated[str | None, Query()] = None) -> None:
    settings = request.app.state.settings
    if not settings.public_docs:
        check_viewer(authorization, key, settings.api_keys)


Service = Annotated[EnhanceService, Depends(get_service)]
Authorised = Depends(authorised)
Viewer = Depends(viewer)
MetricsReader = Depends(metrics_reader)
DocsReader = Depends(docs_reader)
