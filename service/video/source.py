"""Any FFmpeg input (a file, ``rtsp://``, ``http(s)://``) decoded to RGB frames with their
presentation timestamps; a network input that stops is reopened with a bounded, exponential
backoff, its frames continuing the same timeline.

A network input ends cleanly only where it announced a length and reached it (a served clip,
within ``END_SLACK`` frames);
any other end, or a read error, is a cut: a camera has no end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from nightowl.service.video import VideoError

NETWORK_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
FALLBACK_RATE = Fraction(25)  # frames per second where the input states none
# frame intervals short of its announced length that still count as a stream's end: RTSP's
# first frame comes without a timestamp, so the start the demuxer reports is one frame late
END_SLACK = 3


@dataclass(frozen=True)
class SourceOptions:
    timeout_s: float = 10.0  # longest wait for an input to open, and then for each read
    reconnects: int = 5  # attempts after a network input stops; a decoded frame resets them
    reconnect_delay_s: float = 1.0  # wait before the first attempt; doubles at each next one
    rtsp_transport: str = "tcp"  # RTP inside the RTSP connection (no loss); "udp": own ports


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    pts: int  # in Source.time_base: 0 at the first frame, increasing, across reconnections too
    segment: int  # 0, then +1 at each reconnection (the frames before are another window)


def is_network(url: str) -> bool:
    """Whether ``url`` names a network input (reconnected when it stops), not a file."""
    return url.split("://", 1)[0].lower() in NETWORK_SCHEMES if "://" in url else False


class Source:
    """One input, opened on construction (``VideoError`` when it cannot be)."""

    def __init__(self, url: str, options: SourceOptions = SourceOptions(),
                 log: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.options = options
        self.network = is_network(url)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._container = self._open()
        stream = self._container.streams.video[0]
        self.time_base = Fraction(stream.time_base)
        self.rate = Fraction(stream.average_rate or stream.guessed_rate or FALLBACK_RATE)
        self.count = stream.frames or None  # None: unknown (live, or not in the container)
        self._timeline = _Timeline(max(1, round(1 / (self.rate * self.time_base))))

    def frames(self) -> Iterator[Frame]:
        """Every frame, through reconnections; raises ``VideoError`` when they run out."""
        segment, attempts = 0, 0
        while True:
            decoded = 0
            for frame in self._decode(segment):
                decoded += 1
                yield frame
            cut = self._cut
            self.close()
            if cut is None:
                return
            if not self.network:
                raise VideoError(f"cannot read {self.url}: {cut}")
            attempts = 0 if decoded else attempts
            attempts = self._reopen(cut, attempts)
            segment += 1
            self._timeline.restart()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def _open(self):
        options = {"rtsp_transport": self.options.rtsp_transport} if self.url.lower().startswith(
            "rtsp") else {}
        timeout, started = self.options.timeout_s, time.monotonic()
        try:
            container = av.open(self.url, options=options, timeout=(timeout, timeout))
        except (av.FFmpegError, OSError) as error:
            # an interrupted RTSP handshake reads as invalid data: the clock tells the timeout
            timed_out = (isinstance(error, av.ExitError)
                         or time.monotonic() - started >= timeout)
            reason = f"no answer within {timeout:g} s" if timed_out else _reason(error)
            raise VideoError(f"cannot open {self.url}: {reason}") from None
        if not container.streams.video:
            container.close()
            raise VideoError(f"{self.url} holds no video stream")
        return container

    def _decode(self, segment: int) -> Iterator[Frame]:
        """The open container's frames; sets ``_cut`` to why it stopped (None: its end)."""
        stream = self._container.streams.video[0]
        scale = Fraction(stream.time_base) / self.time_base
        start, seen = stream.start_time or 0, None
        self._cut = "the stream ended"
        try:
            for frame in self._container.decode(stream):
                seen = frame.pts if frame.pts is not None else seen
                pts = None if frame.pts is None else round(frame.pts * scale)
                image = frame.to_ndarray(format="rgb24")
                yield Frame(image, self._timeline.place(pts), segment)
        except av.DecoderNotFoundError:
            raise VideoError(f"{self.url}: no decoder for its {stream.codec_context.name} "
                             "video") from None
        except av.ExitError:
            self._cut = f"no data within {self.options.timeout_s:g} s"
            return
        except (av.FFmpegError, OSError) as error:
            self._cut = _reason(error)
            return
        length = self._container.duration  # microseconds, where the input announced one
        if not self.network or (length is not None and seen is not None and (
                (seen - start) * stream.time_base + END_SLACK / self.rate >= length / 1e6)):
            self._cut = None

    def _reopen(self, cut: str, attempts: int) -> int:
        """Opens the input again after ``cut``, waiting longer before each attempt; returns the
        attempts used."""
        while attempts < self.options.reconnects:
            delay = self.options.reconnect_delay_s * 2**attempts
            attempts += 1
            self.log(f"{self.url}: {cut}; reconnecting in {delay:g} s (attempt {attempts} of "
                     f"{self.options.reconnects})")
            time.sleep(delay)
            try:
                self._container = self._open()
                return attempts
            except VideoError as error:
                cut = str(error).removeprefix(f"cannot open {self.url}: ")
        raise VideoError(f"{self.url}: {cut}; gave up after {self.options.reconnects} "
                         "reconnection attempts")


class _Timeline:
    """Output timestamps: 0 at the first frame; a frame without one a step after the previous;
    after a reconnection (the input's clock restarted) a step after the last frame written."""

    def __init__(self, step: int) -> None:
        self.step = step  # one frame interval, in the source's time base
        self.last: int | None = None
        self.origin: int | None = None  # input pts of output pts 0, for this connection

    def restart(self) -> None:
        self.origin = None

    def place(self, pts: int | None) -> int:
        expected = 0 if self.last is None else self.last + self.step
        if pts is None:
            value = expected
        else:
            if self.origin is None:
                self.origin = pts - expected
            value = pts - self.origin
        if self.last is not None:
            value = max(value, self.last + 1)
        self.last = value
        return value


def _reason(error: Exception) -> str:
    """FFmpeg's words for ``error``, lower case, without the repeated file name."""
    if isinstance(error, av.InvalidDataError):
        return "not a video FFmpeg can read (invalid data)"
    text = getattr(error, "strerror", None) or str(error)
    return text[:1].lower() + text[1:]
