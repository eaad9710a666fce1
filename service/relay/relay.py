"""The relay loop: one camera's frames from a ``Source`` onto a gRPC ``Stream``, the enhanced
frames into an ``H264Writer`` at the source's timestamps.

A broken stream is replaced by a new one after a bounded, exponential backoff (the camera's
buffer restarts server-side, as on any new stream); an answer on a stream resets the count.
Frames are never resent: a frame whose stream broke is answered "lost", a SKIPPED one stays
skipped (resending into an overloaded server only deepens its queue).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import numpy as np

from nightowl.service.relay import RelayError
from nightowl.service.relay.clock import CaptureClock
from nightowl.service.relay.link import Link, Sent, StreamBrokenError
from nightowl.service.relay.report import Report
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from nightowl.service.video.sink import H264Writer
from nightowl.service.video.source import Frame

MAX_MESSAGE_BYTES = 64 << 20  # the server's default grpc_max_message_bytes
# sequence numbers skipped when the source reconnects: more than the server's max_sequence_gap,
# so the camera's buffer restarts instead of aligning frames across the cut
SEGMENT_GAP = 1000
WRITTEN = {pb.StreamResult.STATUS_OK: "ok", pb.StreamResult.STATUS_WARMING_UP: "warming_up"}
NOT_WRITTEN = {pb.StreamResult.STATUS_SKIPPED: "skipped", pb.StreamResult.STATUS_ERROR: "error"}


@dataclass(frozen=True)
class RelayOptions:
    server: str  # HOST:PORT of the gRPC server
    camera_id: str  # StreamFrame.camera_id (1 to 128 printable characters)
    api_key: str | None = None  # sent as metadata "authorization: Bearer <key>"
    tls: bool = False  # TLS to the server (off: a plain connection, as on a private network)
    tls_ca: str | None = None  # PEM roots for TLS; None: the system's
    max_in_flight: int = 4  # frames sent and not yet answered, at most; more: the sender waits
    deadline_s: float = 10.0  # longest wait for one frame's answer before the stream is dropped
    reconnects: int = 5  # new streams tried after a break; an answer resets the count
    reconnect_delay_s: float = 0.5  # wait before the first new stream; doubles at each next
    gain: float | None = None  # StreamFrame.gain; None: the server's setting or its estimate


class Relay:
    """Relays ``frames`` with ``options``, counting into ``report``; :meth:`run` once."""

    def __init__(self, options: RelayOptions, writer: H264Writer, report: Report,
                 log: Callable[[str], None] | None = None) -> None:
        self.options = options
        self.writer = writer
        self.report = report
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.failure: str | None = None  # set by the reader when the output cannot be written
        self._channel = _channel(options)
        self._stub = enhance_pb2_grpc.EnhancerStub(self._channel)
        self._metadata = [("x-camera-id", options.camera_id)] + (
            [("authorization", f"Bearer {options.api_key}")] if options.api_key else [])
        self._link: Link | None = None
        self._attempts = 0

    def run(self, frames: Iterator[Frame], clock: CaptureClock,
            tick: Callable[[], None] = lambda: None) -> None:
        """Send every frame of ``frames``, then wait for their answers; ``RelayError`` when the
        server stays unreachable. ``tick`` runs after each frame (the periodic report)."""
        sequence, segment = 0, None
        try:
            for frame in frames:
                self.report.read += 1
                if segment is not None and frame.segment != segment:
                    sequence += SEGMENT_GAP
                segment = frame.segment
                self._send(frame, sequence, clock.capture(frame))
                sequence += 1
                tick()
        finally:
            self._finish()

    def _send(self, frame: Frame, sequence: int, capture_s: float) -> None:
        image = np.ascontiguousarray(frame.image)
        # raw RGB8 both ways: no PNG encode here nor decode there (milliseconds a frame each)
        message = pb.StreamFrame(
            camera_id=self.options.camera_id, sequence=sequence,
            capture_time_us=round(capture_s * 1e6), format=pb.OUTPUT_FORMAT_RGB8,
            image=pb.Image(rgb8=image.tobytes(), width=image.shape[1], height=image.shape[0]),
            **({"gain": self.options.gain} if self.options.gain else {}))
        while True:
            if self.failure is not None:
                raise RelayError(self.failure)
            link = self._link or self._connect()
            try:
                link.send(message, Sent(sequence, frame.pts, capture_s))
            except StreamBrokenError as cut:
                self._drop(str(cut))
                continue
            self.report.sent += 1
            return

    def _connect(self) -> Link:
        self._link = Link(self._stub, self._metadata, self.options.max_in_flight,
                          self.options.deadline_s, self._deliver)
        return self._link

    def _drop(self, cut: str) -> None:
        """Forget the broken stream and wait before the next one; ``RelayError`` when the
        attempts are used up."""
        answered = self._link.answered if self._link is not None else 0
        refused = self._link is not None and self._link.refused
        if self._link is not None:
            self._link.close()
            self._link = None
        if refused:
            raise RelayError(f"{self.options.server} refused the stream: {cut}")
        self._attempts = 0 if answered else self._attempts
        if self._attempts >= self.options.reconnects:
            raise RelayError(f"cannot reach {self.options.server}: {cut}; gave up after "
                             f"{self.options.reconnects} reconnection attempts")
        delay = self.options.reconnect_delay_s * 2**self._attempts
        self._attempts += 1
        self.log(f"{self.options.server}: {cut}; new stream in {delay:g} s (attempt "
                 f"{self._attempts} of {self.options.reconnects})")
        time.sleep(delay)
        self.report.reconnects += 1

    def _finish(self) -> None:
        """Wait for the last answers and close the connection."""
        if self._link is not None:
            self._link.close()
            self._link = None
        self._channel.close()

    def _deliver(self, sent: Sent, result: pb.StreamResult | None, reason: str) -> None:
        """One frame's answer (on the stream's reader thread): written or counted."""
        if result is None:
            self.report.result("lost", reason=reason)
        elif result.status in WRITTEN and self.failure is None:
            image = result.image
            try:
                enhanced = np.frombuffer(image.rgb8, np.uint8).reshape(image.height, image.width,
                                                                       3)
            except ValueError:
                self.report.result("error", reason="the answer's image is not width * height * "
                                   "3 bytes of RGB8")
                return
            try:
                self.writer.write(enhanced, sent.pts)
            except Exception as error:  # any failure of the encoder: the sender reports it
                self.failure = f"cannot write {self.writer.path}: {error}"
                self.report.result("error")
                return
            self.report.result(WRITTEN[result.status], time.time() - sent.capture_s)
        else:
            self.report.result(NOT_WRITTEN.get(result.status, "error"), reason=result.reason)


def _channel(options: RelayOptions) -> grpc.Channel:
    limits = [("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
              ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
    if not options.tls:
        return grpc.insecure_channel(options.server, options=limits)
    roots = None
    if options.tls_ca:
        with open(options.tls_ca, "rb") as pem:
            roots = pem.read()
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.secure_channel(options.server, credentials, options=limits)
