"""The answer leans on a camera's background memory where the memory is trusted: the network's
output is blended towards the memory, brightened by the gain and calibrated against the
network, by the memory's confidence (``frames.background``). A pixel the memory does not
trust (moving, changed, young: confidence 0) keeps the network's output exactly.

Why at the output, not at the input: the networks were trained on the noise of T frames, and
given an input mixed towards a far cleaner memory they render static areas darker and
smoother than the truth (measured with ``nightowl eval --long``: bench/README.md,
"Background memory").

Why calibrated: the memory is the mean of clipped dark frames. Where the scene is dark, noise
below level 0 is clipped, so the mean sits above the scene, and the memory times the gain
comes out too bright on the darkest static pixels (under Eq. 6, noise of 2 levels rounded and
clipped at 0, a scene at 1 level of the dark frame averages 1.39). The networks have learnt
to remove that bias, and so has the camera's :class:`LevelCalibration`, learnt while the
camera runs: for each channel and memory level, the mean of the network's output minus the
memory, on pixels the memory trusts. The blended memory is then as bright as the network says
at that level and as clean as the memory. Calibrating on levels of the dark frame, not on the
brightened output, keeps it valid when the gain changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nightowl.service.frames import memory_kernels as kernels

STEP = 0.25  # 8-bit levels of the dark frame per calibration bin
BINS = 1024  # bins: levels 0 to 256
FINE = 16  # a recall holds the memory's levels to 1 / FINE of a level (0.4 output levels at
#   S = 25, far below the memory's own noise), and the blend looks each one up at once
FINE_TOP = BINS * int(STEP * FINE) - 1  # the largest fine index (level 256 - 1 / FINE)
LEAST = 32.0  # (decayed) samples a bin needs before its offset is used
DECAY = 0.98  # what the tables keep of their past at each learnt frame
TRUSTED = 0.5  # confidence above which a pixel teaches the calibration
LEARN_EVERY = (4, 2)  # the calibration learns from every 4th row and 2nd column (plenty)
_FINE_LEVELS = (np.arange(FINE_TOP + 1) + 0.5) / FINE  # the level of each fine index
_NO_TABLES = np.zeros((3, 1), np.float32)  # the lean's stand-in while nothing is calibrated


@dataclass(frozen=True)
class Recall:
    """What a frame's blend needs from the memory, taken when the frame was remembered (later
    frames of the camera may change the memory before this one's answer comes back)."""

    index: np.ndarray  # (3, H, W) uint16: the memory in 8-bit levels of the dark frame, times
    #   FINE (truncated; at most FINE_TOP)
    confidence: np.ndarray  # (H, W) float32 in [0, 1): the memory's trust in each pixel
    gain: float  # S of the frame: its output is the dark frame times S / 255 at full scale

    @classmethod
    def of(cls, mean: np.ndarray, unit: float, confidence: np.ndarray, gain: float) -> Recall:
        """From a memory's mean (H, W, 3) in frame levels (``unit`` frame levels per 8-bit
        level) and its confidence (copied)."""
        scaled = mean.transpose(2, 0, 1) * np.float32(FINE / unit)
        np.minimum(scaled, FINE_TOP, out=scaled)  # (no clip at 0: a mean is never negative)
        return cls(scaled.astype(np.uint16), confidence.copy(), float(gain))


class LevelCalibration:
    """Per channel and memory level (bins of STEP 8-bit levels), the decayed mean offset (in
    dark levels) of the network's output from the memory, learnt from trusted pixels."""

    nbytes = 2 * 3 * BINS * 8  # its two tables

    def __init__(self) -> None:
        self.sums = np.zeros((3, BINS))
        self.counts = np.zeros((3, BINS))

    def targets(self, per_level: float) -> np.ndarray | None:
        """(3, FINE_TOP + 1) float32: for each channel and fine index, the calibrated memory in
        output units (its level plus the learnt offset, times ``per_level``), NaN outside the
        learnt bins' span; None while some channel has learnt nothing."""
        tables = np.empty((3, FINE_TOP + 1), np.float32)
        for c in range(3):
            learnt = np.flatnonzero(self.counts[c] >= LEAST)
            if learnt.size == 0:
                return None
            offsets = np.interp(_FINE_LEVELS, (learnt + 0.5) * STEP,
                                self.sums[c, learnt] / self.counts[c, learnt])
            fine = _FINE_LEVELS
            outside = (fine < learnt[0] * STEP) | (fine > (learnt[-1] + 1) * STEP)
            tables[c] = (fine + offsets) * per_level
            tables[c, outside] = np.nan
        return tables

    def take(self, counts: np.ndarray, sums: np.ndarray) -> None:
        """Take in one frame's samples: per channel and bin, their number and the sum of their
        offsets (dark levels); the past decays only when the frame brought some."""
        if not counts.any():
            return
        self.sums *= DECAY
        self.counts *= DECAY
        self.sums += sums
        self.counts += counts


def blend(output: np.ndarray, recall: Recall, calibration: LevelCalibration) -> np.ndarray:
    """The engine's output (3, H, W) float32 in [0, 1] blended towards the calibrated memory by
    the recalled confidence (none where the calibration does not know the pixel's level yet);
    then the calibration learns this frame's offsets. Call it for a camera's frames one at a
    time, in sequence order, so that the answers do not depend on timing."""
    per_level = np.float32(recall.gain / 255)  # output units per dark level
    tables = calibration.targets(per_level)
    leaning = tables is not None and bool(recall.confidence.any())
    lowest, highest = np.zeros(3, np.uint16), np.zeros(3, np.uint16)
    if leaning:
        for c, row in enumerate(~np.isnan(tables)):  # one span each
            lowest[c], highest[c] = np.flatnonzero(row)[[0, -1]]
    counts, sums = np.zeros_like(calibration.counts), np.zeros_like(calibration.sums)
    leant = kernels.lean(np.ascontiguousarray(output, np.float32), recall.index,
                         recall.confidence, leaning,
                         np.nan_to_num(tables) if leaning else _NO_TABLES, lowest, highest,
                         np.float32(FINE), np.float32(TRUSTED), np.float32(STEP), *LEARN_EVERY,
                         per_level, counts, sums)
    calibration.take(counts, sums)
    return leant if leaning else output
