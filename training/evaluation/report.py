"""Aggregating records into report rows, the 95% intervals, the targets, and the markdown.

Rates are ratios of sums over all scored characters. Their 95% intervals are percentile
bootstraps over the test scenes, drawn within each split (the characters of one plate or scene
are not independent, so a binomial interval over characters would be too narrow); every row
uses the same resamples, so differences between rows (paired: the same scenes under the same
noise) get intervals too, for the rates and for the image measures alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GROUND_TRUTH = "ground truth"
BEST, BASELINE = "MIM L1+L_CR", "classical"  # the targets compare these
S30_FLOOR, S30_GOAL = 0.92, 0.95  # MIM L1+L_CR / ground truth at S = 30 (synthetic, eq6)
ESTIMATED = " (estimated gain)"  # as methods.ESTIMATED (this module imports no engine)
BOOTSTRAP = 2000  # resamples of the test scenes
RATE_KEYS = {"char_rate": "correct", "char_rate_ocr": "correct_ocr"}
MEAN_KEYS = {"psnr": "psnr", "ssim": "ssim", "psnr_moving": "psnr_moving",
             "colour_error": "colour_error", "ms_per_frame": "ms", "s_told": "s_told"}
LOWER_IS_BETTER = ("colour_error", "ms_per_frame")
PSNR_MARGIN = 1.0  # dB by which the best network should beat the classical baseline
MONO_MARGIN = 0.02  # the best network's rate on grey frames may trail its colour rate by this
MONO, COLOUR = "mono", "synthetic"  # the grey split and the colour split it is paired with


class Aggregator:
    """Per-scene sums of every (method, split, noise, S) cell, and the bootstrap resamples."""

    def __init__(self, records: Sequence[dict], seed: int = 0) -> None:
        self.scenes = sorted({(r["split"], r["index"]) for r in records})
        position = {scene: i for i, scene in enumerate(self.scenes)}
        self.cells: dict[tuple, dict[str, np.ndarray]] = {}
        for r in records:
            for s in (r["S"], "all"):
                cell = self.cells.setdefault((r["method"], r["split"], r["noise"], s),
                                             self._empty())
                i = position[(r["split"], r["index"])]
                for key in ("n_chars", "correct", "correct_ocr"):
                    cell[key][i] += r[key]
                for key in MEAN_KEYS.values():
                    if r.get(key) is not None:
                        cell[key][i] += r[key]
                        cell[key + "_count"][i] += 1
        rng = np.random.default_rng(seed)
        self.weights = np.zeros((BOOTSTRAP, len(self.scenes)))
        # the synthetic split draws first: its intervals are those of a synthetic-only run
        for split in sorted({split for split, _ in self.scenes}, key=lambda n: (
                n != "synthetic", n)):
            chosen = [i for i, (name, _) in enumerate(self.scenes) if name == split]
            n = len(chosen)
            self.weights[:, chosen] = rng.multinomial(n, np.full(n, 1 / n), size=BOOTSTRAP)

    def _empty(self) -> dict[str, np.ndarray]:
        n = len(self.scenes)
        keys = ["n_chars", "correct", "correct_ocr", *MEAN_KEYS.values()]
        keys += [k + "_count" for k in MEAN_KEYS.values()]
        return {k: np.zeros(n) for k in keys}

    def sequences(self, split: str) -> int:
        """Test sequences of one split."""
        return sum(name == split for name, _ in self.scenes)

    def samples(self, method: str, split: str, noise: str, s: object, key: str) -> np.ndarray:
        """(BOOTSTRAP,) resampled values of one cell's rate or mean (NaN where undefined)."""
        cell = self.cells[(method, split, noise, s)]
        if key in RATE_KEYS:
            total, count = self.weights @ cell[RATE_KEYS[key]], self.weights @ cell["n_chars"]
        else:
            source = MEAN_KEYS[key]
            total, count = self.weights @ cell[source], self.weights @ cell[source + "_count"]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1e-12), np.nan)

    def row(self, method: str, split: str, noise: str, s: object) -> dict:
        cell = self.cells[(method, split, noise, s)]
        chars = float(cell["n_chars"].sum())
        row: dict = {"split": split, "method": method, "noise": noise, "S": s,
                     "n_chars": int(chars), "n_sequences": self.sequences(split)}
        for key, source in RATE_KEYS.items():
            row[key] = float(cell[source].sum() / chars) if chars else None
            samples = self.samples(method, split, noise, s, key)
            row[key + "_ci95"] = ([float(v) for v in np.percentile(samples, (2.5, 97.5))]
                                  if chars else None)
        for key, source in MEAN_KEYS.items():
            count = cell[source + "_count"].sum()
            row[key] = float(cell[source].sum() / count) if count else None
        return row


def build_rows(records: Sequence[dict], methods: Sequence[str], splits: Sequence[str],
               noises: Sequence[str], s_values: Sequence[float]
               ) -> tuple[list[dict], Aggregator]:
    """One row per (split, noise, method, S), S in ``s_values`` then "all"."""
    aggregator = Aggregator(records)
    rows = [aggregator.row(m, split, noise, s) for split in splits for noise in noises
            for m in methods for s in (*s_values, "all")]
    return rows, aggregator


def find(rows: Sequence[dict], method: str, split: str, noise: str, s: object) -> dict:
    """The row of one (method, split, noise, S)."""
    return next(r for r in rows
                if (r["method"], r["split"], r["noise"], r["S"]) == (method, split, noise, s))


def _difference(aggregator: Aggregator, better: str, worse: str, split: str, noise: str,
                key: str) -> tuple[float, float, float]:
    """``better`` minus ``worse`` over all S (the other way round for LOWER_IS_BETTER keys), and
    its paired 95% interval; NaN where a row has no value."""
    a = aggregator.samples(better, split, noise, "all", key)
    b = aggregator.samples(worse, split, noise, "all", key)
    diff = (b - a) if key in LOWER_IS_BETTER else (a - b)
    if np.isnan(diff).all():
        return float("nan"), float("nan"), float("nan")
    point = _point(aggregator, better, worse, split, noise, key)
    lo, hi = np.nanpercentile(diff, (2.5, 97.5))
    return point, float(lo), float(hi)


def _point(aggregator: Aggregator, better: str, worse: str, split: str, noise: str,
           key: str) -> float:
    a, b = (aggregator.row(m, split, noise, "all")[key] for m in (better, worse))
    if a is None or b is None:
        return float("nan")
    return (b - a) if key in LOWER_IS_BETTER else (a - b)


def _comparison(aggregator: Aggregator, split: str, noise: str, key: str, margin: float,
                gain: str, what: str, unit: str) -> dict:
    suffix = "" if gain == "told" else ESTIMATED
    best, baseline = BEST + suffix, BASELINE + suffix
    if (best, split, noise, "all") not in aggregator.cells or (
            baseline, split, noise, "all") not in aggregator.cells:
        return {}
    point, lo, hi = _difference(aggregator, best, baseline, split, noise, key)
    target = f"{BEST} vs {BASELINE}: {what} (gain {gain})"
    if np.isnan(point):
        return {"target": target, "measured": "no values", "holds": None, "significant": None}
    ours, theirs = (aggregator.row(m, split, noise, "all")[key] for m in (best, baseline))
    holds = point >= margin if margin else (point > 0 if key in LOWER_IS_BETTER else point >= 0)
    return {"target": target,
            "measured": f"{ours:.3f} vs {theirs:.3f}{unit}, better by {point:+.3f} [95%: "
                        f"{lo:+.3f}, {hi:+.3f}]",
            "holds": bool(holds), "significant": bool(lo > margin or hi < margin)}


def targets(rows: Sequence[dict], aggregator: Aggregator, split: str, noise: str,
            s_values: Sequence[float]) -> list[dict]:
    """The targets on one split and noise model, measured: each with its figures, whether it
    holds (None: nothing to measure) and whether its 95% interval excludes the line."""
    out = []
    for gain in ("told", "estimated"):
        for key, margin, what, unit in (
                ("psnr", PSNR_MARGIN, f"whole-frame PSNR >= {PSNR_MARGIN:g} dB higher", " dB"),
                ("colour_error", 0.0, "lower colour error", " levels"),
                ("char_rate", 0.0, "at least as many characters read (our recogniser)", ""),
                ("char_rate_ocr", 0.0, "at least as many characters read (Tesseract)", "")):
            found = _comparison(aggregator, split, noise, key, margin, gain, what, unit)
            if found:
                out.append(found)
    for lower, higher in (("SIM L1", "SIM L1+L_CR"), ("MIM L1", "MIM L1+L_CR"),
                          ("SIM L1", "MIM L1"), ("SIM L1+L_CR", "MIM L1+L_CR")):
        a, b = find(rows, lower, split, noise, "all"), find(rows, higher, split, noise, "all")
        target = f"{lower} < {higher} (char rate, all S, gain told)"
        if a["char_rate"] is None or b["char_rate"] is None:
            out.append({"target": target, "measured": "no characters", "holds": None,
                        "significant": None})
            continue
        _, lo, hi = _difference(aggregator, higher, lower, split, noise, "char_rate")
        out.append({"target": target,
                    "measured": f"{a['char_rate']:.3f} vs {b['char_rate']:.3f}, difference "
                                f"{b['char_rate'] - a['char_rate']:+.3f} [95%: {lo:+.3f}, "
                                f"{hi:+.3f}]",
                    "holds": bool(b["char_rate"] > a["char_rate"]),
                    "significant": bool(lo > 0 or hi < 0)})
    if split == "synthetic" and noise == "eq6" and 30 in s_values:
        best, truth = find(rows, BEST, split, noise, 30), find(rows, GROUND_TRUTH, split, noise, 30)
        target = f"{BEST} / ground truth >= {S30_FLOOR} at S = 30 (goal {S30_GOAL})"
        if best["char_rate"] is None or not truth["char_rate"]:
            out.append({"target": target, "measured": "no characters", "holds": None,
                        "significant": None})
        else:
            ratio = best["char_rate"] / truth["char_rate"]
            out.append({"target": target,
                        "measured": f"{best['char_rate']:.3f} / {truth['char_rate']:.3f} = "
                                    f"{ratio:.3f}",
                        "holds": bool(ratio >= S30_FLOOR), "significant": None})
    out.append(_everywhere(rows, split, noise, s_values))
    return out


def _everywhere(rows: Sequence[dict], split: str, noise: str, s_values: Sequence[float]) -> dict:
    """Whether the best network beats the classical baseline on every column at every S."""
    columns = ("char_rate", "char_rate_ocr", "psnr", "ssim", "psnr_moving", "colour_error",
               "ms_per_frame")
    lost = []
    for key in columns:
        where = []
        for s in (*s_values, "all"):
            ours, theirs = find(rows, BEST, split, noise, s), find(rows, BASELINE, split, noise, s)
            if ours[key] is None or theirs[key] is None:
                continue
            better = (ours[key] < theirs[key]) if key in LOWER_IS_BETTER else (
                ours[key] > theirs[key])
            if not better:
                where.append(f"S={s:g}" if s != "all" else "all S")
                where[-1] += f" {ours[key]:.3f} vs {theirs[key]:.3f}"
        if where:
            lost.append(f"{key} ({', '.join(where)})")
    return {"target": f"{BEST} beats {BASELINE} on every column at every S (gain told)",
            "measured": "beats it everywhere" if not lost else "not on: " + "; ".join(lost),
            "holds": not lost, "significant": None}


def _subset_rate(aggregator: Aggregator, method: str, split: str, noise: str, key: str,
                 where: list[int], weights: np.ndarray | None = None) -> np.ndarray:
    """A rate over all S on the scenes at positions ``where``: () without ``weights``, else
    (BOOTSTRAP,) with those resample weights over ``where``."""
    cell = aggregator.cells[(method, split, noise, "all")]
    hits, chars = cell[RATE_KEYS[key]][where], cell["n_chars"][where]
    if weights is None:
        hits, chars = hits.sum(), chars.sum()
    else:
        hits, chars = weights @ hits, weights @ chars
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(chars > 0, hits / np.maximum(chars, 1e-12), np.nan)


def mono_targets(aggregator: Aggregator, noise: str, seed: int = 0) -> list[dict]:
    """The best network on grey frames against itself on the colour frames of the same scenes:
    characters read over all S by each recogniser, mono minus colour over the scenes the two
    splits share, with a paired bootstrap interval; it holds down to -MONO_MARGIN."""
    common = sorted({i for split, i in aggregator.scenes if split == MONO}
                    & {i for split, i in aggregator.scenes if split == COLOUR})
    if not common or (BEST, MONO, noise, "all") not in aggregator.cells or (
            BEST, COLOUR, noise, "all") not in aggregator.cells:
        return []
    position = {scene: i for i, scene in enumerate(aggregator.scenes)}
    where = {MONO: [position[(MONO, i)] for i in common],
             COLOUR: [position[(COLOUR, i)] for i in common]}
    weights = np.random.default_rng(seed).multinomial(len(common), np.full(len(common),
                                                                           1 / len(common)),
                                                      size=BOOTSTRAP)
    out = []
    for key, reader in (("char_rate", "our recogniser"), ("char_rate_ocr", "Tesseract")):
        target = (f"{BEST} on grey frames reads at least as many characters as on colour "
                  f"ones, within {MONO_MARGIN} ({reader})")

        def rate(method: str, split: str, resampled: bool = False, key: str = key):
            return _subset_rate(aggregator, method, split, noise, key, where[split],
                                weights if resampled else None)

        ours, theirs = float(rate(BEST, MONO)), float(rate(BEST, COLOUR))
        if np.isnan(ours) or np.isnan(theirs):
            out.append({"target": target, "measured": "no characters", "holds": None,
                        "significant": None})
            continue
        lo, hi = np.nanpercentile(rate(BEST, MONO, True) - rate(BEST, COLOUR, True), (2.5, 97.5))
        out.append({"target": target,
                    "measured": f"{ours:.3f} grey vs {theirs:.3f} colour on {len(common)} "
                                f"shared scenes, difference {ours - theirs:+.3f} [95%: "
                                f"{lo:+.3f}, {hi:+.3f}] (ground truth "
                                f"{float(rate(GROUND_TRUTH, MONO)):.3f} vs "
                                f"{float(rate(GROUND_TRUTH, COLOUR)):.3f})",
                    "holds": bool(ours - theirs >= -MONO_MARGIN),
                    "significant": bool(lo > -MONO_MARGIN or hi < -MONO_MARGIN)})
    return out


def all_targets(rows: Sequence[dict], aggregator: Aggregator, splits: Sequence[str],
                noises: Sequence[str], s_values: Sequence[float]) -> dict[str, dict]:
    """split -> noise model -> its targets (report.json's "targets"); the grey split's include
    the comparison with the colour split when both were run."""
    found = {split: {noise: targets(rows, aggregator, split, noise, s_values)
                     for noise in noises} for split in splits}
    if MONO in found:
        for noise in noises:
            found[MONO][noise] += mono_targets(aggregator, noise)
    return found


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


def _verdict(target: dict) -> str:
    if target["holds"] is None:
        return "-"
    sig = "" if target["significant"] is None else (
        " (significant)" if target["significant"] else " (within noise)")
    return ("yes" if target["holds"] else "NO") + sig


def summary(found: dict[str, dict]) -> list[str]:
    """The targets as one short table: a row per target, a column per split and noise model."""
    columns = [(split, noise) for split, by_noise in found.items() for noise in by_noise]
    names: list[str] = []
    for split, noise in columns:
        names += [t["target"] for t in found[split][noise] if t["target"] not in names]
    lines = ["| target | " + " | ".join(f"{split} `{noise}`" for split, noise in columns) + " |",
             "| --- | " + " | ".join("---" for _ in columns) + " |"]
    for name in names:
        cells = []
        for split, noise in columns:
            match = [t for t in found[split][noise] if t["target"] == name]
            cells.append("yes" if match and match[0]["holds"] else
                         "NO" if match and match[0]["holds"] is False else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def markdown(rows: Sequence[dict], aggregator: Aggregator, methods: Sequence[str],
             splits: Sequence[str], noises: Sequence[str], s_values: Sequence[float],
             command: str) -> str:
    """The targets' summary, then per split and noise model the tables and targets."""
    counts = ", ".join(f"{aggregator.sequences(split)} {split}" for split in splits)
    found = all_targets(rows, aggregator, splits, noises, s_values)
    lines = [f"Test sets: {counts} sequences, each under every S and the noise models "
             f"{', '.join(noises)}. Command: `{command}`", "", "### Targets", "",
             f"Whole-frame PSNR, colour error and characters read over all S, {BEST} against "
             f"{BASELINE}, each told the true gain and each told the server's estimate; the "
             "paper's ordering; details under each table.", "", *summary(found), ""]
    s_head = " | ".join(f"S={s:g}" for s in s_values)
    for split in splits:
        for noise in noises:
            n_chars = find(rows, GROUND_TRUTH, split, noise, "all")["n_chars"]
            lines += [f"### Split `{split}`, noise model `{noise}` ({n_chars // len(s_values)} "
                      f"characters per method and S, {n_chars} over all S)", ""]
            lines += _tables(rows, methods, split, noise, s_values, s_head)
            lines += [f"**Targets** ({split}, `{noise}`)", "", "| target | measured | holds |",
                      "| --- | --- | --- |"]
            lines += [f"| {t['target']} | {t['measured']} | {_verdict(t)} |"
                      for t in found[split][noise]]
            lines.append("")
    return "\n".join(lines)


def _tables(rows: Sequence[dict], methods: Sequence[str], split: str, noise: str,
            s_values: Sequence[float], s_head: str) -> list[str]:
    lines = []
    for key, title in (("char_rate", "Correct-answer rate, our recogniser"),
                       ("char_rate_ocr", "Correct-answer rate, Tesseract")):
        lines += [f"**{title}** (all S: 95% interval, bootstrap over sequences)", "",
                  f"| method | {s_head} | all S |",
                  "| --- | " + " | ".join("---" for _ in s_values) + " | --- |"]
        for m in methods:
            cells = [_rate(find(rows, m, split, noise, s), key) for s in s_values]
            cells.append(_rate(find(rows, m, split, noise, "all"), key, interval=True))
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["**Image quality** (PSNR dB / SSIM on the whole frame; PSNR on moving pixels; "
              "colour error: mean absolute difference of 16x16 block means, 8-bit levels; "
              "all S), the mean S told, and time (ms per frame, this CPU, one thread)", "",
              f"| method | PSNR by S ({', '.join(f'{s:g}' for s in s_values)}) | PSNR | "
              "SSIM | PSNR moving | colour error | S told | ms/frame |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods:
        if m == GROUND_TRUTH:
            continue
        row = find(rows, m, split, noise, "all")
        by_s = " / ".join(_num(find(rows, m, split, noise, s)["psnr"], 2) for s in s_values)
        lines.append(f"| {m} | {by_s} | {_num(row['psnr'], 2)} | {_num(row['ssim'], 3)} | "
                     f"{_num(row['psnr_moving'], 2)} | {_num(row['colour_error'], 1)} | "
                     f"{_num(row['s_told'], 1)} | {_num(row['ms_per_frame'], 1)} |")
    lines.append("")
    return lines
