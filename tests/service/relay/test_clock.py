"""Capture times: from the source's timestamps (live, replay) or the read (asap)."""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest

from nightowl.service.relay.clock import CaptureClock
from nightowl.service.video.source import Frame

IMAGE = np.zeros((2, 2, 3), np.uint8)
TIME_BASE = Fraction(1, 100)  # 10 ms ticks


def frame(pts: int, segment: int = 0) -> Frame:
    return Frame(IMAGE, pts, segment)


def test_live_follows_the_timestamps_and_counts_a_backlog():
    clock = CaptureClock(TIME_BASE, "live")
    first = clock.capture(frame(0))
    time.sleep(0.05)
    # read 50 ms late for a frame captured 10 ms after the first: the 40 ms are the backlog
    assert clock.capture(frame(1)) - first == pytest.approx(0.01, abs=1e-6)


def test_live_moves_its_anchor_for_an_early_frame_and_a_new_segment():
    clock = CaptureClock(TIME_BASE, "live")
    first = clock.capture(frame(0))
    early = clock.capture(frame(100))  # 1 s ahead of the clock: never in the future
    assert early <= time.time() and early - first < 0.5
    time.sleep(0.02)
    restarted = clock.capture(frame(101, segment=1))
    assert restarted == pytest.approx(time.time(), abs=0.01)


def test_replay_waits_for_each_frame_and_asap_does_not():
    clock = CaptureClock(TIME_BASE, "replay")
    started = time.monotonic()
    clock.capture(frame(0))
    clock.capture(frame(5))
    assert time.monotonic() - started >= 0.045
    asap = CaptureClock(TIME_BASE, "asap")
    assert asap.capture(frame(10_000)) == pytest.approx(time.time(), abs=0.01)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="use one of live, replay, asap"):
        CaptureClock(TIME_BASE, "fast")
