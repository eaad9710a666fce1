"""Aggregating records into report rows, the 95% intervals, the targets, and the markdown.

Rates are ratios of sums over all scored characters. Their 95% intervals are percentile
bootstraps over the test scenes (the characters of one plate or scene are not independent, so a
binomial interval over characters would be too narrow); every row uses the same resamples, so
differences between rows (paired: the same scenes under the same noise) get intervals too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GROUND_TRUTH = "ground truth"
BOOTSTRAP = 2000  # resamples of the test scenes
RATE_KEYS = {"char_rate": "correct", "char_rate_ocr": "correct_ocr"}
MEAN_KEYS = {"psnr": "psnr", "ssim": "ssim", "psnr_moving": "psnr_moving",
             "ms_per_frame": "ms"}


class Aggregator:
    """Per-scene sums of every (method, noise, S) cell, and the bootstrap resamples."""

    def __init__(self, records: Sequence[dict], seed: int = 0) -> None:
        self.scenes = sorted({r["index"] for r in records})
        position = {index: i for i, index in enumerate(self.scenes)}
        self.cells: dict[tuple, dict[str, np.ndarray]] = {}
        for r in records:
            for s in (r["S"], "all"):
                cell = self.cells.setdefault((r["method"], r["noise"], s), self._empty())
                i = position[r["index"]]
                for key in ("n_chars", "correct", "correct_ocr"):
                    cell[key][i] += r[key]
                for key in MEAN_KEYS.values():
                    if r[key] is not None:
                        cell[key][i] += r[key]
                        cell[key + "_count"][i] += 1
        rng = np.random.default_rng(seed)
        n = len(self.scenes)
        self.weights = rng.multinomial(n, np.full(n, 1 / n), size=BOOTSTRAP).astype(np.float64)

    def _empty(self) -> dict[str, np.ndarray]:
        n = len(self.scenes)
        keys = ["n_chars", "correct", "correct_ocr", *MEAN_KEYS.values()]
        keys += [k + "_count" for k in MEAN_KEYS.values()]
        return {k: np.zeros(n) for k in keys}

    def rate_samples(self, method: str, noise: str, s: object, key: str) -> np.ndarray:
        """(BOOTSTRAP,) resampled rates of one cell."""
        cell = self.cells[(method, noise, s)]
        chars = self.weights @ cell["n_chars"]
        return (self.weights @ cell[RATE_KEYS[key]]) / np.maximum(chars, 1)

    def row(self, method: str, noise: str, s: object) -> dict:
        cell = self.cells[(method, noise, s)]
        chars = float(cell["n_chars"].sum())
        row: dict = {"method": method, "noise": noise, "S": s, "n_chars": int(chars),
                     "n_sequences": len(self.scenes)}
        for key, source in RATE_KEYS.items():
            row[key] = float(cell[source].sum() / chars) if chars else None
            samples = self.rate_samples(method, noise, s, key)
            row[key + "_ci95"] = ([float(v) for v in np.percentile(samples, (2.5, 97.5))]
                                  if chars else None)
        for key, source in MEAN_KEYS.items():
            count = cell[source + "_count"].sum()
            row[key] = float(cell[source].sum() / count) if count else None
        return row


def build_rows(records: Sequence[dict], methods: Sequence[str], noises: Sequence[str],
               s_values: Sequence[float]) -> tuple[list[dict], Aggregator]:
    """One row per (noise, method, S), S in ``s_values`` then "all"."""
    aggregator = Aggregator(records)
    rows = [aggregator.row(m, noise, s) for noise in noises for m in methods
            for s in (*s_values, "all")]
    return rows, aggregator


def _find(rows: Sequence[dict], method: str, noise: str, s: object) -> dict:
    return next(r for r in rows if (r["method"], r["noise"], r["S"]) == (method, noise, s))


def targets(rows: Sequence[dict], aggregator: Aggregator, noise: str,
            s_values: Sequence[float]) -> list[dict]:
    """The issue's targets, measured: each with its figures and whether it holds."""
    out = []
    for lower, higher in (("SIM L1", "SIM L1+L_CR"), ("MIM L1", "MIM L1+L_CR"),
                          ("SIM L1", "MIM L1"), ("SIM L1+L_CR", "MIM L1+L_CR")):
        diff = (aggregator.rate_samples(higher, noise, "all", "char_rate")
                - aggregator.rate_samples(lower, noise, "all", "char_rate"))
        a, b = _find(rows, lower, noise, "all"), _find(rows, higher, noise, "all")
        lo, hi = np.percentile(diff, (2.5, 97.5))
        out.append({"target": f"{lower} < {higher} (char rate, all S)",
                    "measured": f"{a['char_rate']:.3f} vs {b['char_rate']:.3f}, difference "
                                f"{b['char_rate'] - a['char_rate']:+.3f} [95%: {lo:+.3f}, "
                                f"{hi:+.3f}]",
                    "holds": bool(b["char_rate"] > a["char_rate"]),
                    "significant": bool(lo > 0)})
    best, truth = _find(rows, "MIM L1+L_CR", noise, 30), _find(rows, GROUND_TRUTH, noise, 30)
    ratio = best["char_rate"] / truth["char_rate"]
    out.append({"target": "MIM L1+L_CR / ground truth >= 0.86 at S = 30 (goal 0.95)",
                "measured": f"{best['char_rate']:.3f} / {truth['char_rate']:.3f} = {ratio:.3f}",
                "holds": bool(ratio >= 0.86), "significant": None})
    columns = ("char_rate", "char_rate_ocr", "psnr", "ssim", "psnr_moving", "ms_per_frame")
    lost = []
    for key in columns:
        where = []
        for s in (*s_values, "all"):
            ours, theirs = _find(rows, "MIM L1+L_CR", noise, s), _find(rows, "classical", noise, s)
            better = (ours[key] < theirs[key]) if key == "ms_per_frame" else (
                ours[key] > theirs[key])
            if not better:
                where.append(f"S={s:g}" if s != "all" else "all S")
                where[-1] += f" {ours[key]:.3f} vs {theirs[key]:.3f}"
        if where:
            lost.append(f"{key} ({', '.join(where)})")
    out.append({"target": "MIM L1+L_CR beats classical on every column at every S",
                "measured": "beats it everywhere" if not lost else "not on: " + "; ".join(lost),
                "holds": not lost, "significant": None})
    return out


def _rate(row: dict, key: str, interval: bool = False) -> str:
    if row[key] is None:
        return "-"
    text = f"{row[key]:.3f}"
    if interval and row[key + "_ci95"]:
        lo, hi = row[key + "_ci95"]
        text += f" [{lo:.3f}, {hi:.3f}]"
    return text


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: Sequence[dict], aggregator: Aggregator, methods: Sequence[str],
             noises: Sequence[str], s_values: Sequence[float], command: str) -> str:
    """The tables and targets as markdown."""
    s_head = " | ".join(f"S={s:g}" for s in s_values)
    lines = [f"Test set: {len(aggregator.scenes)} sequences, each under every S and both noise "
             f"models. Command: `{command}`", ""]
    for noise in noises:
        n_chars = _find(rows, GROUND_TRUTH, noise, "all")["n_chars"]
        lines += [f"### Noise model `{noise}` ({n_chars // len(s_values)} characters per method "
                  f"and S, {n_chars} over all S)", ""]
        for key, title in (("char_rate", "Correct-answer rate, our recogniser"),
                           ("char_rate_ocr", "Correct-answer rate, Tesseract")):
            lines += [f"**{title}** (all S: 95% interval, bootstrap over sequences)", "",
                      f"| method | {s_head} | all S |",
                      "| --- | " + " | ".join("---" for _ in s_values) + " | --- |"]
            for m in methods:
                cells = [_rate(_find(rows, m, noise, s), key) for s in s_values]
                cells.append(_rate(_find(rows, m, noise, "all"), key, interval=True))
                lines.append(f"| {m} | " + " | ".join(cells) + " |")
            lines.append("")
        lines += ["**Image quality** (PSNR dB / SSIM on the whole frame; PSNR on moving pixels; "
                  "all S) and time (ms per frame, this CPU, one thread)", "",
                  f"| method | PSNR by S ({', '.join(f'{s:g}' for s in s_values)}) | PSNR | "
                  "SSIM | PSNR moving | ms/frame |", "| --- | --- | --- | --- | --- | --- |"]
        for m in methods:
            if m == GROUND_TRUTH:
                continue
            row = _find(rows, m, noise, "all")
            by_s = " / ".join(_num(_find(rows, m, noise, s)["psnr"], 2) for s in s_values)
            lines.append(f"| {m} | {by_s} | {_num(row['psnr'], 2)} | {_num(row['ssim'], 3)} | "
                         f"{_num(row['psnr_moving'], 2)} | {_num(row['ms_per_frame'], 1)} |")
        lines += ["", f"**Targets** (`{noise}`)", "", "| target | measured | holds |",
                  "| --- | --- | --- |"]
        for t in targets(rows, aggregator, noise, s_values):
            sig = "" if t["significant"] is None else (
                " (significant)" if t["significant"] else " (within noise)")
            lines.append(f"| {t['target']} | {t['measured']} | "
                         f"{'yes' if t['holds'] else 'NO'}{sig} |")
        lines.append("")
    return "\n".join(lines)
