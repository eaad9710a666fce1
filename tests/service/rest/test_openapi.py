"""/openapi.json says what the server really answers: each status /enhance can give, provoked
against a real server, has its content type, body and headers checked against what the
document declares for it (JSON Schema 2020-12, the dialect of OpenAPI 3.1)."""

from __future__ import annotations

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.serving import png, running, sequence

KEY = {"Authorization": "Bearer contract-key"}
FRAME = png(sequence(3, 0)[0])
TINY = png(sequence(3, 0)[0][:8, :8])  # below the smallest side the model takes
LIMIT = 256 * 1024  # max_body_bytes of the server under test
PROBLEMS = {400, 401, 409, 413, 415, 422, 429, 503}
SENT = ("x-", "retry-after", "www-authenticate", "server-timing")  # headers that must be declared


@pytest.fixture(scope="module")
def serving(engines):
    """A loaded server with a key, one camera at most and a small body limit, and one still
    loading its model (503)."""
    settings = dict(api_keys=["contract-key"], max_cameras=1, max_body_bytes=LIMIT)
    with running(engines, **settings) as loaded, running(None, **settings) as loading:
        yield loaded, loading


@pytest.fixture(scope="module")
def spec(serving):
    answer = httpx.get(serving[0].url + "/openapi.json", headers=KEY)
    assert answer.status_code == 200
    return answer.json()


def enhance(url: str, headers: dict = KEY, **options) -> httpx.Response:
    options.setdefault("files", [("frames", ("0.png", FRAME, "image/png"))])
    return httpx.post(url + "/enhance", headers=headers, timeout=30, **options)


def value(text: str, schema: dict) -> object:
    """A header's text as the type its schema declares."""
    return {"integer": int, "number": float}.get(schema.get("type"), str)(text)


def check(spec: dict, method: str, path: str, answer: httpx.Response) -> None:
    """``answer`` is one the document declares for ``method path``: status, content type, body,
    required headers present, every header sent declared and valid."""
    declared = spec["paths"][path][method]["responses"].get(str(answer.status_code))
    assert declared is not None, f"{method} {path} answered {answer.status_code}: not declared"
    media = answer.headers["content-type"].split(";")[0]
    content = {name.split(";")[0]: body for name, body in declared["content"].items()}
    assert media in content, (answer.status_code, media, list(content))
    schema = content[media].get("schema")
    if media.endswith("json"):
        jsonschema.Draft202012Validator({**schema, "components": spec["components"]},
                                        format_checker=None).validate(answer.json())
    headers = {name.lower(): header for name, header in declared.get("headers", {}).items()}
    for name, header in headers.items():
        if name in answer.headers:
            jsonschema.validate(value(answer.headers[name], header["schema"]), header["schema"])
        else:
            assert not header.get("required"), f"{answer.status_code}: {name} missing"
    sent = {name for name in answer.headers if name.startswith(SENT)}
    assert sent <= set(headers), f"{answer.status_code}: {sent - set(headers)} not declared"


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1.")
    validate(spec)
    broken = {**spec, "paths": {"/enhance": {"post": {"responses": {"200": {}}}}}}
    with pytest.raises(OpenAPIValidationError, match="description"):
        validate(broken)  # a response without its description


def test_every_status_of_enhance_is_declared_with_its_problem_schema(spec):
    answers = spec["paths"]["/enhance"]["post"]["responses"]
    assert PROBLEMS | {200} <= {int(status) for status in answers}
    for status in PROBLEMS:
        (media,) = answers[str(status)]["content"]
        assert media == "application/problem+json"
    assert "Retry-After" in answers["429"]["headers"] and "Retry-After" in answers["503"]["headers"]
    assert {"X-Frames-Used", "X-Status", "X-Gain-Used", "X-Gain-Source", "Server-Timing"} <= set(
        answers["200"]["headers"])
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "HTTPValidationError" not in str(spec)  # FastAPI's 422 body is never sent


def test_each_answer_the_server_gives_is_the_one_declared(serving, spec):
    loaded, loading = serving
    url = loaded.url
    sent_415 = [enhance(url, files=None, content=b"frame",
                        headers={**KEY, "Content-Type": "image/png"})]
    answers = {
        200: [enhance(url), enhance(url, data={"camera_id": "cam-a", "sequence": "5"})],
        400: [enhance(url, data={"sequence": "x"})],
        401: [enhance(url, headers={}), enhance(url, headers={"Authorization": "Bearer no"})],
        409: [enhance(url, data={"camera_id": "cam-a", "sequence": "5"})],  # a duplicate
        413: [enhance(url, files=[("frames", ("0.png", bytes(LIMIT + 1), "image/png"))])],
        415: [*sent_415, enhance(url, files=[("frames", ("0.png", b"not a png", "image/png"))])],
        422: [enhance(url, files=[("frames", ("0.png", TINY, "image/png"))])],  # 8x8 px
        429: [enhance(url, data={"camera_id": "cam-b"})],  # max_cameras=1: cam-a holds it
        503: [enhance(loading.url)],
    }
    for status, sent in answers.items():
        for answer in sent:
            assert answer.status_code == status, (status, answer.text)
            check(spec, "post", "/enhance", answer)
    assert {int(s) for s in answers} == PROBLEMS | {200}
    assert answers[200][1].headers["x-camera-id"] == "cam-a"
    assert "retry-after" in answers[503][0].headers and "retry-after" in answers[429][0].headers


def test_the_key_is_a_security_scheme_where_it_is_checked_and_health_needs_none(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an API key of the server (setting "
        "api_keys)"}
    operations = {(method, path): operation for path, methods in spec["paths"].items()
                  for method, operation in methods.items()}
    for where in (("post", "/enhance"), ("get", "/metrics"), ("get", "/v1/model")):
        assert operations[where]["security"] == [{"bearer": []}], where
    assert operations["get", "/live"]["security"] == [{"bearer": []}, {"key": []}]
    for where in (("get", "/healthz"), ("get", "/readyz")):
        assert "security" not in operations[where], where
    for operation in operations.values():  # OpenAPI ignores an Authorization parameter
        assert "authorization" not in {p["name"].lower() for p in operation.get("parameters", [])}


def test_metrics_readiness_and_model_answer_as_declared(serving, spec):
    loaded, loading = serving
    for server, path, headers, status in (
            (loaded, "/metrics", KEY, 200), (loaded, "/metrics", {}, 401),
            (loaded, "/readyz", {}, 200), (loading, "/readyz", {}, 503),
            (loaded, "/v1/model", KEY, 200), (loaded, "/v1/model", {}, 401),
            (loading, "/v1/model", KEY, 503), (loaded, "/healthz", {}, 200)):
        answer = httpx.get(server.url + path, headers=headers)
        assert answer.status_code == status, (path, answer.text)
        check(spec, "get", path, answer)
    metrics = spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]


def test_a_wrong_answer_fails_the_check(serving, spec):
    answer = enhance(serving[0].url, data={"sequence": "x"})
    wrong = httpx.Response(400, headers={**answer.headers, "X-Undeclared": "1"},
                           content=answer.content)
    with pytest.raises(AssertionError, match="x-undeclared"):
        check(spec, "post", "/enhance", wrong)
    body = httpx.Response(400, headers=answer.headers, content=b'{"status": 400}')
    with pytest.raises(jsonschema.ValidationError):
        check(spec, "post", "/enhance", body)
