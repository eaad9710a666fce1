"""Whether two ``nightowl eval`` reports give the same figures: a change that should not move
any (a refactor, a faster path) is checked by running ``nightowl eval`` before and after it.

Run: python bench/compare_eval.py BEFORE/report.json AFTER/report.json
Compares every row's rates (our recogniser, Tesseract, their intervals), PSNR, SSIM, PSNR on
moving pixels and colour error, and the targets; times are left out. Rows are keyed by split,
method, noise model and S (reports from before the photo split count as synthetic). Prints
what differs; exit status 1 if anything does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROW_KEY = ("split", "method", "noise", "S")
FIGURES = ("n_chars", "n_sequences", "char_rate", "char_rate_ci95", "char_rate_ocr",
           "char_rate_ocr_ci95", "psnr", "ssim", "psnr_moving", "colour_error")


def figures(report: dict) -> dict[tuple, dict]:
    return {tuple(row.get(k, "synthetic") for k in ROW_KEY): {k: row[k] for k in FIGURES
                                                             if k in row}
            for row in report["rows"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    before, after = (json.loads(p.read_text()) for p in (args.before, args.after))
    rows_before, rows_after = figures(before), figures(after)
    differences = [f"row {key}: only in {'before' if key in rows_before else 'after'}"
                   for key in rows_before.keys() ^ rows_after.keys()]
    for key in rows_before.keys() & rows_after.keys():
        for name in rows_before[key].keys() & rows_after[key].keys():  # figures both have
            if rows_before[key][name] != rows_after[key][name]:
                differences.append(f"row {key} {name}: {rows_before[key][name]} -> "
                                   f"{rows_after[key][name]}")
    if before.get("targets") != after.get("targets"):
        differences.append("targets differ")
    for line in sorted(differences):
        print(line)
    print(f"{len(rows_before)} rows compared: "
          + ("identical rates, PSNR and SSIM" if not differences else
             f"{len(differences)} differences"))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
