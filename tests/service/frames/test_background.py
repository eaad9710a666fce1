"""The background memory on long generator sequences: its noise, parked and departed cars, a
scene cut, its size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from nightowl.service.frames.background import (
    BYTES_PER_PIXEL,
    BackgroundMemory,
    MemoryConfig,
    moving_pixels,
)
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig

S = 20.0
SCENE = SceneConfig(width=160, height=128)


def dark(seq, seed: int = 0) -> np.ndarray:
    return eq6(seq.clean, S, 2.0, np.random.default_rng(seed))


def feed(memory: BackgroundMemory, frames: np.ndarray, seq=None, start: int = 0,
         stop: int | None = None) -> None:
    """Frames start..stop-1 into the memory, each with the vehicles that drive on it as the
    moving pixels (what the server's flow tells it) when ``seq`` is given."""
    for t in range(start, len(frames) if stop is None else stop):
        memory.update(frames[t], None if seq is None else seq.masks[t])


def clear(seq, start: int, frames: int) -> int:
    """The frame by which ``frames`` frames from ``start`` on have shown the parked region with
    no driving vehicle in front of it (one in front hides what the memory is to learn)."""
    t, seen = start, 0
    while True:
        seen += not seq.masks[t][seq.parked_region].any()
        if seen == frames:
            return t
        t += 1


def ghost(memory: BackgroundMemory, truth: np.ndarray, where: np.ndarray) -> float:
    """RMS error (dark levels, grey) over ``where`` of what the memory is trusted with (0 where
    its confidence is 0): what a network mixing in the memory would see of its mistakes."""
    gap = (memory.mean - truth.astype(np.float32) / S).mean(axis=2) * (memory.confidence > 0)
    return float(np.sqrt(np.mean(gap[where] ** 2)))


def error(memory: BackgroundMemory, truth: np.ndarray, where: np.ndarray) -> float:
    """RMS error (dark levels, grey) of the memory against the clean scene / S."""
    gap = (memory.mean - truth.astype(np.float32) / S).mean(axis=2)
    return float(np.sqrt(np.mean(gap[where] ** 2)))


@pytest.fixture(scope="module")
def empty_street():
    """A static street, no vehicle, constant light."""
    return render_long(LongConfig(frames=80, scene=SCENE, gap=(10**6, 10**6), park=None,
                                  light_drift=0.0), np.random.default_rng([31, 0]))


@pytest.fixture(scope="module")
def parking():
    """Traffic, a slow light drift, and a car parking from frame 44 to 121."""
    return render_long(LongConfig(frames=220, scene=SCENE, park=(0.2, 0.55)),
                       np.random.default_rng([31, 1]))


def test_noise_falls_as_one_over_root_n(empty_street):
    frames, truth = dark(empty_street), empty_street.background[0]
    lit = truth.mean(axis=2) / S > 6  # away from black, where rounding at 0 biases any mean
    errors = {}
    memory = BackgroundMemory()
    for n, frame in enumerate(frames, 1):
        memory.update(frame)
        if n in (16, 64):
            errors[n] = error(memory, truth, lit)
    assert 1.6 < errors[16] / errors[64] < 2.5, errors  # sqrt(4) = 2
    assert errors[64] < 2.0 / np.sqrt(3 * 64) * 1.5  # grey noise of 64 frames, with margin
    assert np.median(memory.count) == 80 and memory.count.min() > 60 and memory.resets == 0
    assert np.median(memory.confidence) == pytest.approx(80 / 84)


def test_a_parked_car_joins_and_a_departed_one_fades(parking):
    frames, seq = dark(parking), parking
    region, join = seq.parked_region, MemoryConfig().join_frames
    assert region.sum() > 300
    # its inside: a one-pixel row of a soft edge can differ by less than one frame's noise
    inside = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    memory = BackgroundMemory(MemoryConfig(margin=0))  # its own tests, no margin around them
    feed(memory, frames, seq, 0, seq.arrive)
    settled = error(memory, seq.background[seq.arrive - 1], region)
    memory.update(frames[seq.arrive], seq.masks[seq.arrive])
    # the car is seen as a change at once: where the memory is still trusted, the road it holds
    # differs from the car by less than one frame's noise (1.15 levels of grey here)
    trusted = inside & (memory.confidence > 0)
    assert trusted.sum() < 0.5 * inside.sum()
    assert ghost(memory, seq.background[seq.arrive], inside) < 0.6
    t = clear(seq, seq.arrive, join + 10)
    feed(memory, frames, seq, seq.arrive + 1, t + 1)
    assert error(memory, seq.background[t], region) < 3 * settled  # it joined
    # (0.70 trusted: what of it has not joined yet keeps its surroundings untrusted too, by the
    # crowd rule; 0.75 without it)
    assert (memory.confidence[inside] > 0).mean() > 0.65
    feed(memory, frames, seq, t + 1, seq.leave + 1)
    assert ghost(memory, seq.background[seq.leave], inside) < 0.6  # nor of the car that left
    t = clear(seq, seq.leave, join + 10)
    feed(memory, frames, seq, seq.leave + 1, t + 1)
    assert error(memory, seq.background[t], region) < 3 * settled  # the road is back
    assert (memory.confidence[inside] > 0).mean() > 0.7
    assert memory.resets == 0


def test_a_scene_cut_restarts_the_memory(empty_street, parking):
    memory = BackgroundMemory()
    feed(memory, dark(empty_street), stop=40)
    assert memory.count.max() == 40
    other = eq6(parking.clean, S / 2, 2.0, np.random.default_rng(1))  # another street, brighter
    for frame in other[:5]:
        memory.update(frame)
    assert memory.resets == 1 and memory.frames_seen == 5 and memory.count.max() <= 5
    assert memory.confidence.max() > 0  # the new scene is learnt from its first frame on


def test_memory_is_bounded(empty_street):
    memory = BackgroundMemory(MemoryConfig(max_frames=32))
    assert memory.nbytes() == 0
    feed(memory, dark(empty_street))
    height, width = empty_street.clean.shape[1:3]
    assert memory.nbytes() == BackgroundMemory.bytes_for(width, height)
    assert memory.count.max() == 32  # then an exponential average: nothing grows
    assert BackgroundMemory.bytes_for(1280, 720) == BYTES_PER_PIXEL * 1280 * 720 + 49_152


def test_moving_pixels_are_not_learnt(empty_street):
    frames = dark(empty_street)
    memory = BackgroundMemory(MemoryConfig(drift=0, margin=0))  # no light, no margin
    feed(memory, frames, stop=10)
    moving = np.zeros(frames.shape[1:3], bool)
    moving[:20, :30] = True
    before = memory.mean.copy()
    confidence = memory.update(frames[10], moving)
    assert np.array_equal(memory.mean[moving], before[moving])
    assert not confidence[moving].any() and (confidence[~moving] > 0).mean() > 0.95
    margined = BackgroundMemory(MemoryConfig(drift=0))  # and with the default margin (4 px)
    feed(margined, frames, stop=10)
    confidence = margined.update(frames[10], moving)
    assert not confidence[:24, :34].any() and (confidence[30:, 40:] > 0).mean() > 0.9
    flows = np.zeros((4, *moving.shape, 2), np.float32)
    flows[1][moving] = 0.6
    assert np.array_equal(moving_pixels(flows), moving)


def test_exceptions():
    memory = BackgroundMemory()
    with pytest.raises(ValueError, match="uint8/uint16"):
        memory.update(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="moving"):
        memory.update(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="join_frames"):
        MemoryConfig(join_frames=1)


def test_a_flow_that_moves_everything_on_a_still_frame_is_not_believed(empty_street):
    frames = dark(empty_street)
    memory = BackgroundMemory()
    everything = np.ones(frames.shape[1:3], bool)  # what DIS can say on a codec's noise
    for frame in frames[:20]:
        memory.update(frame, everything)
    assert memory.count.min() > 10 and (memory.confidence > 0).mean() > 0.9


def test_the_undetected_parts_of_a_large_object_are_not_trusted(empty_street):
    """A large vehicle's flat parts look like the road behind them, and the tests cannot see them
    (nor, under a camera's noise, the flow): where many pixels around changed, none is trusted."""
    frames = dark(empty_street)
    body = np.zeros(frames.shape[1:3], bool)
    body[16:112, 16:144] = True
    band = np.arange(body.shape[0]) % 24 < 8  # bands of 8 rows are seen, the 16 between them
    bright = body & band[:, None]  # look like the road behind them
    seen = frames[20].copy()
    seen[bright] = np.minimum(seen[bright].astype(int) + 12, 255).astype(np.uint8)
    hidden = body & ~bright
    far = np.zeros_like(body)
    far[:, :4] = True  # the columns farthest from the object's side
    plain = BackgroundMemory(MemoryConfig(drift=0))
    feed(plain, frames, stop=21)  # the same frame without the object: its own false alarms
    alone = (plain.confidence[far] > 0).mean()
    for crowd in (1.0, MemoryConfig().crowd):  # the rule off, then as served
        memory = BackgroundMemory(MemoryConfig(crowd=crowd, drift=0))  # (a bright object this
        #   large would pass for a light change)
        feed(memory, frames, stop=20)
        confidence = memory.update(seen)
        trusted = (confidence[hidden] > 0).mean()
        if crowd == 1.0:
            assert trusted > 0.1, trusted  # the middle of each hidden band, past the margin
        else:
            assert trusted < 0.01, trusted  # (a few of its edge pixels)
            assert (confidence[far] > 0).mean() >= alone - 0.01  # not trusted less far away
