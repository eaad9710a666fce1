"""Long fixed-camera sequences (hundreds of frames): what a camera's background memory sees.

One static scene (a rendered street or a relit photograph, as ``scenes.render_sequence`` makes
it) under a light that drifts slowly over the sequence, vehicles driving through it now and
then (each a short passage of the generator's own vehicles, its plate labelled on the
passage's last frame), and one car that parks: it appears at frame ``arrive``, stands still,
and is gone from frame ``leave`` on, leaving its region (``parked_region``) to the road again.

Arrays are indexed by frame first, 0 the oldest. ``masks[t]`` is True where a driving vehicle
changes frame t; ``static[t]`` (the scene truth ``background[t]`` shows there) is its
complement, the parked car included while it stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from nightowl.training.synth.scenes import (
    PlateLabel,
    SceneConfig,
    _compose,
    _place_vehicles,
    _plate_label,
    _to_uint8,
    _Track,
    render_sequence,
)

PARKED_WIDTH = (0.15, 0.3)  # the parked car's width, as a share of the frame's


@dataclass(frozen=True)
class LongConfig:
    """What a long sequence holds."""

    frames: int = 300  # sequence length
    scene: SceneConfig = field(default_factory=SceneConfig)  # size and kind of scene; its
    #   ``frames`` is ignored (passages have their own lengths)
    gap: tuple[int, int] = (10, 30)  # frames between one passage's end and the next's start
    passage: tuple[int, int] = (6, 12)  # frames a passing vehicle is in view
    park: tuple[float, float] | None = (0.35, 0.7)  # the parked car's arrival and departure,
    #   as fractions of ``frames``; None: no parked car
    light_drift: float = 0.15  # the light changes by up to this fraction over the sequence

    def __post_init__(self) -> None:
        if self.frames < 8 or not 1 <= self.passage[0] <= self.passage[1]:
            raise ValueError(f"frames must be >= 8 and passage a range >= 1, got "
                             f"{self.frames} and {self.passage}")
        if self.park is not None and not 0 < self.park[0] < self.park[1] < 1:
            raise ValueError(f"park must be fractions 0 < arrive < leave < 1, got {self.park}")


@dataclass
class LongSequence:
    clean: np.ndarray  # (F, H, W, 3) uint8 RGB
    masks: np.ndarray  # (F, H, W) bool: driving vehicles
    background: np.ndarray  # (F, H, W, 3) uint8: the static scene of each frame (light drift and
    #   the parked car while it stands)
    light: np.ndarray  # (F,) float32: the scene's light relative to frame 0
    plates: dict[int, list[PlateLabel]]  # frame -> plates labelled on it (readable ones)
    arrive: int = -1  # first frame of the parked car (-1: none)
    leave: int = -1  # first frame without it again
    parked_region: np.ndarray | None = None  # (H, W) bool: where it stood

    @property
    def static(self) -> np.ndarray:
        """(F, H, W) bool: no driving vehicle changes the pixel."""
        return ~self.masks


def render_long(config: LongConfig, rng: np.random.Generator) -> LongSequence:
    """Render one long sequence (see the module doc)."""
    scene = replace(config.scene, frames=1)
    base = render_sequence(scene, rng).background.astype(np.float32) / 255
    count, (height, width) = config.frames, base.shape[:2]
    drift = float(rng.uniform(-config.light_drift, config.light_drift))
    light = (1 + drift * np.arange(count) / max(1, count - 1)).astype(np.float32)
    parked, arrive, leave = None, -1, -1
    if config.park is not None:
        arrive, leave = int(config.park[0] * count), int(config.park[1] * count)
        parked = _parked(_place_vehicles(replace(scene, max_vehicles=1), rng)[0][0], width, height,
                         float(rng.uniform(*PARKED_WIDTH)))
    passages = _passages(config, rng)
    clean = np.empty((count, height, width, 3), np.uint8)
    background = np.empty_like(clean)
    masks = np.zeros((count, height, width), bool)
    region = np.zeros((height, width), bool)
    plates: dict[int, list[PlateLabel]] = {}
    for t in range(count):
        lit = base * light[t]
        if parked is not None and arrive <= t < leave:
            cover = np.zeros((height, width), bool)
            lit = _compose(lit, [parked], 0, 0, (cover, np.full(cover.shape, -1, np.int8),
                                                 np.zeros_like(cover)))
            region |= cover
        background[t] = _to_uint8(lit)
        frame = lit
        for start, length, tracks in passages:
            local, last = t - start, length - 1
            if 0 <= local <= last:
                owners = np.full((height, width), -1, np.int8)
                frame = _compose(frame, tracks, local, last, (masks[t], owners,
                                                              np.zeros_like(masks[t])))
                if local == last:
                    labels = [_plate_label(tr, i, owners, width, height)
                              for i, tr in enumerate(tracks)]
                    plates[t] = [p for p in labels if p.readable and p.labels]
        clean[t] = _to_uint8(frame)
        np.copyto(clean[t], background[t], where=~masks[t][..., None])
    return LongSequence(clean, masks, background, light, plates, arrive, leave,
                        region if parked is not None else None)


def _parked(track: _Track, width: int, height: int, share: float) -> _Track:
    """``track``'s vehicle standing still, moved along its ray towards the vanishing point
    until it is ``share`` of the frame's width wide (or as it is, if narrower), then shifted
    into the frame if it stood partly outside."""
    h, w = track.sprite.alpha.shape
    k = min(1.0, share * width / (w * abs(track.at_last[0, 0])))
    at = track.at_last * k
    at[:, 2] += (1.0 - k) * track.vanishing
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) @ at[:, :2].T + at[:, 2]
    low, high = corners.min(axis=0), corners.max(axis=0)
    at[:, 2] += np.clip(0, -low, np.array([width, height]) - high)
    return _Track(track.sprite, at, 1.0, track.vanishing)


def _passages(config: LongConfig, rng: np.random.Generator
              ) -> list[tuple[int, int, list[_Track]]]:
    """(first frame, length, tracks) of each vehicle passage."""
    out, t = [], int(rng.integers(0, config.gap[1] + 1))
    while t < config.frames:
        length = int(rng.integers(config.passage[0], config.passage[1] + 1))
        scene = replace(config.scene, frames=length, max_vehicles=1)
        tracks = _place_vehicles(scene, rng)[0]
        out.append((t, length, tracks))
        t += length + int(rng.integers(config.gap[0], config.gap[1] + 1))
    return out
