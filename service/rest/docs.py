"""The API's description: /openapi.json, and /docs (Swagger UI) from assets installed with the
package (fastapi-offline's copy of swagger-ui-dist), so that the page works with no internet.
With api_keys set both need a key unless public_docs; a browser gives it as /docs?key=KEY,
which the page passes on to /openapi.json. The assets hold no data and need none."""

from __future__ import annotations

import importlib.resources
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from nightowl.service.errors import NotFound
from nightowl.service.rest.deps import DocsReader

STATIC = importlib.resources.files("fastapi_offline") / "static"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon.png": "image/png"}  # all the page loads

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json", dependencies=[DocsReader])
async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", dependencies=[DocsReader])
async def page(request: Request, key: Annotated[str | None, Query()] = None) -> HTMLResponse:
    spec = "/openapi.json" + (f"?key={quote(key, safe='')}" if key else "")
    return get_swagger_ui_html(openapi_url=spec, title=f"{request.app.title} API",
                               swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                               swagger_css_url="/docs/assets/swagger-ui.css",
                               swagger_favicon_url="/docs/assets/favicon.png",
                               swagger_ui_parameters={"validatorUrl": None})  # no online badge


@router.get("/docs/assets/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no docs asset {name!r}; there are {', '.join(ASSETS)}")
    return FileResponse(str(STATIC / name), media_type=ASSETS[name])
