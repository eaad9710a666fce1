"""Every setting of the server, validated once at start-up (environment ``NIGHTOWL_*``)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Literal, NoReturn

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """The server's configuration; ``NIGHTOWL_<FIELD>`` sets any field (lists as JSON)."""

    model_config = SettingsConfigDict(env_prefix="NIGHTOWL_", extra="forbid", frozen=True)

    # --- where it listens
    host: str = "127.0.0.1"  # REST and gRPC bind address
    port: int = Field(8000, ge=0, le=65535)  # REST port (0: any free port)
    grpc_port: int = Field(50051, ge=0, le=65535)  # gRPC port (0: any free port)
    replica_id: str = Field(default_factory=socket.gethostname)  # X-Nightowl-Replica / replica
    # --- models
    model: str = "mim_l1_cr.onnx"  # the served enhancer (file name in models_dir, or a path)
    few_frames: Literal["auto", "single", "repeat"] = "auto"  # < T frames: "single": the
    #   single-image model on frame T; "repeat": the multi-image model with the oldest frame
    #   repeated; "auto": single for 1 frame, repeat for 2-3 (measured best, bench/README.md)
    single_model: str = "sim_l1_cr.onnx"  # the single-image model of "single" and "auto"
    alignment: Literal["dis", "network"] = "dis"  # how frames are aligned onto frame T: "dis"
    #   (OpenCV DIS on the CPU, the networks' training alignment) or "network" (flow_model on
    #   the engine's backend)
    flow_model: str = "flow.onnx"  # the flow network of alignment "network"
    models_dir: Path | None = None  # None: the repository's / installed models/ folder
    backend: str = "auto"  # engine backend: auto, onnxruntime-cpu, onnxruntime-cuda, ...
    threads: int | None = Field(None, ge=1)  # engine intra-op threads; None: the backend's
    cpu_precision: Literal["int8", "fp32"] = "int8"  # onnxruntime-cpu (named or where auto
    #   ends) runs the model's int8 copy when the manifest lists one; GPU backends run fp32
    require_gpu: bool = False  # a GPU host: an engine that ends on onnxruntime-cpu (auto with
    #   no usable GPU) stops the server at start-up, exit 2, instead of serving slowly (the GPU
    #   image sets it; served.load_engines says why it refuses rather than staying unready)
    warmup_sizes: list[tuple[int, int]] = [(240, 320)]  # (height, width) run once at start
    gain: float | None = Field(None, gt=0, le=1000, allow_inf_nan=False)  # the cameras'
    #   darkening S (output / input brightness) when a request does not tell it; None: a
    #   model with a reference_gain estimates it per frame (telling it is better)
    # --- per-camera buffers
    max_cameras: int = Field(256, ge=1)  # cameras with a buffer at once; more: 429
    camera_idle_s: float = Field(60.0, gt=0)  # a camera silent this long loses its buffer
    max_sequence_gap: int = Field(2, ge=0)  # more missing sequence numbers: buffer reset
    scene_change: float = Field(0.27, gt=0)  # relative grey difference that resets a buffer
    # --- background memory (frames.background): each camera's long-term estimate of what does
    #     not move, kept next to its buffer and freed with it
    background_memory: bool = False  # keep a memory per camera (REST camera_id and gRPC
    #   streams alike) and lean the answer on it where it is trusted; off: every
    #   frame from T frames alone
    background_memory_frames: int = Field(256, ge=2, le=65535)  # most frames a static pixel
    #   averages (its noise falls as 1 / sqrt(N)); then an exponential average of weight 1 / N
    background_join_frames: int = Field(30, ge=2, le=255)  # frames a changed pixel (a car
    #   that parks, the road a car left) must stay the same to join the memory; not yet
    #   joined, the memory is not used there
    # --- batching and admission
    max_batch: int = Field(8, ge=1)  # frames in one engine call
    max_wait_ms: float = Field(4.0, ge=0)  # longest a frame waits for others to fill a batch
    queue_limit: int = Field(32, ge=1)  # frames admitted and not yet answered, all callers
    stream_queue_limit: int = Field(2, ge=1)  # the same, per gRPC stream; more: skipped
    align_threads: int = Field(2, ge=1)  # threads that decode and align frames
    retry_after_s: int = Field(1, ge=1)  # Retry-After on 429/503
    # --- limits
    max_frames: int = Field(4, ge=1, le=4)  # frames per request
    max_pixels: int = Field(3840 * 2160, ge=256)  # width * height per frame, from the header
    max_body_bytes: int = Field(64 * MIB, ge=1024)  # one REST request body
    grpc_max_message_bytes: int = Field(64 * MIB, ge=4 * MIB)  # one gRPC message
    camera_rate: float = Field(60.0, gt=0)  # requests per second per camera (token bucket)
    camera_burst: int = Field(30, ge=1)  # ...with this burst
    # --- security
    api_keys: list[SecretStr] = []  # accepted keys (Bearer / metadata); empty: no auth
    allow_unauthenticated: bool = False  # serve without keys on a non-loopback host
    tls_cert: Path | None = None  # PEM certificate chain: TLS on both servers
    tls_key: Path | None = None  # PEM private key of tls_cert
    # --- live view
    live_page: bool = True  # GET /live: each camera's input and output side by side (MJPEG)
    live_max_fps: float = Field(10.0, gt=0, le=120)  # most JPEG parts per second per viewer
    # --- lifecycle
    shutdown_grace_s: float = Field(10.0, ge=0)  # in-flight frames get this long to finish
    # --- faults: readiness, memory, slow clients, logs
    stall_s: float = Field(30.0, gt=0)  # not ready (/readyz 503, gRPC NOT_SERVING) while
    #   frames are in flight and none has been answered, or an engine call or queue has not
    #   moved, for this long; also while an engine's worker is dead
    head_timeout_s: float = Field(10.0, gt=0)  # a REST request's line and headers must arrive
    #   within this of the connection opening (or of the next request's first byte); the gRPC
    #   server's handshake timeout too
    max_head_bytes: int = Field(16 * 1024, ge=1024)  # most bytes of an incomplete REST head
    body_timeout_s: float = Field(60.0, gt=0)  # a REST request body must be in whole within
    #   this of its head; slower: 408 and the connection closed
    keep_alive_s: int = Field(5, ge=1)  # an idle REST keep-alive connection is closed after this
    grpc_idle_s: float = Field(300.0, gt=0)  # a gRPC connection with no call for this long is
    #   closed (GOAWAY; clients reconnect on their next call)
    grpc_keepalive_s: float = Field(60.0, gt=0)  # the gRPC server pings a connection this
    #   often and drops it when the ping is not answered within 20 s (a vanished client)
    access_log: bool = True  # one line per REST request and gRPC call (nightowl.access):
    #   method, path, camera, status, frames, ms
    memory_budget_bytes: int = Field(default_factory=lambda: host_memory() // 2,
                                     ge=64 * MIB)  # decoded pixels in camera buffers plus
    #   the estimated peak of frames in flight (serving/memory.py), at most this; more: 503 /
    #   RESOURCE_EXHAUSTED naming it; default half the host's memory (physical, or the
    #   cgroup's limit when lower)
    # --- what answers without a key when api_keys are set (health always does)
    public_metrics: bool = False  # GET /metrics (a Prometheus that cannot send a bearer token)
    public_docs: bool = False  # GET /docs and /openapi.json (the page's JS and CSS always are)
    public_reflection: bool = False  # gRPC server reflection (v1 and v1alpha)

    @model_validator(mode="before")
    @classmethod
    def _known_variables(cls, values: object) -> object:
        unknown(os.environ, cls.model_fields)
        return values

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.require_gpu and self.backend == "onnxruntime-cpu":
            raise ValueError("require_gpu (NIGHTOWL_REQUIRE_GPU) is true but backend is "
                             "onnxruntime-cpu: name a GPU backend or auto, or turn "
                             "require_gpu off")
        if self.background_join_frames > self.background_memory_frames:
            raise ValueError(f"background_join_frames ({self.background_join_frames}) must not "
                             f"exceed background_memory_frames "
                             f"({self.background_memory_frames})")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key must be set together (PEM files), got only "
                             f"{'tls_cert' if self.tls_cert else 'tls_key'}")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"TLS file {path} does not exist")
        if not self.api_keys and not self.allow_unauthenticated and not _loopback(self.host):
            raise ValueError(f"host {self.host} is reachable from other machines: set api_keys "
                             "(NIGHTOWL_API_KEYS='[\"key\"]') or allow_unauthenticated "
                             "(NIGHTOWL_ALLOW_UNAUTHENTICATED=true)")
        return self


def from_options(options: Mapping[str, object], fail: Callable[[str], NoReturn]) -> Settings:
    """The settings of a command: the environment, with the options given (not None) on top;
    when they do not validate, ``fail`` gets one line naming each bad field and why."""
    try:
        return Settings(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as error:
        fail("; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}"
                       for e in error.errors()))


def host_memory() -> int:
    """Bytes of memory this process may use: physical memory, or the cgroup (v2 or v1) limit
    of its container when that is lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in (Path("/sys/fs/cgroup/memory.max"),
                  Path("/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            text = limit.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return min(physical, int(text))
    return physical


# NIGHTOWL_* variables that are not settings of the server, and who reads them
NOT_SETTINGS = {
    "NIGHTOWL_REST_SERVERS": "the router (docker/nginx/nightowl.conf.template)",
    "NIGHTOWL_GRPC_SERVERS": "the router",
    "NIGHTOWL_ROUTER_REST_LISTEN": "the router",
    "NIGHTOWL_ROUTER_GRPC_LISTEN": "the router",
    "NIGHTOWL_ROUTER_RESOLVER": "the router",
    "NIGHTOWL_GPU_1": "docker/compose.yaml (the scale-out replicas' devices)",
    "NIGHTOWL_GPU_2": "docker/compose.yaml",
    "NIGHTOWL_LIVE_SCREENSHOT": "tests/service/rest/test_live_browser.py (the README's picture)",
}


def unknown(environ: Mapping[str, str], fields: Iterable[str]) -> None:
    """ValueError naming each ``NIGHTOWL_*`` variable of ``environ`` that sets no field (nor is
    in NOT_SETTINGS), with the closest setting: a misspelt variable would otherwise be ignored."""
    fields = sorted(fields)
    wrong = sorted(name for name in map(str.upper, environ) if name.startswith("NIGHTOWL_")
                   and name.removeprefix("NIGHTOWL_").lower() not in fields
                   and name not in NOT_SETTINGS)
    if wrong:
        raise ValueError("; ".join(f"{name} is not a setting{_closest(name, fields)}"
                                   for name in wrong) + " (service/settings.py lists them)")


def _closest(name: str, fields: list[str]) -> str:
    close = difflib.get_close_matches(name.removeprefix("NIGHTOWL_").lower(), fields, n=1)
    return f": did you mean NIGHTOWL_{close[0].upper()}?" if close else ""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
