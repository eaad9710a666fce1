"""Aggregating records into rows: ratios of sums, bootstrap intervals, the targets."""

from __future__ import annotations

import pytest

from nightowl.training.evaluation.report import build_rows, markdown, targets

METHODS = ["ground truth", "gain", "classical", "SIM L1", "SIM L1+L_CR", "MIM L1",
           "MIM L1+L_CR"]
# correct characters out of 10 per scene, by method
SCORES = {"ground truth": 10, "gain": 2, "classical": 6, "SIM L1": 6, "SIM L1+L_CR": 7,
          "MIM L1": 8, "MIM L1+L_CR": 9}


def records(scenes: int = 20) -> list[dict]:
    out = []
    for index in range(scenes):
        for s in (20, 30):
            for m in METHODS:
                truth = m == "ground truth"
                out.append({"index": index, "noise": "eq6", "S": s, "method": m,
                            "n_chars": 10, "correct": SCORES[m] - (index % 2 and s == 30),
                            "correct_ocr": SCORES[m] // 2, "ms": None if truth else 5.0,
                            "psnr": None if truth else 20.0 + SCORES[m],
                            "ssim": None if truth else SCORES[m] / 10,
                            "psnr_moving": None if truth else 19.0 + SCORES[m]})
    return out


def test_rows_are_ratios_of_sums_with_intervals():
    rows, _ = build_rows(records(), METHODS, ["eq6"], [20, 30])
    assert len(rows) == len(METHODS) * 3
    by_key = {(r["method"], r["S"]): r for r in rows}
    mim = by_key[("MIM L1+L_CR", 30)]
    assert mim["n_chars"] == 200 and mim["char_rate"] == pytest.approx(0.85)
    assert by_key[("MIM L1+L_CR", "all")]["char_rate"] == pytest.approx(0.875)
    lo, hi = by_key[("MIM L1+L_CR", "all")]["char_rate_ci95"]
    assert lo < 0.875 < hi and hi - lo < 0.1
    assert by_key[("gain", 20)]["psnr"] == pytest.approx(22.0)
    assert by_key[("ground truth", 20)]["psnr"] is None
    assert by_key[("ground truth", 20)]["char_rate_ci95"] == [1.0, 1.0]


def test_targets_report_what_holds_and_what_does_not():
    rows, aggregator = build_rows(records(), METHODS, ["eq6"], [20, 30])
    found = {t["target"]: t for t in targets(rows, aggregator, "eq6", [20, 30])}
    assert found["SIM L1 < SIM L1+L_CR (char rate, all S)"]["holds"]
    assert found["SIM L1 < SIM L1+L_CR (char rate, all S)"]["significant"]
    ratio = found["MIM L1+L_CR / ground truth >= 0.86 at S = 30 (goal 0.95)"]
    assert ratio["holds"] and "0.850" in ratio["measured"]
    beats = found["MIM L1+L_CR beats classical on every column at every S"]
    assert not beats["holds"] and "ms_per_frame" in beats["measured"]  # equal time is no win
    text = markdown(rows, aggregator, METHODS, ["eq6"], [20, 30], "nightowl eval")
    assert "| MIM L1+L_CR | 0.900 | 0.850 | 0.875 [" in text
