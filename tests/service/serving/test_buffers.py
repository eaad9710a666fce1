"""Per-camera buffers: every defined behaviour, on real generator frames."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.service.errors import CameraBusy, TooManyCameras
from nightowl.service.frames.background import MemoryConfig
from nightowl.service.serving.buffers import CameraBuffers
from tests.serving import sequence


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def buffers(clock):
    return CameraBuffers(frames=4, max_cameras=3, idle_s=10.0, max_gap=2, clock=clock)


@pytest.fixture(scope="module")
def frames():
    return sequence(11, 0)


def test_first_frames_give_growing_windows_then_t(buffers, frames):
    sizes = [buffers.push("a", frames[min(t, 3)]).window.shape[0] for t in range(6)]
    assert sizes == [1, 2, 3, 4, 4, 4]
    window = buffers.push("b", frames[0]).window
    assert window.shape == (1, *frames.shape[1:])


def test_window_is_the_last_t_frames_oldest_first(buffers, frames):
    for t, frame in enumerate(frames):
        pushed = buffers.push("a", frame, t)
    assert np.array_equal(pushed.window, frames) and pushed.sequence == 3


def test_duplicate_and_late_frames_are_not_buffered(buffers, frames):
    buffers.push("a", frames[0], 10)
    buffers.push("a", frames[1], 11)
    assert buffers.push("a", frames[1], 11).status == "duplicate"
    assert buffers.push("a", frames[0], 10).status == "late"
    pushed = buffers.push("a", frames[2], 12)
    assert pushed.status == "buffered" and pushed.window.shape[0] == 3


def test_small_gap_keeps_the_buffer_large_gap_resets(buffers, frames):
    buffers.push("a", frames[0], 0)
    kept = buffers.push("a", frames[1], 3)  # 2 missing: tolerated
    assert kept.window.shape[0] == 2 and not kept.reset
    reset = buffers.push("a", frames[2], 7)  # 3 missing
    assert reset.window.shape[0] == 1 and "3 frames missing" in reset.reset


def test_resolution_change_resets(buffers, frames):
    buffers.push("a", frames[0])
    smaller = np.ascontiguousarray(frames[1][:40, :56])
    pushed = buffers.push("a", smaller)
    assert pushed.window.shape == (1, 40, 56, 3) and "resolution changed" in pushed.reset


def test_a_switch_between_colour_and_grey_resets(buffers, frames):
    buffers.push("cam", frames[0], 0)
    pushed = buffers.push("cam", frames[1], 1, grey=True)
    assert pushed.window.shape[0] == 1 and "from colour to grey" in pushed.reset
    assert buffers.push("cam", frames[2], 2, grey=True).window.shape[0] == 2


@pytest.mark.parametrize("index", [0, 1, 2])
def test_scene_change_resets_but_motion_does_not(buffers, index):
    frames = sequence(11, index, (160, 120))  # the threshold is tuned for >= 160x120
    for frame in frames:
        assert not buffers.push("a", frame).reset
    other = sequence(11, index + 10, (160, 120))[0]
    pushed = buffers.push("a", other)
    assert pushed.window.shape[0] == 1 and "scene changed" in pushed.reset


def test_idle_cameras_are_evicted(buffers, frames, clock):
    buffers.push("a", frames[0])
    clock.now = 5.0
    buffers.push("b", frames[0])
    clock.now = 12.0
    assert buffers.evict_idle() == ["a"]
    assert "a" not in buffers and "b" in buffers


def test_camera_limit_names_the_limit(buffers, frames, clock):
    for name in "abc":
        buffers.push(name, frames[0])
    with pytest.raises(TooManyCameras, match="limit of 3 cameras") as caught:
        buffers.push("d", frames[0])
    assert caught.value.retry_after == 10
    clock.now = 11.0  # all idle: room again
    assert buffers.push("d", frames[0]).status == "buffered"


def test_one_stream_per_camera_and_release_frees_it(buffers, frames):
    first, second = object(), object()
    buffers.push("a", frames[0], 0, owner=first)
    with pytest.raises(CameraBusy, match="another connection"):
        buffers.push("a", frames[1], 1, owner=second)
    with pytest.raises(CameraBusy):
        buffers.push("a", frames[1], 1)  # a REST request for the streaming camera
    assert buffers.release(first) == ["a"]
    assert buffers.push("a", frames[1], 1, owner=second).window.shape[0] == 1


def test_a_background_memory_is_made_with_each_buffer_and_counted_in_its_bytes():
    buffers = CameraBuffers(4, background=MemoryConfig())
    frames = sequence(9, 0)
    first = buffers.push("cam", frames[0]).background
    first.update(frames[0])
    assert buffers.push("cam", frames[1]).background is first  # the buffer's own
    assert buffers.nbytes == 2 * frames[0].nbytes + first.nbytes() > 2 * frames[0].nbytes
    restarted = buffers.push("cam", frames[2], 9)  # a gap restarts the buffer ...
    assert restarted.reset and restarted.background is not first  # ... and its memory
    assert CameraBuffers(4).push("cam", frames[0]).background is None  # off by default
