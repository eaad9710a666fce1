"""The long evaluation's figures: records pooled per (split, noise, S, row), the targets, the
Markdown tables and the plot of PSNR against the memory's age."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from nightowl.training.evaluation.longrun import AGE_EDGES, GHOST_FRAMES, OLD
from nightowl.training.evaluation.pictures import COLOURS, DARK, FONT, plate_tile, title_bar

# the targets: old static pixels this many dB above the row without memory, at most this
# temporal noise (8-bit levels); moving pixels and reading no worse than these margins; the
# region a car left back within GHOST_MARGIN dB of its static level within GHOST_WITHIN frames
STATIC_GAIN_DB, TEMPORAL_STD = 3.0, 1.5
MOVING_MARGIN_DB, READ_MARGIN = 0.2, 0.01
GHOST_MARGIN_DB, GHOST_WITHIN = 0.5, 10


def _psnr(sums: Sequence[float]) -> float | None:
    return None if not sums[1] else float(-10 * np.log10(max(sums[0] / sums[1], 1e-10)))


def pool(records: list[dict], keys: tuple) -> dict:
    """One row of figures from the records of one (split, noise, S, method)."""
    chosen = [r for r in records if (r["split"], r["noise"], r["S"], r["method"]) == keys]
    total = {name: np.sum([r[name] for r in chosen], axis=0)
             for name in ("static", "moving", "level", "chars")}
    ages = np.sum([r["ages"] for r in chosen], axis=0)
    weights = [r["temporal_pixels"] for r in chosen if r["temporal_std"] is not None]
    stds = [r["temporal_std"] for r in chosen if r["temporal_std"] is not None]
    ghosts = {}
    for k in range(GHOST_FRAMES + 1):
        values = [r["ghost"].get(str(k)) for r in chosen]
        values = [v for v in values if v is not None]
        ghosts[k] = float(np.mean(values)) if values else None
    level = _psnr(total["level"])
    recovered = next((k for k, v in ghosts.items() if k >= 1 and v is not None
                      and level is not None and v >= level - GHOST_MARGIN_DB), None)
    chars = total["chars"]
    return {"split": keys[0], "noise": keys[1], "S": keys[2], "method": keys[3],
            "sequences": len(chosen), "static_psnr": _psnr(total["static"]),
            "temporal_std": float(np.average(stds, weights=weights)) if stds else None,
            "moving_psnr": _psnr(total["moving"]),
            "char_rate": float(chars[0] / chars[2]) if chars[2] else None,
            "ocr_rate": float(chars[1] / chars[2]) if chars[2] else None,
            "ghost_level": level, "ghost": ghosts, "ghost_recovered": recovered,
            "age_psnr": [_psnr(a) for a in ages]}


def build_rows(records: list[dict], methods: list[str], splits: Sequence[str],
               noises: Sequence[str], s_values: Sequence[float]) -> list[dict]:
    return [pool(records, keys) for keys in itertools.product(splits, noises, s_values, methods)]


def targets(rows: list[dict], base: str, memory: str) -> list[dict]:
    """Each condition's verdict on the targets, ``memory``'s row against ``base``'s."""
    out = []
    for row in (r for r in rows if r["method"] == memory):
        ref = next(r for r in rows if (r["split"], r["noise"], r["S"], r["method"])
                   == (row["split"], row["noise"], row["S"], base))
        gain = _diff(row["static_psnr"], ref["static_psnr"])
        moving = _diff(row["moving_psnr"], ref["moving_psnr"])
        read = _diff(row["char_rate"], ref["char_rate"])
        out.append({"split": row["split"], "noise": row["noise"], "S": row["S"],
                    "static_gain_db": gain, "static_ok": gain is not None
                    and gain >= STATIC_GAIN_DB,
                    "temporal_std": row["temporal_std"], "temporal_ok": row["temporal_std"]
                    is not None and row["temporal_std"] <= TEMPORAL_STD,
                    "moving_diff_db": moving, "moving_ok": moving is None
                    or moving >= -MOVING_MARGIN_DB,
                    "read_diff": read, "read_ok": read is None or read >= -READ_MARGIN,
                    "ghost_recovered": row["ghost_recovered"],
                    "ghost_ok": row["ghost_recovered"] is not None
                    and row["ghost_recovered"] <= GHOST_WITHIN})
    return out


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], verdicts: list[dict], command: str, base: str,
             memory: str) -> str:
    lines = [f"`{command}`", "",
             f"Static pixels: no driving vehicle in the window, off the parked car, memory older "
             f"than {OLD} frames. Temporal std: of each such pixel's error over time, 8-bit "
             f"levels. Ghost: PSNR in the region the parked car left, k frames after, against "
             f"its level before the car came.", "",
             "| split | noise | S | method | static PSNR | temporal std | moving PSNR | chars "
             "(recogniser) | chars (Tesseract) | ghost level | ghost k=1 | k=5 | k=10 | "
             "back within 0.5 dB at k |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
             "--- |"]
    for r in rows:
        g = r["ghost"]
        lines.append(f"| {r['split']} | {r['noise']} | {r['S']:g} | {r['method']} | "
                     f"{_f(r['static_psnr'])} | {_f(r['temporal_std'])} | "
                     f"{_f(r['moving_psnr'])} | {_f(r['char_rate'], 3)} | "
                     f"{_f(r['ocr_rate'], 3)} | {_f(r['ghost_level'])} | {_f(g.get(1))} | "
                     f"{_f(g.get(5))} | {_f(g.get(10))} | "
                     f"{'-' if r['ghost_recovered'] is None else r['ghost_recovered']} |")
    lines += ["", f"Targets, {memory} against {base}: static PSNR +{STATIC_GAIN_DB:g} dB, "
              f"temporal std <= {TEMPORAL_STD:g}, moving PSNR within {MOVING_MARGIN_DB:g} dB, "
              f"chars within {READ_MARGIN:g}, ghost back within {GHOST_MARGIN_DB:g} dB in "
              f"{GHOST_WITHIN} frames.", "",
              "| split | noise | S | static gain dB | temporal std | moving diff dB | chars diff "
              "| ghost back at k | all met |", "| --- | --- | --- | --- | --- | --- | --- | --- "
              "| --- |"]
    for v in verdicts:
        met = all(v[k] for k in ("static_ok", "temporal_ok", "moving_ok", "read_ok",
                                 "ghost_ok"))
        lines.append(f"| {v['split']} | {v['noise']} | {v['S']:g} | "
                     f"{_f(v['static_gain_db'])} {'ok' if v['static_ok'] else 'MISS'} | "
                     f"{_f(v['temporal_std'])} {'ok' if v['temporal_ok'] else 'MISS'} | "
                     f"{_f(v['moving_diff_db'])} {'ok' if v['moving_ok'] else 'MISS'} | "
                     f"{_f(v['read_diff'], 3)} {'ok' if v['read_ok'] else 'MISS'} | "
                     f"{'-' if v['ghost_recovered'] is None else v['ghost_recovered']} "
                     f"{'ok' if v['ghost_ok'] else 'MISS'} | {'yes' if met else 'no'} |")
    return "\n".join(lines) + "\n"


def age_plot(rows: list[dict], methods: Sequence[str], splits: Sequence[str],
             noises: Sequence[str], size: tuple[int, int] = (420, 300)) -> np.ndarray:
    """(H, W, 3) uint8 RGB: PSNR of static pixels against the memory's age (all S pooled by
    their mean), one panel per split (rows) and noise model (columns)."""
    labels = [f"{a}-{b}" if b < 1 << 16 else f"{a}+" for a, b in itertools.pairwise(AGE_EDGES)]
    panels = []
    for split in splits:
        line = []
        for noise in noises:
            curves = {}
            for m in methods:
                chosen = [r["age_psnr"] for r in rows
                          if (r["split"], r["noise"], r["method"]) == (split, noise, m)]
                curves[m] = [np.mean([c[k] for c in chosen if c[k] is not None])
                             if any(c[k] is not None for c in chosen) else None
                             for k in range(len(labels))]
            line.append(_panel(curves, labels, f"{split}, {noise}", size))
        panels.append(np.hstack(line))
    plot = np.vstack(panels)
    legend = np.full((30, plot.shape[1], 3), 255, np.uint8)
    for i, m in enumerate(methods):
        x = 20 + i * (plot.shape[1] // max(1, len(methods)))
        cv2.line(legend, (x, 15), (x + 30, 15), COLOURS[(i + 3) % len(COLOURS)], 2,
                 cv2.LINE_AA)
        cv2.putText(legend, m, (x + 38, 20), FONT, 0.45, DARK, 1, cv2.LINE_AA)
    return np.vstack([plot, legend])


def _panel(curves: dict[str, list], labels: list[str], title: str,
           size: tuple[int, int]) -> np.ndarray:
    width, height = size
    left, right, top, bottom = 50, 15, 35, 45
    panel = np.full((height, width, 3), 255, np.uint8)
    values = [v for c in curves.values() for v in c if v is not None]
    lo, hi = (np.floor(min(values)) - 1, np.ceil(max(values)) + 1) if values else (0, 1)

    def px(k: int, v: float) -> tuple[int, int]:
        x = left + k / max(1, len(labels) - 1) * (width - left - right)
        return round(x), round(top + (hi - v) / max(hi - lo, 1e-9) * (height - top - bottom))

    for tick in np.linspace(lo, hi, 5):
        cv2.line(panel, px(0, tick), px(len(labels) - 1, tick), (225, 225, 225), 1)
        cv2.putText(panel, f"{tick:.0f}", (8, px(0, tick)[1] + 4), FONT, 0.4, DARK, 1,
                    cv2.LINE_AA)
    for k, label in enumerate(labels):
        x, y = px(k, lo)
        cv2.putText(panel, label, (x - 14, y + 18), FONT, 0.33, DARK, 1, cv2.LINE_AA)
    cv2.putText(panel, "memory age (frames)", (width // 2 - 60, height - 6), FONT, 0.4, DARK,
                1, cv2.LINE_AA)
    cv2.putText(panel, f"static PSNR (dB), {title}", (left, 22), FONT, 0.45, DARK, 1,
                cv2.LINE_AA)
    for i, curve in enumerate(curves.values()):
        points = [px(k, v) for k, v in enumerate(curve) if v is not None]
        colour = COLOURS[(i + 3) % len(COLOURS)]
        for a, b in itertools.pairwise(points):
            cv2.line(panel, a, b, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(panel, p, 3, colour, -1, cv2.LINE_AA)
    return panel


def sheet(items: list[dict], methods: Sequence[str]) -> np.ndarray:
    """The contact sheet: per item (a sequence's frame), dark x S, each method, the truth."""
    order = ["gain", *methods, "ground truth"]
    rows = []
    for item in sorted(items, key=lambda i: (i["split"], i["index"], i["frame"])):
        row = np.hstack([plate_tile(item["images"][m], None, 200) for m in order])
        title = (f"{item['split']} sequence {item['index']}, frame {item['frame']} "
                 f"({item['when']}), noise {item['noise']}, S = {item['S']:g}")
        rows.append(np.vstack([title_bar(row.shape[1], title), row]))
    body = np.vstack(rows)
    header = np.full((26, body.shape[1], 3), DARK, np.uint8)
    step = body.shape[1] // len(order)
    for i, name in enumerate(order):
        label = "dark x S" if name == "gain" else name
        cv2.putText(header, label, (i * step + 6, 18), FONT, 0.42, (235, 235, 235), 1,
                    cv2.LINE_AA)
    return np.vstack([header, body])
