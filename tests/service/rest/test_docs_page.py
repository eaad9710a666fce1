"""/docs works offline: the page and everything it loads come from the server itself."""

from __future__ import annotations

import re

import httpx

REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")


def test_docs_page_names_no_other_host_and_the_server_serves_all_it_loads(server):
    page = httpx.get(server.url + "/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"(?:https?:)?//[\w-]+\.[\w.-]+", page.text), page.text
    loaded = [a or b for a, b in REFERENCE.findall(page.text)]
    assert {"/openapi.json", "/docs/assets/swagger-ui-bundle.js",
            "/docs/assets/swagger-ui.css"} <= set(loaded)
    for path in loaded:
        assert path.startswith("/"), path
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200 and len(answer.content) > 100, path
    bundle = httpx.get(server.url + "/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert httpx.get(server.url + "/docs/assets/other.js").status_code == 404
    assert httpx.get(server.url + "/redoc").status_code == 404  # its page came from a CDN
