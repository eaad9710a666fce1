"""API keys, TLS and the limits (body size, camera count, camera rate, idle eviction)."""

from __future__ import annotations

import ssl
import subprocess
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, reflect, running, sequence

FRAME = sequence(41, 0)[0]
FILES = [("frames", ("0.png", png(FRAME), "image/png"))]


def frame_message(camera: str, t: int) -> pb.StreamFrame:
    return pb.StreamFrame(camera_id=camera, sequence=t, image=pb.Image(encoded=png(FRAME)))


def test_api_keys_over_both_protocols(engines):
    with running(engines, api_keys=["first-key", "second-key"]) as server, \
            grpc.insecure_channel(server.target) as channel:
        url = server.url + "/enhance"
        assert httpx.post(url, files=FILES).status_code == 401
        wrong = httpx.post(url, files=FILES, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert wrong.headers["content-type"] == "application/problem+json"
        ok = httpx.post(url, files=FILES, headers={"Authorization": "Bearer second-key"})
        assert ok.status_code == 200
        assert httpx.get(server.url + "/v1/model").status_code == 401
        assert httpx.get(server.url + "/healthz").status_code == 200  # probes stay open
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        request = pb.EnhanceRequest(frames=[pb.Image(encoded=png(FRAME))])
        for metadata in ((), (("authorization", "Bearer wrong"),)):
            with pytest.raises(grpc.RpcError) as caught:
                stub.Enhance(request, metadata=metadata)
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as caught:
                list(stub.Stream(iter([frame_message("k", 0)]), metadata=metadata))
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        good = (("authorization", "Bearer first-key"),)
        assert stub.Enhance(request, metadata=good).frames_used == 1
        assert len(list(stub.Stream(iter([frame_message("k", 0)]), metadata=good))) == 1


def test_with_keys_metrics_docs_and_reflection_need_one_unless_public_and_health_never(engines):
    key = (("authorization", "Bearer the-key"),)
    closed = ("/metrics", "/docs", "/openapi.json")
    for public in (False, True):
        settings = dict(public_metrics=public, public_docs=public, public_reflection=public)
        with running(engines, api_keys=["the-key"], **settings) as server, \
                grpc.insecure_channel(server.target) as channel:
            for path in ("/healthz", "/readyz", "/docs/assets/swagger-ui.css"):
                assert httpx.get(server.url + path).status_code == 200, path
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            for path in closed:
                anonymous = httpx.get(server.url + path)
                assert anonymous.status_code == (200 if public else 401), (path, public)
                assert httpx.get(server.url + path, headers=dict(key)).status_code == 200, path
            assert httpx.get(server.url + "/docs?key=the-key").status_code == 200
            spec = httpx.get(server.url + "/openapi.json", headers=dict(key)).json()
            assert ("security" in spec["paths"]["/metrics"]["get"]) is not public
            assert httpx.post(server.url + "/enhance", files=FILES).status_code == 401
            for version in ("v1", "v1alpha"):
                listing = reflection_pb2.ServerReflectionRequest(list_services="")
                assert reflect(channel, version, listing, key).list_services_response.service
                if public:
                    assert reflect(channel, version, listing).list_services_response.service
                    continue
                for metadata in ((), (("authorization", "Bearer no"),)):
                    with pytest.raises(grpc.RpcError) as caught:
                        reflect(channel, version, listing, metadata)
                    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, version


def test_tls_on_both_servers(engines, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    with running(engines, tls_cert=cert, tls_key=key) as server:
        https = f"https://127.0.0.1:{server.server.port}"
        trusted = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(https + "/healthz", verify=trusted).status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url + "/healthz")  # plain HTTP is not served
        credentials = grpc.ssl_channel_credentials(cert.read_bytes())
        with grpc.secure_channel(server.target, credentials) as channel:
            stub = enhance_pb2_grpc.EnhancerStub(channel)
            reply = stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=png(FRAME))]))
            assert reply.frames_used == 1


def test_body_limit(engines):
    with running(engines, max_body_bytes=4096) as server:
        big = [("frames", ("0.png", b"\x89PNG" + b"\0" * 8000, "image/png"))]
        reply = httpx.post(server.url + "/enhance", files=big)
        assert reply.status_code == 413 and "at most 4096 bytes" in reply.json()["detail"]

        def chunks():  # no Content-Length: counted while it streams in
            yield b"--b\r\nContent-Disposition: form-data; name=\"frames\"; filename=\"a\"\r\n\r\n"
            for _ in range(10):
                yield b"\0" * 1000

        streamed = httpx.post(server.url + "/enhance", content=chunks(),
                              headers={"content-type": "multipart/form-data; boundary=b"})
        assert streamed.status_code == 413
        assert httpx.get(server.url + "/readyz").status_code == 200


def test_camera_limit_over_both_protocols(engines):
    with running(engines, max_cameras=2, camera_idle_s=600) as server, \
            grpc.insecure_channel(server.target) as channel:
        for camera in ("one", "two"):
            assert httpx.post(server.url + "/enhance", files=FILES,
                              params={"camera_id": camera}).status_code == 200
        refused = httpx.post(server.url + "/enhance", files=FILES, params={"camera_id": "three"})
        assert refused.status_code == 429 and "limit of 2 cameras" in refused.json()["detail"]
        assert int(refused.headers["retry-after"]) >= 1
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=png(FRAME))],
                                           camera_id="three"))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit of 2 cameras" in caught.value.details()
        (result,) = stub.Stream(iter([frame_message("three", 0)]))
        assert result.status == pb.StreamResult.STATUS_SKIPPED
        assert result.reason.startswith("RESOURCE_EXHAUSTED") and "limit of 2" in result.reason


def test_camera_rate_limit(engines):
    with running(engines, camera_rate=0.5, camera_burst=2) as server, \
            grpc.insecure_channel(server.target) as channel:
        codes = [httpx.post(server.url + "/enhance", files=FILES,
                            params={"camera_id": "fast"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        results = list(stub.Stream(iter(frame_message("fast-stream", t) for t in range(3))))
        assert [r.status for r in results][-1] == pb.StreamResult.STATUS_SKIPPED
        assert "frames per second" in results[-1].reason


def test_idle_camera_is_evicted(engines):
    with running(engines, camera_idle_s=0.3) as server:
        httpx.post(server.url + "/enhance", files=FILES, params={"camera_id": "sleepy"})
        assert "sleepy" in server.service.buffers
        deadline = time.monotonic() + 5
        while "sleepy" in server.service.buffers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "sleepy" not in server.service.buffers
