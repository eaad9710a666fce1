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
noise. Memory per camera: :meth:`BackgroundMemory.nbytes` (28 bytes a pixel, 25.8 MB for
1280x720; nothing grows with time).
No locks: one camera's frames go through it one at a time, in sequence order.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.service.frames.memory_blend import LevelCalibration, Recall

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
_LEARN_MIN_COUNT = 8  # pixels averaged over at least this many frames teach the noise
_LEARN_RATE = 0.1  # weight of one frame's residuals in the noise tables
_LEARN_CLIP = 4.0  # residuals beyond this many stds teach no noise
_THUMB = 8  # px: the light-change ratio is read on blocks of this side
BYTES_PER_PIXEL = 12 + 6 + 2 + 2 + 1 + 4 + 1  # mean, candidate, count, age, candidate count,
#   smoothed residual, noise bin


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
                               self._candidate_count, self._residual, self._bins))

    @staticmethod
    def bytes_for(width: int, height: int) -> int:
        """Bytes a memory of a width x height camera holds (what :meth:`nbytes` reports)."""
        return BYTES_PER_PIXEL * width * height + LevelCalibration.nbytes

    def recall(self, gain: float) -> Recall | None:
        """What a frame answered at ``gain`` needs of the memory as it is now
        (``memory_blend.blend``), or None while it trusts no pixel."""
        if self._shape is None or not self._confidence.any():
            return None
        return Recall.of(self._mean, float(self._unit), self._confidence, gain)

    # --- learning --------------------------------------------------------------------------
    def update(self, frame: np.ndarray, moving: np.ndarray | None = None) -> np.ndarray:
        """Take in frame T (H, W, 3) uint8/uint16; ``moving`` (H, W) bool: where the alignment's
        flow says something moves (None: unknown). Returns the confidence (H, W) float32."""
        _check(frame, moving)
        x = frame.astype(np.float32)
        if self._shape != frame.shape or self._dtype != frame.dtype:
            return self._start(x, frame.dtype)
        self.frames_seen += 1
        self._follow_light(x)
        if self.frames_seen % _BIN_EVERY == 0:
            self._bins = self._bins_of()
        d = cv2.subtract(x, self._mean)  # (H, W, 3)
        grey_d = cv2.transform(d, _GREY)  # (H, W)
        if self.frames_seen == 2:  # the noise, first read from the first two frames' difference
            self._calibrate(grey_d, moving)
        # in units of the noise the difference has (the frame's, and the memory's own 1 / N)
        u = cv2.LUT(self._bins, self._inv_std_lut())
        u *= grey_d
        u *= np.take(self._shrink, self._count)
        box = self.config.box
        local = cv2.blur(u, (box, box))
        energy = cv2.blur(u * u, (box, box))
        limit = np.float32(self.config.threshold)
        changed = np.abs(u) > limit
        changed |= np.abs(local) > limit * self._box_std
        changed |= energy > self._energy_limit
        if (moving is not None and moving.mean() > self.config.flow_limit
                and changed.mean() <= self.config.reset_fraction):
            moving = None  # the flow moves nearly everything, the frame says not: it failed
        if (self.frames_seen > 2 and (changed if moving is None else changed & ~moving).mean()
                > self.config.reset_fraction):
            self.resets += 1
            return self._start(x, frame.dtype, self.resets)
        step = local - self._residual
        step *= np.float32(_RESIDUAL_ALPHA)
        if moving is not None:  # what drives past says nothing of the background behind it
            step *= ~moving
        self._residual += step
        changed |= np.abs(self._residual) > limit * self._box_std * _RESIDUAL_STD
        self._learn_noise(grey_d, u, local, moving)
        if moving is not None:
            changed |= moving
        static = ~changed
        self._count += static & (self._count < self.config.max_frames)
        weight = np.take(self._inverse, self._count)
        weight *= static
        cv2.multiply(d, cv2.merge((weight, weight, weight)), dst=d)  # numpy's broadcast over
        #   the channels is several times slower
        self._mean += d
        self._age += static & (self._age < 65535)
        self._collect(x, changed, moving)
        confidence = np.take(self._trust, self._count)
        crowded = None
        if self.config.crowd < 1:  # much changing around: an object, its undetected parts too
            side = max(3, min(changed.shape) // self.config.crowd_box | 1)
            changing = changed & (self._candidate_count < 2)  # (not what settles, as a car that
            #   parked: its pixels agree with their candidate from frame to frame)
            if moving is not None:
                changing |= moving
            crowded = cv2.blur(changing.astype(np.float32), (side, side)) > np.float32(
                self.config.crowd)
        if self.config.margin:  # a vehicle's edges and dim parts are rarely all detected
            grow = 2 * self.config.margin + 1
            changed = cv2.dilate(changed.view(np.uint8), np.ones((grow, grow), np.uint8)) > 0
        if crowded is not None:
            changed |= crowded
        confidence *= ~changed
        self._confidence = confidence
        return confidence

    def _start(self, x: np.ndarray, dtype: np.dtype, resets: int = 0) -> np.ndarray:
        height, width = x.shape[:2]
        self._shape, self._dtype = x.shape, dtype
        self._unit = np.float32(np.iinfo(dtype).max / 255)  # frame levels per 8-bit level
        self._mean = x.copy()
        self._candidate = np.zeros((height, width, 3), np.float16)
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
        self.calibration = LevelCalibration()  # learnt anew with the memory
        return self._confidence

    def _bins_of(self) -> np.ndarray:
        """(H, W) uint8 noise bin of each pixel's grey level (levels drift slowly: recomputed
        every few frames)."""
        level = cv2.transform(self._mean, _GREY * np.float32(_LUT_STEPS / self._unit))
        index = np.clip(level, 0, len(_LEVEL_BIN) - 1).astype(np.intp)
        return _LEVEL_BIN[index]

    def _inv_std_lut(self) -> np.ndarray:
        """(256,) float32: each noise bin's 1 / std, padded for cv2.LUT (a lookup on the uint8
        bins far faster than numpy's indexing)."""
        table = np.zeros(256, np.float32)
        table[:BINS] = self._inv_std
        return table

    def _level_bins(self, values: np.ndarray) -> np.ndarray:
        """(n, 3) colours in frame levels -> (n,) their noise bins."""
        level = _grey(values) * np.float32(_LUT_STEPS / self._unit)
        return _LEVEL_BIN[np.clip(level, 0, len(_LEVEL_BIN) - 1).astype(np.intp)]

    def _follow_light(self, x: np.ndarray) -> None:
        """Rescale the memory by the frame's light change over the memory's static blocks."""
        if self.config.drift == 0:
            return
        height, width = x.shape[:2]
        size = (max(1, width // _THUMB), max(1, height // _THUMB))
        frame = cv2.transform(cv2.resize(x, size, interpolation=cv2.INTER_AREA), _GREY)
        memory = cv2.transform(cv2.resize(self._mean, size, interpolation=cv2.INTER_AREA),
                               _GREY)
        trusted = cv2.resize(self._confidence, size, interpolation=cv2.INTER_AREA)
        use = (trusted > 0.5) & (memory > 2 * self._unit)
        if use.sum() < 64:
            return
        ratios = frame[use] / memory[use]
        ratio = float(np.median(ratios))
        spread = 1.25 * float(np.median(np.abs(ratios - ratio))) / np.sqrt(ratios.size)
        if abs(ratio - 1) <= 3 * spread:  # within its own noise: rescaling would add flicker
            return
        ratio = min(max(ratio, 1 - self.config.drift), 1 + self.config.drift)
        self._mean *= np.float32(ratio)

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

    def _learn_noise(self, grey_d: np.ndarray, u: np.ndarray, local: np.ndarray,
                     moving: np.ndarray | None) -> None:
        """Each level bin's noise variance, from the residuals of settled pixels that do not
        move (every 4th row of a large frame: plenty of samples, a quarter of the work), and the
        std of a box mean of the normalised residual. Residuals beyond :data:`_LEARN_CLIP`
        stds are left out, not those the tests call changed: a codec's noise (most residuals 0,
        a few large) would otherwise teach a noise that shrinks with every frame. A bin with
        too few samples so far takes the straight line through the learnt ones (shot noise
        grows linearly with the level); the noise is floored at a third of an 8-bit level."""
        rows = slice(0, None, 4 if grey_d.size > 1 << 18 else 1)
        count = self._count[rows]
        use = (count >= _LEARN_MIN_COUNT) & (np.abs(u[rows]) < _LEARN_CLIP)
        if moving is not None:
            use &= ~moving[rows]
        if use.sum() < 256:
            return
        bins = self._bins[rows][use]
        shrink = self._shrink[count[use]]
        values = grey_d[rows][use] * shrink
        total = np.bincount(bins, minlength=BINS).astype(np.float32)
        sums = np.bincount(bins, weights=values * values, minlength=BINS)
        seen = total >= 64
        self._learnt |= seen
        table, rate = self._var_pixel, np.float32(_LEARN_RATE)
        table[seen] += rate * (sums[seen] / total[seen] - table[seen])
        if 2 <= self._learnt.sum() < BINS:
            levels = _BIN_LEVELS[self._learnt]
            slope, offset = np.polyfit(levels, table[self._learnt], 1)
            line = offset + slope * _BIN_LEVELS[~self._learnt]
            table[~self._learnt] = np.maximum(line, table[self._learnt].min())
        np.maximum(table, self._floor, out=table)
        self._inv_std = (1 / np.sqrt(table)).astype(np.float32)
        near = local[rows][use]
        near = near[np.abs(near) < _LEARN_CLIP * self._box_std]
        if near.size:
            spread = float(np.sqrt(np.mean(near ** 2)))
            self._box_std += rate * (np.float32(spread) - self._box_std)
            self._box_std = max(self._box_std, np.float32(1 / self.config.box))

    def _collect(self, x: np.ndarray, changed: np.ndarray, moving: np.ndarray | None) -> None:
        """Pixels that changed, or hold a candidate, and do not move build the candidate
        background: each frame like it adds to it, one unlike it starts a new one where the
        pixel changed and drops it where the pixel is like the memory again. A candidate that
        stays for join_frames frames replaces the memory there (or merges, if they agree)."""
        still = changed | (self._candidate_count > 0)
        if moving is not None:
            still &= ~moving
        where = np.flatnonzero(still)  # flat indices: far faster to gather than (ys, xs)
        if where.size == 0:
            return
        candidates, counts = _flat(self._candidate), _flat(self._candidate_count)
        value = np.take(_flat(x), where, axis=0)  # (n, 3)
        candidate = np.take(candidates, where, axis=0).astype(np.float32)
        n = np.take(counts, where).astype(np.float32)
        inv_std = self._inv_std[self._level_bins(np.maximum(candidate, value))]  # their noise
        limit = np.float32(self.config.threshold ** 2)
        gap = _grey(value - candidate) * inv_std
        same = (n > 0) & (gap * gap < limit * (1 + 1 / np.maximum(n, 1)))
        fresh = np.take(_flat(changed), where)
        n = np.where(same, n + 1, np.where(fresh, 1, 0))
        step = (value - candidate) / np.maximum(n, 1)[:, None]
        candidate = np.where(same[:, None], candidate + step, value)
        join = n >= self.config.join_frames
        candidates[where] = candidate.astype(np.float16)
        counts[where] = np.where(join, 0, n).astype(np.uint8)
        if not join.any():
            return
        where, candidate, n = where[join], candidate[join], n[join]
        means, totals, ages = _flat(self._mean), _flat(self._count), _flat(self._age)
        old = np.take(means, where, axis=0)
        count = np.take(totals, where).astype(np.float32)
        gap = _grey(candidate - old) * self._inv_std[self._level_bins(np.maximum(candidate, old))]
        agrees = gap * gap < limit * (1 / n + 1 / count)
        merged = (old * count[:, None] + candidate * n[:, None]) / (count + n)[:, None]
        means[where] = np.where(agrees[:, None], merged, candidate)
        _flat(self._residual)[where] = 0  # the old background's residual says nothing of the
        #   new
        # merged: the candidate's frames that agreed are in the memory already, so the memory
        # counts as many frames as the larger of the two, and its age goes on
        total = np.where(agrees, np.maximum(count, n), n)
        totals[where] = total.astype(np.uint16)
        ages[where] = np.where(agrees, np.take(ages, where), n.astype(np.uint16))


def moving_pixels(flows: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """(T, H, W, 2) backward flows onto frame T -> (H, W) bool: any frame's flow longer than
    ``threshold`` px (the alignment's gate leaves the static background's at exactly 0)."""
    squared = np.float32(threshold * threshold)
    return np.any(flows[..., 0] ** 2 + flows[..., 1] ** 2 > squared, axis=0)


def _flat(image: np.ndarray) -> np.ndarray:
    """(H, W, ...) contiguous -> a (H * W, ...) view of it (writes go through)."""
    flat = image.reshape(-1, *image.shape[2:])
    if not np.shares_memory(flat, image):
        raise ValueError("expected a contiguous array")
    return flat


def _grey(image: np.ndarray) -> np.ndarray:
    """(..., 3) -> (...) channel mean, float32."""
    return (image[..., 0] + image[..., 1] + image[..., 2]) * np.float32(1 / 3)


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
