"""One gRPC ``Stream`` to the server: at most ``max_in_flight`` frames unanswered (a sender
waits for a free slot rather than piling frames up), and a deadline per frame.

Every frame handed to :meth:`Link.send` gets exactly one answer through ``deliver``: the
server's ``StreamResult`` (in order, as the contract promises), or ``None`` with the reason when
the stream broke or the oldest frame's deadline passed (the link is then cancelled: a stream
that stopped answering is not waited on). Answers are delivered on the link's reader thread, one
at a time, in the order sent.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import grpc

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc

WAKE_S = 0.1  # how often the watchdog looks at the oldest frame's age
# codes that a new stream would get again: the key, the request or the server is wrong
REFUSALS = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNIMPLEMENTED)


@dataclass(frozen=True)
class Sent:
    sequence: int  # as sent in StreamFrame.sequence
    pts: int  # the source's timestamp, in its time base (the output keeps it)
    capture_s: float  # capture time, seconds since the Unix epoch
    sent_at: float = 0.0  # time.monotonic() when it went on the stream (Link.send sets it)


Deliver = Callable[[Sent, "pb.StreamResult | None", str], None]  # (frame, result or None, why)


class StreamBrokenError(Exception):
    """The stream ended or broke; the message says why. Frames sent on it are all answered."""


class Link:
    """A started ``Stream`` call on ``stub``, reading its results on a thread of its own."""

    def __init__(self, stub: enhance_pb2_grpc.EnhancerStub, metadata: Sequence[tuple[str, str]],
                 max_in_flight: int, deadline_s: float, deliver: Deliver) -> None:
        self.max_in_flight = max_in_flight
        self.deadline_s = deadline_s
        self.answered = 0  # results the server gave on this stream
        self.broken: str | None = None  # why the stream ended, once it has
        self.refused = False  # it ended with one of REFUSALS: another stream would too
        self._deliver = deliver
        self._pending: deque[Sent] = deque()
        self._cut: str | None = None  # the watchdog's reason, when it cancelled the call
        self._closing = False  # close() has ended the requests
        self._cond = threading.Condition()
        self._requests: queue.Queue[pb.StreamFrame | None] = queue.Queue()
        self._call = stub.Stream(iter(self._requests.get, None), metadata=tuple(metadata))
        self._reader = threading.Thread(target=self._read, name="relay-reader", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="relay-watchdog",
                                          daemon=True)
        self._reader.start()
        self._watchdog.start()

    def send(self, message: pb.StreamFrame, sent: Sent) -> None:
        """Send one frame once fewer than ``max_in_flight`` are unanswered;
        ``StreamBrokenError`` when the stream has ended (the frame was not sent)."""
        with self._cond:
            while self.broken is None and len(self._pending) >= self.max_in_flight:
                self._cond.wait(WAKE_S)
            if self.broken is not None:
                raise StreamBrokenError(self.broken)
            self._pending.append(replace(sent, sent_at=time.monotonic()))
        self._requests.put(message)

    def close(self) -> str | None:
        """End the requests and wait for the remaining answers (each frame's deadline bounds
        the wait); returns why the stream broke, None when it ended cleanly."""
        self._closing = True
        self._requests.put(None)
        idle_since = None  # while frames are unanswered the watchdog bounds the wait
        while self._reader.is_alive():
            self._reader.join(WAKE_S)
            with self._cond:
                idle = not self._pending
            idle_since = (idle_since or time.monotonic()) if idle else None
            if idle_since is not None and time.monotonic() - idle_since > self.deadline_s:
                self._call.cancel()  # everything answered, yet the stream does not end
                self._reader.join()
        self._watchdog.join()
        with self._cond:
            return None if self.broken == _ENDED else self.broken

    def _read(self) -> None:
        reason = _ENDED
        try:
            for result in self._call:
                with self._cond:
                    if not self._pending:  # never sent by a conforming server
                        reason = "the server answered a frame that was not sent"
                        self._call.cancel()
                        break
                    sent = self._pending.popleft()
                    self.answered += 1
                    self._cond.notify_all()
                self._deliver(sent, result, "")
        except grpc.RpcError as error:
            reason = self._cut or _describe(error)
            self.refused = self._cut is None and _code(error) in REFUSALS
        with self._cond:
            lost, self._pending = list(self._pending), deque()
            if reason == _ENDED and (lost or not self._closing):
                reason = "the server ended the stream"
            self.broken = reason
            self._cond.notify_all()
        self._requests.put(None)  # frees grpc's request thread, if it still waits
        for sent in lost:
            self._deliver(sent, None, reason)

    def _watch(self) -> None:
        with self._cond:
            while self.broken is None:
                if self._pending and time.monotonic() - self._pending[0].sent_at > self.deadline_s:
                    self._cut = f"no answer within the {self.deadline_s:g} s frame deadline"
                    self._call.cancel()
                    return
                self._cond.wait(WAKE_S)


_ENDED = "ended"  # the stream ended after the requests did: nothing went wrong


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    return error.code() if callable(getattr(error, "code", None)) else None


def _describe(error: grpc.RpcError) -> str:
    """The status code and details of a failed call, in one line."""
    code = _code(error)
    details = error.details() if callable(getattr(error, "details", None)) else str(error)
    name = code.name if code is not None else "UNKNOWN"
    return f"{name}: {(details or 'no details').splitlines()[0]}"
