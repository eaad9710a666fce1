"""/docs works offline: the page and everything it loads come from the server itself, and
Swagger UI draws the API in a browser that cannot reach the internet."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.service.rest.browser import CHROMIUM, chromium
from tests.serving import running

REFERENCE = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")
OPERATIONS = ("Array.from(document.querySelectorAll('.opblock-summary')).map((o) =>"
              " o.querySelector('.opblock-summary-method').textContent + ' ' +"
              " o.querySelector('.opblock-summary-path').getAttribute('data-path'))")


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


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium on PATH")
def test_docs_page_renders_every_operation_in_a_browser_with_no_internet(engines):
    with running(engines, api_keys=["docs-key"]) as server, \
            chromium(1200, 900, offline=True) as page:
        page.call("Page.navigate", url=server.url + "/docs?key=docs-key")
        deadline = time.monotonic() + 20
        while not (shown := page.evaluate(OPERATIONS)):
            assert time.monotonic() < deadline, "Swagger UI showed no operation in 20 s"
            time.sleep(0.1)
        time.sleep(0.5)  # every operation drawn
        shown = page.evaluate(OPERATIONS)
        probe = page.call("Runtime.evaluate", awaitPromise=True, returnByValue=True,
                          expression="fetch('https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/')"
                                     ".then(() => 'reached', () => 'unreachable')")
    assert probe["result"]["value"] == "unreachable"  # the browser really had no internet
    assert {"POST /enhance", "GET /metrics", "GET /readyz"} <= set(shown), shown
