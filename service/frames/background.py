"""A camera's long-term memory of what does not move: a running, noise-aware estimate of the
static scene in the camera's own dark units, with each pixel's age and confidence.

A fixed camera sees the same road, kerbs and parked cars for minutes, but a 4-frame window
keeps the noise of 4 frames. :class:`BackgroundMemory` averages each static pixel over up to
``max_frames`` frames (its noise falls as 1 / sqrt(N)); after that it is an exponential moving
average of weight 1 / ``max_frames``. Each new frame T is tested against it, per pixel, in
units of the camera's own noise (learnt from the residuals, per level, since shot noise grows
with the signal): the pixel's grey difference, its mean over a ``box`` x ``box`` neighbourhood
(an object that differs by a fraction of the noise), that mean smoothed over the last few
frames, and the neighbourhood's mean squared difference (a textured object whose differences
cancel in the mean). A pixel that passes every test, and that the alignment's flow does not
call moving, joins the average; one that fails is *changed*, and the memory is not trusted
there this frame.

- slow light changes (dusk, exposure): the memory is rescaled by the median ratio of frame to
  memory over its trusted blocks, at most ``drift`` per frame, when that ratio is off 1 by more
  than 3 of its standard errors (so that its noise adds no flicker);
- an object that stops (a parked car, a lamp switched on): its pixels collect in a second,
  candidate estimate; once they have stayed the same for ``join_frames`` frames the candidate
  replaces the memory there (or, if it agrees with it, is merged in);
- an object that leaves: the revealed pixels fail the test, so their confidence is 0 at once
  (no ghost: the 4 frames alone are used there), and they join as above;
- a large vehicle's flat parts look like the road behind them, so neither the tests nor (under
  a camera's noise) the flow see them: where more than ``crowd`` of the pixels in a box of the
  frame's shorter side / ``crowd_box`` are changing (moving, or changed and not settling as a
  parked car's do), none is trusted;
- a flow that calls more than ``flow_limit`` of the frame moving while the tests find most of
  it unchanged is not believed (the frames' noise fooled it, as a codec's or a Bayer mosaic's
  can), and the tests decide alone;
- a scene change or camera move (more than ``reset_fraction`` of the pixels that the flow does
  not call moving changed): the memory restarts from this frame (the camera's buffer, which
  tests the whole frame's difference, restarts it as well).

``confidence`` is N / (N + T) where the pixel is static now (``margin`` px from any that is
not, and not crowded by them) and the memory holds more than T frames, else 0: the weight a
memory of N frames gets, against T fresh ones, in the least-squares mix of two averages of one
noise. Memory per camera: :meth:`BackgroundMemory.nbytes` (38 bytes a pixel, 35.1 MB for
1280x720, the last frame's recall included; nothing grows with time). The update's per-frame
planes (24 bytes a pixel) are not a camera's: each thread keeps one set per frame size.

The per-pixel work is done by compiled loops (``frames.memory_kernels``), a few passes over
the frame where numpy would make dozens. No locks: one camera's frames go through it one at a
time, in sequence order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.service.frames import memory_kernels as kernels
from nightowl.service.frames.memory_blend import FINE, FINE_TOP, LevelCalibration, Recall

BINS = 32  # noise is learnt per bin of sqrt(grey level in 8-bit units) * 2
_LUT_STEPS = 4  # level lookup: steps per 8-bit level
_LEVEL_BIN = np.minimum(np.sqrt(np.arange(256 * _LUT_STEPS) / _LUT_STEPS) * 2,
                        BINS - 1).astype(np.uint8)
_BIN_LEVELS = (np.arange(BINS, dtype=np.float32) + 0.5) ** 2 / 4  # 8-bit level of each bin
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_RESIDUAL_ALPHA = 0.25  # weight of the newest box residual in its smoothed value
_RESIDUAL_STD = np.float32(np.sqrt(_RESIDUAL_ALPHA / (2 - _RESIDUAL_ALPHA)))  # its std, of the
#   box mean's
_BIN_EVERY = 8  # frames between recomputing each pixel's noise bin
_GREY = np.full((1, 3), 1 / 3, np.float32)  # cv2.transform matrix: RGB -> channel mean
_SCRATCH = threading.local()  # per thread, the update's planes of each frame size in use
_SCRATCH_SIZES = 4  # frame sizes a thread keeps planes for
_LEARN_MIN_COUNT = 8  # pixels averaged over at least this many frames teach the noise
_LEARN_RATE = 0.1  # weight of one frame's residuals in the noise tables
_LEARN_CLIP = 4.0  # residuals beyond this many stds teach no noise
_THUMB_SHIFT = 3  # the light-change ratio is read on blocks of 2 ** this px a side
_THUMB = 1 << _THUMB_SHIFT
BYTES_PER_PIXEL = 12 + 6 + 2 + 2 + 1 + 4 + 1 + 4 + 6  # mean, candidate, count, age, candidate
#   count, smoothed residual, noise bin; the last update's confidence and levels (its recall)


@dataclass(frozen=True)
class MemoryConfig:
    """How a camera's background memory learns and forgets."""

    max_frames: int = 256  # N stops growing here: then an exponential average of 1 / N
    join_frames: int = 30  # frames a changed pixel must stay the same to join the background
    threshold: float = 3.5  # a pixel is changed beyond this many noise stds (any of 4 tests)
    window: int = 4  # T: the frames the networks average themselves (confidence N / (N + T))
    box: int = 5  # px: side of the neighbourhood of the local-mean test
    reset_fraction: float = 0.5  # more of the pixels not moving changed: a new scene, a restart
    drift: float = 0.05  # largest light change per frame followed by rescaling the memory
    margin: int = 4  # px around a changed or moving pixel where the memory is not trusted either
    crowd: float = 0.15  # nor where more than this share of the pixels around is changing
    crowd_box: int = 8  # ... in a box of the frame's shorter side / crowd_box
    flow_limit: float = 0.9  # a flow calling more of the frame moving, where the tests find it
    #   mostly unchanged, is not believed (DIS on a codec's or a mosaic's noise can)

    def __post_init__(self) -> None:
        if not 1 < self.join_frames < 256 or self.max_frames < self.join_frames:
            raise ValueError(f"join_frames must be in 2..255 and max_frames >= join_frames, got "
                             f"{self.join_frames} and {self.max_frames}")
        if self.max_frames > 65535 or self.window < 1 or self.box < 1 or self.box % 2 == 0:
            raise ValueError(f"max_frames must be <= 65535, window >= 1 and box odd, got "
                             f"{self.max_frames}, {self.window} and {self.box}")
        if not 0 < self.reset_fraction <= 1 or not 0 <= self.drift < 1 or self.threshold <= 0:
            raise ValueError(f"reset_fraction must be in (0, 1], drift in [0, 1) and threshold "
                             f"> 0, got {self.reset_fraction}, {self.drift}, {self.threshold}")


class BackgroundMemory:
    """One camera's background (see the module doc). Feed it each frame T with :meth:`update`,
    in sequence order; frames are (H, W, 3) uint8 or uint16 RGB of one size."""

    def __init__(self, config: MemoryConfig | None = None) -> None:
        self.config = config or MemoryConfig()
        self.frames_seen = 0  # frames taken in since the memory (re)started
        self.resets = 0  # restarts on a scene change
        self._shape: tuple[int, ...] | None = None
        self.calibration = LevelCalibration()  # the network's offsets from it (memory_blend)

    # --- reading ---------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._shape is not None

    @property
    def mean(self) -> np.ndarray:
        """(H, W, 3) float32: the background, in the frames' levels."""
        return self._mean

    @property
    def count(self) -> np.ndarray:
        """(H, W) uint16: frames averaged into each pixel (at most max_frames)."""
        return self._count

    @property
    def age(self) -> np.ndarray:
        """(H, W) uint16: frames since each pixel's background began (saturating)."""
        return self._age

    @property
    def confidence(self) -> np.ndarray:
        """(H, W) float32 in [0, 1): the last update's confidence (see the module doc)."""
        return self._confidence

    @property
    def noise_std(self) -> np.ndarray:
        """(BINS,) float32: the learnt per-frame noise std of the grey level (frame levels), per
        level bin."""
        return np.sqrt(self._var_pixel)

    def nbytes(self) -> int:
        """Bytes the memory holds between frames (0 before its first frame)."""
        if self._shape is None:
            return 0
        return LevelCalibration.nbytes + sum(
            a.nbytes for a in (self._mean, self._candidate, self._count, self._age,
                               self._candidate_count, self._residual, self._bins,
                               self._confidence, self._index))

    @staticmethod
    def bytes_for(width: int, height: int) -> int:
        """Bytes a memory of a width x height camera holds (what :meth:`nbytes` reports)."""
        return BYTES_PER_PIXEL * width * height + LevelCalibration.nbytes

    def recall(self, gain: float) -> Recall | None:
        """What a frame answered at ``gain`` needs of the memory as it is now
        (``memory_blend.blend``), or None while it trusts no pixel."""
        if self._shape is None or not self._confidence.any():
            return None
        return Recall(self._index, self._confidence, float(gain))  # (the update's own
        #   arrays: the next makes new ones)

    # --- learning --------------------------------------------------------------------------
    def update(self, frame: np.ndarray, moving: np.ndarray | None = None) -> np.ndarray:
        """Take in frame T (H, W, 3) uint8/uint16; ``moving`` (H, W) bool: where the alignment's
        flow says something moves (None: unknown). Returns the confidence (H, W) float32."""
        _check(frame, moving)
        if self._shape != frame.shape or self._dtype != frame.dtype:
            return self._start(frame.astype(np.float32), frame.dtype)
        self.frames_seen += 1
        ratio = self._light_change(frame)
        if self.frames_seen % _BIN_EVERY == 0:
            self._bins = self._bins_of()
        if self.frames_seen == 2:  # the noise, first read from the first two frames' difference
            self._mean *= np.float32(ratio)
            ratio = 1.0
            self._calibrate(cv2.transform(cv2.subtract(frame.astype(np.float32), self._mean),
                                          _GREY), moving)
        # in units of the noise the difference has (the frame's, and the memory's own 1 / N)
        u, uu, local, energy, changed, changing, crowd_counts, near_changed, still = _scratch(
            frame.shape[:2])
        kernels.differences(frame, self._mean, np.float32(ratio), self._bins, self._inv_std,
                            self._shrink, self._count, u, uu)
        box = self.config.box
        cv2.blur(u, (box, box), dst=local)
        cv2.blur(uu, (box, box), dst=energy)
        limit = np.float32(self.config.threshold)
        has_moving = moving is not None
        counts, totals, sums, near = kernels.tests(
            u, local, energy, moving if has_moving else still, self._count, self._bins,
            self._inv_std, limit, limit * self._box_std, self._energy_limit,
            4 if u.size > 1 << 18 else 1, _LEARN_MIN_COUNT, np.float32(_LEARN_CLIP),
            np.float32(_LEARN_CLIP) * self._box_std, changed)
        pixels = changed.size
        if (has_moving and counts[2] > self.config.flow_limit * pixels
                and counts[0] <= self.config.reset_fraction * pixels):
            has_moving = False  # the flow moves nearly everything, the frame says not: it failed
        if (self.frames_seen > 2
                and counts[1 if has_moving else 0] > self.config.reset_fraction * pixels):
            self.resets += 1
            return self._start(frame.astype(np.float32), frame.dtype, self.resets)
        if has_moving:  # what drives past says nothing of the background behind it
            totals, sums, near = totals[0], sums[0], near[0]
        else:
            totals, sums, near = totals.sum(axis=0), sums.sum(axis=0), near.sum(axis=0)
        self._learn_noise(totals, sums, near)
        confidence = np.empty_like(u)  # (new arrays: a recall keeps them)
        index = np.empty((3, *u.shape), np.uint16)
        self._thumb_memory[:] = 0
        kernels.learn(
            frame, self._mean, self._candidate, self._candidate_scale, self._count, self._age,
            self._candidate_count, self._residual, local, changed,
            moving if has_moving else still, self._inv_std,
            np.float32(_LUT_STEPS / self._unit), _LEVEL_BIN, np.float32(_RESIDUAL_ALPHA),
            limit * self._box_std * _RESIDUAL_STD, self.config.max_frames, self._inverse,
            self._trust, np.float32(self.config.threshold ** 2), self.config.join_frames,
            confidence, changing, index, np.float32(FINE / self._unit), np.float32(FINE_TOP),
            _THUMB_SHIFT, self._thumb_memory)
        self._thumb_memory *= np.float32(1 / (3 * _THUMB * _THUMB))
        crowd_limit = 0.0
        if self.config.crowd < 1:  # much changing around: an object, its undetected parts too
            side = max(3, min(changed.shape) // self.config.crowd_box | 1)
            cv2.boxFilter(changing, cv2.CV_32F, (side, side), dst=crowd_counts, normalize=False)
            crowd_limit = self.config.crowd * side * side
        if self.config.margin:  # a vehicle's edges and dim parts are rarely all detected
            grow = 2 * self.config.margin + 1
            cv2.dilate(changed, np.ones((grow, grow), np.uint8), dst=near_changed)
        else:
            near_changed[:] = changed
        self._thumb_trust[:] = 0
        kernels.distrust(confidence, near_changed, self.config.crowd < 1, crowd_counts,
                         np.float32(crowd_limit), _THUMB_SHIFT, self._thumb_trust)
        self._thumb_trust *= np.float32(1 / (_THUMB * _THUMB))
        self._confidence, self._index = confidence, index
        return confidence

    def _start(self, x: np.ndarray, dtype: np.dtype, resets: int = 0) -> np.ndarray:
        height, width = x.shape[:2]
        self._shape, self._dtype = x.shape, dtype
        self._unit = np.float32(np.iinfo(dtype).max / 255)  # frame levels per 8-bit level
        self._mean = x.copy()
        self._candidate = np.zeros((height, width, 3), np.uint16)  # fixed point:
        self._candidate_scale = np.float32(65535 / np.iinfo(dtype).max)  # units per frame level
        self._count = np.ones((height, width), np.uint16)
        self._age = np.ones((height, width), np.uint16)
        self._candidate_count = np.zeros((height, width), np.uint8)
        self._residual = np.zeros((height, width), np.float32)
        self._bins = self._bins_of()
        self._floor = np.float32((self._unit / 3) ** 2)  # smallest noise variance learnt
        self._var_pixel = np.full(BINS, max(_noise_variance(cv2.transform(x, _GREY)),
                                            self._floor), np.float32)
        self._learnt = np.zeros(BINS, bool)  # bins whose noise has been measured
        self._inv_std = 1 / np.sqrt(self._var_pixel)
        box = self.config.box
        self._box_std = np.float32(np.sqrt(2) / box)  # std of a box mean of unit noise (twice
        #   the variance of white noise's until learnt: a demosaic or a codec correlates it)
        # a box mean of u^2 has std sqrt(2 / box^2) under noise alone (twice that for the
        # neighbours' correlation a demosaic or a codec leaves)
        self._energy_limit = np.float32(1 + self.config.threshold * 2 * np.sqrt(2) / box)
        counts = np.arange(self.config.max_frames + 1, dtype=np.float32)
        with np.errstate(divide="ignore"):
            self._shrink = 1 / np.sqrt(1 + 1 / counts)  # (N,) the memory's share of the noise
            self._inverse = np.where(counts > 0, 1 / counts, 0).astype(np.float32)
        window = self.config.window
        self._trust = np.where(counts > window, counts / (counts + window), 0).astype(np.float32)
        self.frames_seen, self.resets = 1, resets
        self._confidence = np.zeros((height, width), np.float32)
        self._index = np.zeros((3, height, width), np.uint16)
        self._thumb_memory = kernels.block_grey(self._mean, _THUMB_SHIFT)  # grey block means
        self._thumb_trust = np.zeros_like(self._thumb_memory)  # ... of the confidence
        self.calibration = LevelCalibration()  # learnt anew with the memory
        return self._confidence

    def _bins_of(self) -> np.ndarray:
        """(H, W) uint8 noise bin of each pixel's grey level (levels drift slowly: recomputed
        every few frames)."""
        level = cv2.transform(self._mean, _GREY * np.float32(_LUT_STEPS / self._unit))
        index = np.clip(level, 0, len(_LEVEL_BIN) - 1).astype(np.intp)
        return _LEVEL_BIN[index]

    def _light_change(self, frame: np.ndarray) -> float:
        """The factor to rescale the memory by: the frame's light change over the memory's
        trusted blocks, within ``drift``; 1 where it is within its own noise."""
        if self.config.drift == 0:
            return 1.0
        frame_grey, memory = kernels.block_grey(frame, _THUMB_SHIFT), self._thumb_memory
        use = (self._thumb_trust > 0.5) & (memory > 2 * self._unit)
        if use.sum() < 64:
            return 1.0
        ratios = frame_grey[use] / memory[use]
        ratio = float(np.median(ratios))
        spread = 1.25 * float(np.median(np.abs(ratios - ratio))) / np.sqrt(ratios.size)
        if abs(ratio - 1) <= 3 * spread:  # within its own noise: rescaling would add flicker
            return 1.0
        return min(max(ratio, 1 - self.config.drift), 1 + self.config.drift)

    def _calibrate(self, grey_d: np.ndarray, moving: np.ndarray | None) -> None:
        """Each bin's noise variance from frame 2 minus frame 1 (half its variance), where the
        flow does not move, its largest 1% left out (what changed between the two)."""
        use = np.ones(grey_d.shape, bool) if moving is None else ~moving
        values = grey_d[use] ** 2 / 2
        if values.size < 64:
            return
        values = np.minimum(values, np.percentile(values, 99))
        bins = self._bins[use]
        total = np.bincount(bins, minlength=BINS).astype(np.float32)
        sums = np.bincount(bins, weights=values, minlength=BINS)
        seen = total >= 16
        floor = self._floor
        overall = max(float(values.mean()), floor)
        self._var_pixel[:] = overall
        self._var_pixel[seen] = np.maximum(sums[seen] / total[seen], floor)
        self._inv_std = (1 / np.sqrt(self._var_pixel)).astype(np.float32)

    def _learn_noise(self, totals: np.ndarray, sums: np.ndarray, near: np.ndarray) -> None:
        """Each level bin's noise variance, from the residuals of settled pixels that do not
        move (``kernels.tests`` gathers them: every 4th row of a large frame, plenty of
        samples), and the std of a box mean of the normalised residual. Residuals beyond
        :data:`_LEARN_CLIP` stds are left out, not those the tests call changed: a codec's
        noise (most residuals 0, a few large) would otherwise teach a noise that shrinks with
        every frame. A bin with too few samples so far takes the straight line through the
        learnt ones (shot noise grows linearly with the level); the noise is floored at a third
        of an 8-bit level. ``totals``, ``sums``: (BINS,) samples and their sum of squares;
        ``near``: the box means' count and sum of squares."""
        if totals.sum() < 256:
            return
        seen = totals >= 64
        self._learnt |= seen
        table, rate = self._var_pixel, np.float32(_LEARN_RATE)
        table[seen] += rate * (sums[seen] / totals[seen] - table[seen]).astype(np.float32)
        if 2 <= self._learnt.sum() < BINS:
            levels = _BIN_LEVELS[self._learnt]
            slope, offset = np.polyfit(levels, table[self._learnt], 1)
            line = offset + slope * _BIN_LEVELS[~self._learnt]
            table[~self._learnt] = np.maximum(line, table[self._learnt].min())
        np.maximum(table, self._floor, out=table)
        self._inv_std = (1 / np.sqrt(table)).astype(np.float32)
        if near[0]:
            spread = float(np.sqrt(near[1] / near[0]))
            self._box_std += rate * (np.float32(spread) - self._box_std)
            self._box_std = max(self._box_std, np.float32(1 / self.config.box))


def moving_pixels(flows: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """(T, H, W, 2) backward flows onto frame T -> (H, W) bool: any frame's flow longer than
    ``threshold`` px (the alignment's gate leaves the static background's at exactly 0)."""
    return kernels.moving_pixels(np.ascontiguousarray(flows, np.float32),
                                 np.float32(threshold * threshold))


def _scratch(shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """The update's per-frame planes for frames of ``shape``: u, u * u, their box means,
    changed, changing, the crowd's counts, near a changed pixel, and nothing moving (all
    False: the moving pixels where the flow is unknown or not believed). Shared by the cameras a
    thread serves (one update at a time), so that a camera's memory holds none of them."""
    kept = getattr(_SCRATCH, "planes", None)
    if kept is None:
        kept = _SCRATCH.planes = {}
    if shape not in kept:
        if len(kept) >= _SCRATCH_SIZES:
            kept.pop(next(iter(kept)))
        planes, masks = (np.empty(shape, np.float32) for _ in range(5)), (
            np.empty(shape, np.uint8) for _ in range(3))
        u, uu, local, energy, crowd = planes
        changed, changing, near = masks
        kept[shape] = (u, uu, local, energy, changed, changing, crowd, near,
                       np.zeros(shape, bool))
    return kept[shape]


def _noise_variance(grey: np.ndarray) -> float:
    """Per-pixel noise variance of a grey frame (Immerkaer's estimate, floored)."""
    response = cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1]
    std = float(np.median(np.abs(response))) / (0.6745 * 6.0) * np.sqrt(3.0)
    return max(std * std, 0.05)


def _check(frame: np.ndarray, moving: np.ndarray | None) -> None:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W, 3) uint8/uint16 frame, got {frame.dtype} "
                         f"{frame.shape}")
    if moving is not None and (moving.shape != frame.shape[:2] or moving.dtype != bool):
        raise ValueError(f"moving must be an (H, W) bool mask of the frame's size, got "
                         f"{moving.dtype} {moving.shape}")
