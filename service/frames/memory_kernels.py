"""The background memory's per-pixel passes, compiled (numba): each reads the frame and the
memory once and does all that pass's arithmetic per pixel, where numpy would make a pass over
the whole frame for every operation. The memory's rules are in ``frames.background`` and
``frames.memory_blend``; these are their loops.

Compiled once per process on first use and cached on disk next to this file (or in numba's
user cache where that is read-only); :func:`warm_up` compiles them ahead of a camera's first
frame (the images set NUMBA_CACHE_DIR under the server's cache). They release the GIL, so
cameras served from several threads run in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)

THIRD = np.float32(1 / 3)


@_jit
def block_grey(image, shift):  # pragma: no cover - compiled
    """(H, W, 3) -> (h, w) float32: the grey mean of each block of side 2 ** shift px (a right
    and bottom remainder left out)."""
    side = 1 << shift
    height, width = image.shape[0] >> shift, image.shape[1] >> shift
    out = np.zeros((height, width), np.float32)
    for y in range(height << shift):
        row, blocks = image[y], out[y >> shift]
        for block in range(width):
            total = np.float32(0)
            for x in range(block << shift, (block << shift) + side):
                total += np.float32(row[x, 0]) + np.float32(row[x, 1]) + np.float32(row[x, 2])
            blocks[block] += total
    out *= np.float32(1 / (side * side)) * THIRD
    return out


@_jit
def differences(frame, mean, ratio, bins, inv_std, shrink, count, u, uu):  # pragma: no cover
    """The memory rescaled by ``ratio`` (in place, when not 1), then each pixel's grey
    difference of frame from memory in units of its noise (the frame's, by level bin, and the
    memory's own, by count), into ``u`` and its square into ``uu`` ((H, W) float32 each)."""
    height, width = count.shape
    for y in range(height):
        row_mean, row_frame, row_u, row_uu = mean[y], frame[y], u[y], uu[y]
        if ratio != np.float32(1):
            for x in range(width):
                for c in range(3):
                    row_mean[x, c] *= ratio
        row_bins, row_count = bins[y], count[y]
        for x in range(width):
            grey = (np.float32(row_frame[x, 0]) - row_mean[x, 0]
                    + np.float32(row_frame[x, 1]) - row_mean[x, 1]
                    + np.float32(row_frame[x, 2]) - row_mean[x, 2]) * THIRD
            v = grey * inv_std[row_bins[x]] * shrink[row_count[x]]
            row_u[x] = v
            row_uu[x] = v * v


@_jit
def tests(u, local, energy, moving, count, bins, inv_std, limit, box_limit, energy_limit,
          learn_rows, learn_min_count, learn_clip, near_clip, changed):  # pragma: no cover
    """Which pixels changed (any of the three tests) into ``changed`` (H, W) uint8, and what
    the noise learns, split by whether the flow moves the pixel (the caller may not believe the
    flow): counts (changed, changed and not moving, moving), per bin and moving-or-not the
    samples' count and sum of squares (every ``learn_rows``-th row, settled pixels, residuals
    within ``learn_clip`` stds), and for those the box means' count and sum of squares (within
    ``near_clip``)."""
    height, width = count.shape
    bins_n = inv_std.shape[0]
    counts = np.zeros(3, np.int64)
    totals = np.zeros((2, bins_n), np.float64)
    sums = np.zeros((2, bins_n), np.float64)
    near = np.zeros((2, 2), np.float64)
    for y in range(height):
        row_u, row_local, row_energy, move, hit = u[y], local[y], energy[y], moving[y], changed[y]
        hits = 0
        still_hits = 0
        moves = 0
        for x in range(width):
            h = ((abs(row_u[x]) > limit) | (abs(row_local[x]) > box_limit)
                 | (row_energy[x] > energy_limit))
            hit[x] = h
            hits += h
            still_hits += h & ~move[x]
            moves += move[x]
        counts[0] += hits
        counts[1] += still_hits
        counts[2] += moves
        if y % learn_rows:
            continue
        row_count, row_bins = count[y], bins[y]
        for x in range(width):
            v = row_u[x]
            if row_count[x] >= learn_min_count and abs(v) < learn_clip:
                k = 1 if move[x] else 0
                b = row_bins[x]
                value = np.float64(v / inv_std[b])  # the difference times the memory's shrink
                totals[k, b] += 1
                sums[k, b] += value * value
                lo = row_local[x]
                if abs(lo) < near_clip:
                    near[k, 0] += 1
                    near[k, 1] += np.float64(lo) * lo
    return counts, totals, sums, near


@_jit
def _level_bin(r, g, b, level_scale, level_bins):  # pragma: no cover - compiled
    """The noise bin of a colour's grey level (frame levels)."""
    index = int((r + g + b) * THIRD * level_scale)
    return level_bins[min(max(index, 0), level_bins.shape[0] - 1)]


@_jit
def learn(frame, mean, candidate, candidate_scale, count, age, candidate_count, residual, local,
          changed, moving, inv_std, level_scale, level_bins, alpha, residual_limit, max_frames,
          inverse, trust, same_limit, join_frames, confidence, changing, index, fine, fine_top,
          shift, thumb):  # pragma: no cover - compiled
    """One frame into the memory, per pixel: the smoothed box residual (and its test, into
    ``changed``), the average of static pixels, the candidate background of changed ones and
    its joining. Writes the confidence before the margin and crowd rules, the pixels that are
    changing (moving, or changed and not settling) as uint8, the memory's levels times
    ``fine`` (at most ``fine_top``) as (3, H, W) uint16 ``index``, and the grey sums of the
    memory over blocks of side 2 ** shift into ``thumb`` (zeros, (H >> shift, W >> shift)).
    Row by row, each step a loop of its own over the row (loops without branches, which the
    compiler vectorises); the few pixels that collect a candidate afterwards, one by one."""
    height, width = count.shape
    thumb_height = thumb.shape[0] << shift
    weight = np.empty(width, np.float32)
    still = np.empty(width, np.int64)
    for y in range(height):
        move, hit, res, loc = moving[y], changed[y], residual[y], local[y]
        counts, ages, n_candidates = count[y], age[y], candidate_count[y]
        for x in range(width):
            stays = not move[x]
            res[x] += (loc[x] - res[x]) * (alpha * np.float32(stays))
            h = (hit[x] != 0) | (abs(res[x]) > residual_limit) | move[x]
            hit[x] = h
            static = not h
            n = counts[x]
            n = n + np.uint16(static & (n < max_frames))
            counts[x] = n
            weight[x] = inverse[n] * np.float32(static)
            ages[x] += np.uint16(static & (ages[x] < 65535))
        kept = 0
        for x in range(width):
            if (hit[x] != 0 or n_candidates[x] > 0) and not move[x]:
                still[kept] = x
                kept += 1
        row_mean, row_frame = mean[y], frame[y]
        for x in range(width):
            w = weight[x]
            for c in range(3):
                row_mean[x, c] += (np.float32(row_frame[x, c]) - row_mean[x, c]) * w
        for k in range(kept):
            _collect(still[k], row_frame, row_mean, candidate[y], candidate_scale, counts, ages,
                     n_candidates, res, hit, inv_std, level_scale, level_bins, same_limit,
                     join_frames)
        trusted, moving_now = confidence[y], changing[y]
        for x in range(width):
            trusted[x] = trust[counts[x]]
            moving_now[x] = move[x] | ((hit[x] != 0) & (n_candidates[x] < 2))
        for c in range(3):
            levels = index[c, y]
            for x in range(width):
                levels[x] = np.uint16(np.int32(min(row_mean[x, c] * fine, fine_top)))
        if y < thumb_height:
            blocks, side = thumb[y >> shift], 1 << shift
            for block in range(blocks.shape[0]):
                total = np.float32(0)
                for x in range(block << shift, (block << shift) + side):
                    total += row_mean[x, 0] + row_mean[x, 1] + row_mean[x, 2]
                blocks[block] += total


@_jit
def _collect(x, frame, mean, candidate, candidate_scale, count, age, candidate_count, residual,
             changed, inv_std, level_scale, level_bins, same_limit, join_frames
             ):  # pragma: no cover - compiled
    """Pixel x of a row that changed or holds a candidate, and does not move, into the
    candidate background: a frame like it adds to it, one unlike it starts a new one where the
    pixel changed and drops it where the pixel is like the memory again. A candidate that
    stays for join_frames frames replaces the memory there (or merges, if they agree)."""
    to_level = np.float32(1) / candidate_scale
    c0 = np.float32(candidate[x, 0]) * to_level
    c1 = np.float32(candidate[x, 1]) * to_level
    c2 = np.float32(candidate[x, 2]) * to_level
    v0, v1, v2 = np.float32(frame[x, 0]), np.float32(frame[x, 1]), np.float32(frame[x, 2])
    b = _level_bin(max(c0, v0), max(c1, v1), max(c2, v2), level_scale, level_bins)
    gap = ((v0 - c0) + (v1 - c1) + (v2 - c2)) * THIRD * inv_std[b]
    n = np.int64(candidate_count[x])
    same = n > 0 and gap * gap < same_limit * (1 + 1 / np.float32(max(n, 1)))
    if same:
        n += 1
        nf = np.float32(n)
        c0 += (v0 - c0) / nf
        c1 += (v1 - c1) / nf
        c2 += (v2 - c2) / nf
    else:
        n = 1 if changed[x] else 0
        c0, c1, c2 = v0, v1, v2
    top = np.float32(65535) * to_level
    candidate[x, 0] = np.uint16(min(max(c0, np.float32(0)), top) * candidate_scale + 0.5)
    candidate[x, 1] = np.uint16(min(max(c1, np.float32(0)), top) * candidate_scale + 0.5)
    candidate[x, 2] = np.uint16(min(max(c2, np.float32(0)), top) * candidate_scale + 0.5)
    if n < join_frames:
        candidate_count[x] = np.uint8(n)
        return
    candidate_count[x] = 0
    nf, old = np.float32(n), np.float32(count[x])
    m0, m1, m2 = mean[x, 0], mean[x, 1], mean[x, 2]
    b = _level_bin(max(c0, m0), max(c1, m1), max(c2, m2), level_scale, level_bins)
    gap = ((c0 - m0) + (c1 - m1) + (c2 - m2)) * THIRD * inv_std[b]
    residual[x] = 0  # the old background's residual says nothing of the new
    if gap * gap < same_limit * (1 / nf + 1 / old):  # they agree: merged, and the memory
        #   counts as many frames as the larger of the two (the candidate's are in it already)
        total = old + nf
        mean[x, 0] = (m0 * old + c0 * nf) / total
        mean[x, 1] = (m1 * old + c1 * nf) / total
        mean[x, 2] = (m2 * old + c2 * nf) / total
        count[x] = np.uint16(max(old, nf))
    else:
        mean[x, 0], mean[x, 1], mean[x, 2] = c0, c1, c2
        count[x] = np.uint16(n)
        age[x] = np.uint16(n)


@_jit
def distrust(confidence, near_changed, crowd, crowd_counts, crowd_limit, shift, thumb
             ):  # pragma: no cover - compiled
    """Confidence 0 (in place) near a changed pixel and, with ``crowd``, where the changing
    pixels around (``crowd_counts``: their box sums) are more than ``crowd_limit``; the sums of
    the confidence over blocks of side 2 ** shift into ``thumb`` (zeros)."""
    height, width = confidence.shape
    thumb_height, thumb_width = thumb.shape[0] << shift, thumb.shape[1] << shift
    for y in range(height):
        trusted, near, crowded = confidence[y], near_changed[y], crowd_counts[y]
        for x in range(width):
            out = (near[x] != 0) | (crowd & (crowded[x] > crowd_limit))
            trusted[x] *= np.float32(not out)
        if y < thumb_height:
            blocks = thumb[y >> shift]
            for x in range(thumb_width):
                blocks[x >> shift] += trusted[x]


@_jit
def moving_pixels(flows, squared):  # pragma: no cover - compiled
    """(T, H, W, 2) flows -> (H, W) bool: any frame's flow longer than sqrt(``squared``)."""
    frames, height, width = flows.shape[:3]
    out = np.zeros((height, width), np.bool_)
    for t in range(frames):
        for y in range(height):
            for x in range(width):
                fx, fy = flows[t, y, x, 0], flows[t, y, x, 1]
                if fx * fx + fy * fy > squared:
                    out[y, x] = True
    return out


@_jit
def lean(output, index, confidence, leaning, tables, lowest, highest, fine, trusted, step,
         rows, cols, per_level, counts, sums):  # pragma: no cover - compiled
    """With ``leaning``, the output (3, H, W) leant towards ``tables[c][index]`` by the
    confidence where every channel's index is within [lowest[c], highest[c]] (the calibrated
    span), elsewhere the output exactly: a new (3, H, W) float32 (else an empty one). And on
    every ``rows``-th row and ``cols``-th column, where the memory is trusted and no channel
    of the output saturates, each channel's offset of the output (dark levels) from the
    memory's level, into ``counts`` and ``sums`` (3, bins) by level bin (added in place)."""
    height, width = confidence.shape
    out = np.empty((3, height, width) if leaning else (0, 0, 0), np.float32)
    weight = np.empty(width, np.float32)
    bins = counts.shape[1]
    inv_fine = np.float32(1) / fine
    to_dark = np.float32(1) / per_level
    for y in range(height):
        row_confidence = confidence[y]
        if y % rows == 0:
            for x in range(0, width, cols):
                if not row_confidence[x] > trusted:
                    continue
                if not (output[0, y, x] < 1 and output[1, y, x] < 1 and output[2, y, x] < 1):
                    continue  # saturated: no level to learn
                for c in range(3):
                    level = (np.float32(index[c, y, x]) + np.float32(0.5)) * inv_fine
                    b = min(int(level * (np.float32(1) / step)), bins - 1)
                    counts[c, b] += 1
                    sums[c, b] += max(output[c, y, x], np.float32(0)) * to_dark - level
        if not leaning:
            continue
        i0, i1, i2 = index[0, y], index[1, y], index[2, y]
        for x in range(width):
            known = ((i0[x] >= lowest[0]) & (i0[x] <= highest[0]) & (i1[x] >= lowest[1])
                     & (i1[x] <= highest[1]) & (i2[x] >= lowest[2]) & (i2[x] <= highest[2]))
            weight[x] = row_confidence[x] * np.float32(known)
        for c in range(3):
            table, row_index, row_output, row_out = tables[c], index[c, y], output[c, y], out[c, y]
            for x in range(width):
                o = row_output[x]
                row_out[x] = (table[row_index[x]] - o) * weight[x] + o
    return out


def warm_up() -> None:
    """Compile every pass (for uint8 and uint16 frames) on a tiny memory, so that a camera's
    first frame does not wait for the compiler."""
    from nightowl.service.frames.background import BackgroundMemory  # (it imports this module)
    from nightowl.service.frames.memory_blend import blend

    rng = np.random.default_rng(0)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        memory = BackgroundMemory()
        for _ in range(3):
            frame = rng.integers(0, top // 8, (16, 24, 3)).astype(dtype)
            memory.update(frame, np.zeros((16, 24), bool))
            memory.update(frame, None)
    recall = memory.recall(25.0)
    if recall is not None:
        blend(np.zeros((3, 16, 24), np.float32), recall, memory.calibration)
    moving_pixels(np.zeros((1, 4, 4, 2), np.float32), np.float32(0.0625))
