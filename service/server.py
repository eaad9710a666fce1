"""Both servers on one event loop around one EnhanceService, with graceful shutdown.

Shutdown order: health goes NOT_SERVING (gRPC health and /readyz) and new frames are refused,
frames in flight finish within the grace period; those still waiting for or in an engine call
when it ends are answered 503 / UNAVAILABLE (retryable), then both servers stop and the engines
close. While serving, gRPC health follows the service's readiness (EnhanceService.unready), as
/readyz does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import grpc
import uvicorn
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from nightowl.service.rest.app import create_app
from nightowl.service.rest.protocol import with_head_timeout
from nightowl.service.rpc import enhance_pb2, reflection
from nightowl.service.rpc.servicer import SERVICE, EnhancerServicer
from nightowl.service.serving.enhance_service import EnhanceService
from nightowl.service.serving.metrics import Metrics
from nightowl.service.settings import Settings

log = logging.getLogger("nightowl.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the caller decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class Server:
    """REST (uvicorn) and gRPC (grpc.aio) on one event loop: ``start`` listens (health
    NOT_SERVING, /readyz 503), ``attach`` puts a loaded service behind both (SERVING), ``stop``
    shuts down gracefully."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.service: EnhanceService | None = None
        self.health = health.aio.HealthServicer()
        self.port = 0  # bound REST port, after start
        self.grpc_port = 0  # bound gRPC port, after start
        self._app = create_app(settings, self.metrics)
        self._servicer = EnhancerServicer(settings, self.metrics)
        self._grpc: grpc.aio.Server | None = None
        self._rest: _Uvicorn | None = None
        self._rest_task: asyncio.Task | None = None
        self._watch: asyncio.Task | None = None

    async def start(self) -> None:
        for name in ("", SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self._start_grpc()
        await self._start_rest()
        log.info("listening: REST on %s:%d, gRPC on %s:%d (replica %s)", self.settings.host,
                 self.port, self.settings.host, self.grpc_port, self.settings.replica_id)

    async def attach(self, service: EnhanceService) -> None:
        """Serve ``service`` (loaded and warmed up) from now on."""
        await service.start()
        self.service = self._servicer.service = self._app.state.service = service
        self.metrics.show_engines(service.engines)
        for name in ("", SERVICE):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._watch = asyncio.get_running_loop().create_task(self._follow_readiness())
        log.info("ready: serving %s on %s", service.engines["multi"].name,
                 service.engines["multi"].backend)

    async def _follow_readiness(self) -> None:
        """gRPC health says what /readyz says, checked a few times per ``stall_s``; each change
        is logged in one line."""
        period = min(1.0, self.settings.stall_s / 4)
        serving = True
        while True:
            await asyncio.sleep(period)
            reason = self.service.unready()
            if (reason is None) != serving:
                serving = reason is None
                status = health_pb2.HealthCheckResponse
                for name in ("", SERVICE):
                    await self.health.set(name, status.SERVING if serving else
                                          status.NOT_SERVING)
                if serving:
                    log.info("ready again")
                else:
                    log.warning("not ready: %s", reason)

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_s
        if self._watch is not None:
            self._watch.cancel()
        await self.health.enter_graceful_shutdown()
        if self.service is not None and not await self.service.drain(grace):
            log.warning("%d frames still in flight after %.1f s of grace: answered 503 / "
                        "UNAVAILABLE", self.service.in_flight.count, grace)
            await self.service.abandon()
            await self.service.drain(1.0)  # their answers go out before the servers stop
        if self._rest is not None:
            self._rest.should_exit = True
        if self._grpc is not None:
            await self._grpc.stop(min(grace, 1.0))
        if self._rest_task is not None:
            await self._rest_task
        if self.service is not None:
            await self.service.close()

    async def _start_grpc(self) -> None:
        settings = self.settings
        limit = settings.grpc_max_message_bytes
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
            # slow or vanished clients: a connection must finish its handshake in time, an idle
            # one is closed, and a silent peer is found by keepalive pings
            ("grpc.server_handshake_timeout_ms", int(settings.head_timeout_s * 1000)),
            ("grpc.max_connection_idle_ms", int(settings.grpc_idle_s * 1000)),
            ("grpc.keepalive_time_ms", int(settings.grpc_keepalive_s * 1000)),
            ("grpc.keepalive_timeout_ms", 20_000),
            ("grpc.http2.max_pings_without_data", 0)])
        server.add_generic_rpc_handlers((self._servicer.handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)  # open: probes
        names = (enhance_pb2.DESCRIPTOR.services_by_name["Enhancer"].full_name,
                 health.SERVICE_NAME)
        server.add_generic_rpc_handlers(reflection.handlers(self.settings, names))
        address = f"{self.settings.host}:{self.settings.grpc_port}"
        if self.settings.tls_cert is not None:
            credentials = grpc.ssl_server_credentials(
                [(self.settings.tls_key.read_bytes(), self.settings.tls_cert.read_bytes())])
            self.grpc_port = server.add_secure_port(address, credentials)
        else:
            self.grpc_port = server.add_insecure_port(address)
        await server.start()
        self._grpc = server

    async def _start_rest(self) -> None:
        family = socket.AF_INET6 if ":" in self.settings.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.settings.host, self.settings.port))
        self.port = sock.getsockname()[1]
        tls = {}
        if self.settings.tls_cert is not None:
            tls = {"ssl_certfile": str(self.settings.tls_cert),
                   "ssl_keyfile": str(self.settings.tls_key)}
        config = uvicorn.Config(self._app, log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1,
                                server_header=False,
                                http=with_head_timeout(self.settings.head_timeout_s),
                                timeout_keep_alive=self.settings.keep_alive_s,
                                h11_max_incomplete_event_size=self.settings.max_head_bytes,
                                **tls)
        self._rest = _Uvicorn(config)
        self._rest_task = asyncio.get_running_loop().create_task(self._rest.serve([sock]))
        while not self._rest.started:
            if self._rest_task.done():
                self._rest_task.result()
            await asyncio.sleep(0.01)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Listen at once, load the model (readiness stays 503 meanwhile), serve until ``stop`` is
    set, then shut down gracefully."""
    server = Server(settings)
    await server.start()
    try:
        loading = asyncio.get_running_loop().run_in_executor(
            None, EnhanceService.load, settings, server.metrics)
        done, _ = await asyncio.wait([loading, asyncio.ensure_future(stop.wait())],
                                     return_when=asyncio.FIRST_COMPLETED)
        if loading in done:
            await server.attach(loading.result())
            await stop.wait()
    finally:
        await server.stop()
