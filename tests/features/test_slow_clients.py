"""Slow clients on real sockets: a connection that sends half a request head, half a body or
nothing at all is closed within the bounds the settings give, on REST and gRPC."""

from __future__ import annotations

import socket
import time

import pytest

from tests.serving import running

BOUND = 0.5  # s: head_timeout_s and body_timeout_s here
WAIT = 10.0  # s: how long the test waits for the server to hang up (20 times the bound)


@pytest.fixture(scope="module")
def server(engines):
    with running(engines, head_timeout_s=BOUND, body_timeout_s=BOUND) as run:
        yield run


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (fails after WAIT)."""
    sock.settimeout(WAIT)
    received = b""
    deadline = time.monotonic() + WAIT
    while chunk := sock.recv(65536):
        received += chunk
        assert time.monotonic() < deadline
    return received


def connect(port: int, sent: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(sent)
    return sock


@pytest.mark.parametrize("sent", [b"", b"POST /enhance HTTP/1.1\r\nHost: nightowl\r\n"],
                         ids=["nothing", "half a head"])
def test_rest_connection_without_a_whole_head_is_closed(server, sent):
    with connect(server.server.port, sent) as sock:
        assert until_closed(sock) == b""  # closed, nothing answered (no request was made)


def test_rest_body_that_stops_coming_gets_408_and_a_closed_connection(server):
    head = (b"POST /enhance HTTP/1.1\r\nHost: nightowl\r\nContent-Length: 100000\r\n"
            b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n")
    part = (b"--xyz\r\nContent-Disposition: form-data; name=\"frames\"; filename=\"0.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + b"x" * 1000)
    with connect(server.server.port, head + part) as sock:
        answer = until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"application/problem+json" in answer and b"did not arrive within" in answer


def test_grpc_connection_with_half_a_preface_is_closed(server):
    with connect(server.server.grpc_port, b"PRI * HTTP/2.0\r\n") as sock:
        until_closed(sock)
