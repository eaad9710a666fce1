"""Synthetic fixed-camera traffic sequences with exact masks, flows and plate labels.

A sequence is T frames of a static night scene with 1-3 vehicles driving along the road. Each
vehicle is one sprite warped by a similarity transform per frame: it moves along its ray from
the vanishing point and scales with it, which is what a planar vehicle front does under
perspective. Because every frame is a warp of the same sprite, the dense flow that maps each
frame onto the last one is known exactly.

The static scene is a rendered night street or, with ``photo_backgrounds``, a photograph
relit for night (``night.py``); ``textured_vehicles`` gives vehicle bodies a photograph's
texture, and ``photo_patches`` adds free photo patches that move with their own affine motion
in front of everything and occlude each other (as optical-flow data sets are made), so that
motion is not only our vehicles'. Masks and flows stay exact for all of them.

Conventions (used by every consumer of a :class:`Sequence`):
- frames are RGB, index 0 is the oldest and index T-1 (frame T) the newest;
- ``flows[t]`` is backward flow in pixels: ``frame_t(x + flows[t][x]) ~ frame_T(x)``, so
  ``cv2.remap(frame_t, x + flow)`` aligns frame t onto frame T; ``flows[T-1]`` is zero;
- ``masks[t]`` is True wherever a vehicle (or its shadow) changes the pixel of frame t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from nightowl.training.synth import night, photos
from nightowl.training.synth.plates import PLATE_STYLES, draw_plate, pick_font, random_plate_rows
from nightowl.training.synth.roads import RoadLayout, render_background
from nightowl.training.synth.vehicles import VehicleSprite, draw_vehicle

MASK_ALPHA = 1.0 / 512.0  # coverage above which a vehicle changes a pixel (mask, flow, owner)
OPAQUE_ALPHA = 0.99  # coverage above which a pixel shows only its vehicle (no see-through)


@dataclass(frozen=True)
class SceneConfig:
    """What the generated sequences look like."""

    width: int = 256  # px
    height: int = 256  # px
    frames: int = 4  # T, the sequence length (>= 1)
    max_vehicles: int = 3  # each sequence holds 1..max_vehicles vehicles
    char_height: tuple[float, float] = (8.4, 22.0)  # px, cap height on frame T before jitter
    letters_probability: float = 0.25  # plates that mix letters with digits
    two_row_probability: float = 0.2  # plates with a small upper row
    scale_step: tuple[float, float] = (1.015, 1.07)  # per-frame size ratio of a moving vehicle
    receding_probability: float = 0.3  # vehicles driving away (seen from the rear)
    photo_backgrounds: float = 0.0  # sequences whose static scene is a relit photograph
    textured_vehicles: float = 0.0  # vehicles whose body carries a photograph's texture
    photo_patches: tuple[int, int] = (0, 0)  # free moving photo patches per sequence (range)
    photo_split: photos.Split = "train"  # the photographs' split (photos.py)

    @property
    def uses_photos(self) -> bool:
        return (self.photo_backgrounds > 0 or self.textured_vehicles > 0
                or self.photo_patches[1] > 0)

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16:
            raise ValueError(f"frame size must be at least 16x16 px, got "
                             f"{self.width}x{self.height}")
        if self.frames < 1:
            raise ValueError(f"frames (T) must be >= 1, got {self.frames}")
        if not 1 <= self.max_vehicles <= 8:
            raise ValueError(f"max_vehicles must be in 1..8, got {self.max_vehicles}")
        for name in ("photo_backgrounds", "textured_vehicles"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is a probability in [0, 1], got "
                                 f"{getattr(self, name)}")
        if not 0 <= self.photo_patches[0] <= self.photo_patches[1] <= 16:
            raise ValueError(f"photo_patches must be a range (lo, hi) with 0 <= lo <= hi <= "
                             f"16, got {self.photo_patches}")
        if self.photo_split not in photos.SPLITS:
            raise ValueError(f"photo_split must be one of {photos.SPLITS}, got "
                             f"{self.photo_split!r}")


@dataclass(frozen=True)
class CharLabel:
    """One plate character on frame T: its label and ink box ``(x0, y0, x1, y1)`` in px."""

    label: str
    box: tuple[float, float, float, float]
    visible: bool  # wholly inside the frame and not hidden by another vehicle


@dataclass(frozen=True)
class PlateLabel:
    """A plate as it appears on frame T."""

    text: str  # as printed, rows joined by " / " (e.g. "KA 12 / 59-72")
    labels: str  # the scored characters in reading order (separators dropped)
    vehicle: int  # index into Sequence.vehicles
    font: str
    style: str
    chars: tuple[CharLabel, ...]

    @property
    def readable(self) -> bool:
        """Every character of the plate can be seen on frame T."""
        return all(c.visible for c in self.chars)


@dataclass(frozen=True)
class VehicleLabel:
    view: str  # "front" (approaching) or "rear" (receding)
    scale_step: float  # size ratio from one frame to the next
    depth_rank: int  # 0 is the farthest (drawn first)


@dataclass
class Sequence:
    """One rendered sequence; arrays are indexed by frame first (0 oldest, T-1 newest)."""

    clean: np.ndarray  # (T, H, W, 3) uint8 RGB
    masks: np.ndarray  # (T, H, W) bool, moving-object mask of each frame
    flows: np.ndarray  # (T, H, W, 2) float32 (dx, dy), backward flow onto frame T
    background: np.ndarray  # (H, W, 3) uint8 RGB, the static scene without vehicles
    plates: list[PlateLabel]
    vehicles: list[VehicleLabel]
    blurred: np.ndarray | None = None  # (T, H, W, 3) uint8, frames with exposure motion blur
    # Not written to disk: (T, H, W) int8 index of the nearest vehicle covering each pixel or -1,
    # and (T, H, W) bool where that vehicle is opaque (not its soft shadow or edge), which is
    # where the flow describes the pixel's whole content.
    owners: np.ndarray | None = field(default=None, repr=False)
    opaque: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Track:
    """A vehicle sprite and its motion: frame-T placement, scale step, vanishing point."""

    sprite: VehicleSprite
    at_last: np.ndarray  # (2, 3) sprite px -> frame px on frame T
    scale_step: float
    vanishing: np.ndarray  # (2,)

    def affine(self, t: float, last: int) -> np.ndarray:
        """Sprite -> frame transform at (possibly fractional) frame time ``t``."""
        k = self.scale_step ** (t - last)
        out = self.at_last * k
        out[:, 2] += (1.0 - k) * self.vanishing
        return out


@dataclass(frozen=True)
class _PatchSprite:
    rgb: np.ndarray  # (h, w, 3) float32, premultiplied by alpha
    alpha: np.ndarray  # (h, w) float32


@dataclass(frozen=True)
class _PatchTrack:
    """A free photo patch: per frame it moves by ``shift`` px, turns by ``turn`` radians and
    scales by ``grow`` about its own centre (the motion of frame t is that step to the power
    t - T, so fractional times interpolate it)."""

    sprite: _PatchSprite
    at_last: np.ndarray  # (2, 3) sprite px -> frame px on frame T
    shift: np.ndarray  # (2,) px per frame
    turn: float
    grow: float

    def affine(self, t: float, last: int) -> np.ndarray:
        steps = t - last
        h, w = self.sprite.alpha.shape
        centre = self.at_last[:, :2] @ np.array([w / 2, h / 2]) + self.at_last[:, 2]
        angle, scale = self.turn * steps, self.grow**steps
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        motion = np.array([[c, -s], [s, c]])
        linear = motion @ self.at_last[:, :2]
        offset = motion @ (self.at_last[:, 2] - centre) + centre + self.shift * steps
        return np.hstack([linear, offset[:, None]])


def render_sequence(config: SceneConfig, rng: np.random.Generator,
                    exposure: float = 0.0, exposure_samples: int = 5) -> Sequence:
    """Render one sequence.

    ``exposure`` is the fraction of the frame interval the shutter stays open; when > 0, the
    ``blurred`` frames average ``exposure_samples`` sub-frames over that interval, centred on
    each frame's time, while ``clean`` stays sharp.
    """
    width, height, last = config.width, config.height, config.frames - 1
    tracks, layout = _place_vehicles(config, rng)
    photo_scene = config.photo_backgrounds > 0 and rng.random() < config.photo_backgrounds
    if photo_scene:
        photo = photos.random_crop(rng, config.photo_split, width, height)
        background = night.relight(photo, rng)
    else:
        background = render_background(rng, width, height, layout)
    tracks.sort(key=lambda tr: tr.at_last[1, 2] + tr.at_last[1, 1] * tr.sprite.anchor[1])
    vehicle_count = len(tracks)
    tracks += _place_patches(config, rng)
    # A photo scene is exposed as a camera's auto-exposure would expose frame T, vehicles and
    # all (night.auto_expose); every frame gets the same factor. Rendered streets keep theirs.
    factor = 1.0
    if photo_scene:
        factor = night.exposure_factor(_compose(background, tracks, last, last))
        background = background * np.float32(factor)

    clean = np.empty((config.frames, height, width, 3), np.uint8)
    masks = np.zeros((config.frames, height, width), bool)
    owners = np.full((config.frames, height, width), -1, np.int8)
    opaque = np.zeros((config.frames, height, width), bool)
    background_u8 = _to_uint8(background)
    for t in range(config.frames):
        frame = _compose(background, tracks, t, last, (masks[t], owners[t], opaque[t]),
                         factor)
        clean[t] = _to_uint8(frame)
        # Coverage too faint to count as vehicle must not change a byte: the mask is exact.
        np.copyto(clean[t], background_u8, where=~masks[t][..., None])
    blurred = None
    if exposure > 0:
        blurred = np.empty_like(clean)
        offsets = np.linspace(-exposure / 2, exposure / 2, max(2, exposure_samples))
        for t in range(config.frames):
            acc = sum(_compose(background, tracks, t + o, last, None, factor) for o in offsets)
            blurred[t] = _to_uint8(acc / len(offsets))
    flows = _flows(tracks, owners[last], config.frames)
    plates = [_plate_label(tr, i, owners[last], width, height)
              for i, tr in enumerate(tracks[:vehicle_count])]
    vehicles = [VehicleLabel(view=tr.sprite.view, scale_step=float(tr.scale_step), depth_rank=i)
                for i, tr in enumerate(tracks[:vehicle_count])]
    return Sequence(clean=clean, masks=masks, flows=flows, background=background_u8,
                    plates=plates, vehicles=vehicles, blurred=blurred, owners=owners,
                    opaque=opaque)


# --- placement -------------------------------------------------------------------------------
def _char_height(rng: np.random.Generator, config: SceneConfig) -> float:
    lo, hi = config.char_height
    return lo + (hi - lo) * rng.random() ** 3.0  # small characters are the common case


def _make_sprite(rng: np.random.Generator, config: SceneConfig, cap: float,
                 receding: bool, zoom: float) -> VehicleSprite:
    """A vehicle whose plate has ``cap``-px characters at ``1 / zoom`` of sprite size."""
    two_rows = rng.random() < config.two_row_probability
    letters = rng.random() < config.letters_probability
    rows = random_plate_rows(rng, letters, two_rows)
    caps = [cap * zoom]
    if two_rows:
        caps = [max(config.char_height[0], cap * rng.uniform(0.55, 0.7)) * zoom, cap * zoom]
    font = pick_font(rng, "".join(rows))
    style = list(PLATE_STYLES)[int(rng.integers(len(PLATE_STYLES)))]
    plate = draw_plate(rng, rows, font, style, caps)
    texture = None
    if config.textured_vehicles > 0 and rng.random() < config.textured_vehicles:
        texture = photos.random_crop(rng, config.photo_split, 128, 128, zoom=(0.1, 0.5))
    return draw_vehicle(rng, plate, rng.uniform(2.4, 3.4), "rear" if receding else "front",
                        texture=texture)


def _place_patches(config: SceneConfig, rng: np.random.Generator) -> list[_PatchTrack]:
    """0..n free photo patches, each a soft-edged ellipse or polygon of a photograph, placed
    anywhere on frame T and moving with a random small affine motion."""
    lo, hi = config.photo_patches
    if hi == 0:
        return []
    width, height = config.width, config.height
    tracks = []
    for _ in range(int(rng.integers(lo, hi + 1))):
        size = int(rng.uniform(0.08, 0.3) * min(width, height))
        aspect = rng.uniform(0.5, 2.0)
        w, h = max(8, int(size * np.sqrt(aspect))), max(8, int(size / np.sqrt(aspect)))
        texture = photos.random_crop(rng, config.photo_split, w, h, zoom=(0.1, 0.6))
        texture = night.relight(texture, rng) if rng.random() < 0.5 else texture
        alpha = np.zeros((h, w), np.uint8)
        if rng.random() < 0.5:
            cv2.ellipse(alpha, (w // 2, h // 2), (w // 2 - 1, h // 2 - 1), 0, 0, 360, (255,),
                        -1, cv2.LINE_AA)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 8))))
            radii = rng.uniform(0.6, 1.0, len(angles))
            pts = np.stack([w / 2 + (w / 2 - 1) * radii * np.cos(angles),
                            h / 2 + (h / 2 - 1) * radii * np.sin(angles)], axis=1)
            cv2.fillPoly(alpha, [np.round(pts * 16).astype(np.int32)], (255,), cv2.LINE_AA,
                         shift=4)
        a = alpha.astype(np.float32) / 255
        sprite = _PatchSprite(rgb=texture * a[..., None], alpha=a)
        x, y = rng.uniform(-0.1, 0.9) * width, rng.uniform(-0.1, 0.9) * height
        at_last = np.array([[1.0, 0.0, x], [0.0, 1.0, y]])
        speed = rng.uniform(0.5, 8.0)
        heading = rng.uniform(0, 2 * np.pi)
        tracks.append(_PatchTrack(sprite=sprite, at_last=at_last,
                                  shift=speed * np.array([np.cos(heading), np.sin(heading)]),
                                  turn=float(np.radians(rng.uniform(-4, 4))),
                                  grow=float(rng.uniform(0.96, 1.04))))
    return tracks


def _motion(rng: np.random.Generator, config: SceneConfig) -> tuple[float, bool, float]:
    """Scale step per frame, whether receding, and the sprite zoom (largest size / frame-T)."""
    receding = bool(rng.random() < config.receding_probability)
    step = rng.uniform(*config.scale_step)
    step = 1.0 / step if receding else step
    zoom = step ** -(config.frames - 1) if receding else 1.0  # draw at the largest size
    return step, receding, zoom


def _place_vehicles(config: SceneConfig,
                    rng: np.random.Generator) -> tuple[list, RoadLayout]:
    width, height = config.width, config.height
    # The first vehicle's plate is on frame T; the road is laid out around it.
    step, receding, zoom = _motion(rng, config)
    sprite = _make_sprite(rng, config, _char_height(rng, config), receding, zoom)
    quads = sprite.char_quads.reshape(-1, 2) / zoom
    half_w = (quads[:, 0].max() - quads[:, 0].min()) / 2 + 2
    half_h = (quads[:, 1].max() - quads[:, 1].min()) / 2 + 2
    plate_x = rng.uniform(half_w, max(half_w, width - half_w))
    plate_y = rng.uniform(max(half_h, 0.45 * height), max(half_h, 0.9 * height - half_h))
    centre = quads.mean(axis=0)
    at_last = np.array([[1 / zoom, 0, plate_x - centre[0]], [0, 1 / zoom, plate_y - centre[1]]])
    anchor = at_last[:, :2] @ np.asarray(sprite.anchor) + at_last[:, 2]
    vehicle_w = sprite.alpha.shape[1] / zoom * 0.9
    horizon = min(rng.uniform(0.12, 0.4) * height, anchor[1] - 0.15 * height)
    lanes = int(rng.integers(2, 5))
    lane_w = vehicle_w * rng.uniform(1.15, 1.4)
    lane_slope = lane_w / (anchor[1] - horizon)
    lane = int(rng.integers(lanes))
    lanes_from_centre = lane + 0.5 - lanes / 2
    centre_at_anchor = anchor[0] - lanes_from_centre * lane_w
    tilt = np.clip((centre_at_anchor - rng.uniform(0.3, 0.7) * width) / (anchor[1] - horizon),
                   -0.6, 0.6)
    layout = RoadLayout(vanishing_x=float(centre_at_anchor - tilt * (anchor[1] - horizon)),
                        horizon=float(horizon), lane_slope=float(lane_slope), lanes=lanes,
                        tilt=float(tilt))
    vanishing = np.array([layout.vanishing_x, layout.horizon])
    tracks = [_Track(sprite, at_last, step, vanishing)]

    for _ in range(int(rng.integers(0, config.max_vehicles))):
        step, receding, zoom = _motion(rng, config)
        sprite = _make_sprite(rng, config, _char_height(rng, config), receding, zoom)
        vehicle_w = sprite.alpha.shape[1] / zoom * 0.9
        # depth where a lane is a little wider than this vehicle
        y = horizon + vehicle_w * rng.uniform(1.15, 1.4) / lane_slope
        if not horizon + 4 < y < height * 1.3:
            continue
        lanes_off = int(rng.integers(lanes)) + 0.5 - lanes / 2 + rng.uniform(-0.1, 0.1)
        x = layout.lateral_x(y, lanes_off)
        ax, ay = np.asarray(sprite.anchor) / zoom
        at_last = np.array([[1 / zoom, 0, x - ax], [0, 1 / zoom, y - ay]])
        tracks.append(_Track(sprite, at_last, step, vanishing))
    return tracks, layout


# --- rendering -------------------------------------------------------------------------------
def _compose(background: np.ndarray, tracks: list, t: float, last: int,
             layers: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
             exposure: float = 1.0) -> np.ndarray:
    """Background with every vehicle warped to time ``t`` (far to near), float32 RGB; the
    vehicles' light scaled by ``exposure`` (the background comes already exposed).

    ``layers`` (mask, owner, opaque) of the frame are filled in when given.
    """
    frame = background.copy()
    height, width = frame.shape[:2]
    for index, track in enumerate(tracks):
        affine = track.affine(t, last)
        h, w = track.sprite.alpha.shape[:2]
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
        mapped = corners @ affine[:, :2].T + affine[:, 2]
        x0, y0 = np.maximum(np.floor(mapped.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(mapped.max(axis=0)).astype(int) + 2, [width, height])
        if x0 >= x1 or y0 >= y1:
            continue
        local = affine.copy()
        local[:, 2] -= (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        rgb = _warp(track.sprite.rgb, local, size)  # premultiplied
        if exposure != 1.0:
            rgb *= np.float32(exposure)
        alpha = _warp(track.sprite.alpha, local, size)
        # premultiplied "over", with OpenCV's kernels (numpy's broadcast over RGB is 5x slower)
        behind = cv2.multiply(frame[y0:y1, x0:x1], cv2.cvtColor(1.0 - alpha, cv2.COLOR_GRAY2RGB))
        frame[y0:y1, x0:x1] = cv2.add(behind, rgb)
        if layers is not None:
            mask, owner, opaque = (layer[y0:y1, x0:x1] for layer in layers)
            covered = alpha > MASK_ALPHA
            mask |= covered
            np.copyto(owner, np.int8(index), where=covered)
            np.copyto(opaque, alpha > OPAQUE_ALPHA, where=covered)
    return frame


def _flows(tracks: list, owner_last: np.ndarray, frames: int) -> np.ndarray:
    """Backward flow of every frame onto the last: exact for each vehicle's pixels."""
    height, width = owner_last.shape
    last = frames - 1
    flows = np.zeros((frames, height, width, 2), np.float32)
    for index, track in enumerate(tracks):
        box = _owned_box(owner_last, index)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        mine = owner_last[y0:y1, x0:x1] == index
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        to_sprite = np.linalg.inv(np.vstack([track.at_last, [0, 0, 1]]))
        for t in range(last):
            # frame-T pixel -> sprite -> frame t, minus where it started: an affine field
            rel = (np.vstack([track.affine(t, last), [0, 0, 1]]) @ to_sprite).astype(np.float32)
            region = flows[t, y0:y1, x0:x1]
            np.copyto(region[..., 0], (rel[0, 0] - 1) * xs + rel[0, 1] * ys + rel[0, 2],
                      where=mine)
            np.copyto(region[..., 1], rel[1, 0] * xs + (rel[1, 1] - 1) * ys + rel[1, 2],
                      where=mine)
    return flows


def _owned_box(owner: np.ndarray, index: int) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero((owner == index).any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero((owner[rows[0]:rows[-1] + 1] == index).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _plate_label(track: _Track, index: int, owner_last: np.ndarray, width: int,
                 height: int) -> PlateLabel:
    quads = track.sprite.char_quads @ track.at_last[:, :2].T + track.at_last[:, 2]
    chars = []
    for label, quad in zip(track.sprite.plate.labels, quads, strict=True):
        x0, y0 = quad.min(axis=0)
        x1, y1 = quad.max(axis=0)
        inside = x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height
        visible = inside and _unhidden(owner_last, index, x0, y0, x1, y1)
        chars.append(CharLabel(label=label, box=(float(x0), float(y0), float(x1), float(y1)),
                               visible=bool(visible)))
    plate = track.sprite.plate
    return PlateLabel(text=plate.text, labels=plate.labels, vehicle=index, font=plate.font,
                      style=plate.style, chars=tuple(chars))


def _unhidden(owner: np.ndarray, index: int, x0: float, y0: float, x1: float,
              y1: float) -> bool:
    """At most 5% of the box is covered by another vehicle."""
    patch = owner[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))]
    return patch.size > 0 and float(np.mean(patch != index)) <= 0.05


def _warp(image: np.ndarray, affine: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(image, affine, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _to_uint8(frame: np.ndarray) -> np.ndarray:
    return np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
