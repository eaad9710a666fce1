"""The committed evaluation page: ``EVAL.md`` with the run's tables and its pictures.

``nightowl eval --publish models`` writes ``models/EVAL.md`` and ``models/eval/`` (the contact
sheet as a JPEG at 3/4 size and the plot), so the page always comes from one whole run.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

HEAD = """# Evaluation: the paper's Table 1 on nightowl's test set

Produced by `nightowl eval` (`training/evaluation/`) on the files in
this folder. Exact command (run from the repository root; {elapsed_s:.0f} s,
{hardware}):

```
{command}
```

`report.json` (the rows below, per S and overall, with intervals) and `report.md` are written
under `--out`; this page holds that run's tables and pictures. `nightowl eval --quick` runs the
same on 6 sequences; `--publish models` rewrites this page.

## How it is measured

- **Test set**: {sequences} synthetic sequences (256x256, T = 4) of data set seed {test_seed},
  which no training or validation config uses. Paired design: each clean sequence is rendered
  once and darkened under every condition: S in {{20, 22, 25, 28, 30}} x two noise models, the
  paper's Eq. 6 (sigma 2) and the extended camera model (shot and read noise, colour shift,
  motion blur and JPEG in half of the sequences; `training/synth/degrade.py`). All shipped networks
  were trained on Eq. 6 only, so the `extended` tables are the robustness figure of a model
  tested on noise it never saw.
- **Rows**: *ground truth* (the clean frame T); *gain* (dark frame T times S); *classical*
  (the 4 frames aligned onto frame T with the server's optical flow,
  `nightowl.service.frames.alignment.align_to_last`, averaged, times S, then OpenCV's non-local
  means `fastNlMeansDenoisingColored` with h = 0.8 x the estimated noise std, chosen by PSNR on a
  seed outside the test set); the four shipped networks. Every row is told the true S: a
  network trained on exposure-normalised frames (`reference_gain` in its manifest entry) gets
  its input scaled by S / reference_gain, as in training and as the server does with a told
  gain; a network without one takes the frames as captured, so S changes nothing for it. The
  served default is `mim_l1_cr.onnx`, the *MIM L1+L_CR* row.
- **Precision**: the networks ran in **{precision}** on ONNX Runtime's CPU engine, as the
  server runs them there (`--precision`; int8: each file's listed `*.int8.onnx` copy, the
  server's CPU default; fp32: the files themselves).
- **Correct-answer rate** (the paper's measure): characters read correctly / all characters,
  over every plate whose characters are all visible on frame T. Each plate is read as a
  *string* and aligned with the truth by edit distance: a plate of n characters scores
  max(0, n - distance), so a wrong, missed or extra character each count as wrong
  (`training/evaluation/scoring.py`).
  - *our recogniser* (`recogniser.onnx`, the network behind L_CR): it is given only the plate's
    text lines (where each row of characters lies) and finds the characters itself: along each
    row, the most likely class per 4-px cell column, runs of one class read as one character
    (`training/evaluation/reading.py`). Validation reads at the true character boxes instead,
    which is why the ground-truth row is a little below the model card's 0.989.
  - *Tesseract* 5 (Debian's `tesseract-ocr`, LSTM, `eng`), trained by nobody here: the
    plate's text region in grey, scaled to 48-px lines, stretched, made dark-on-light,
    whitelisted to the plate characters (`training/evaluation/ocr.py`). It reads clean
    synthetic plates imperfectly (the ground-truth row), so compare rows against that ceiling.
  - 95% intervals: percentile bootstrap over the test sequences (2000 resamples; characters of
    one sequence are not independent). Differences between rows use the same resamples
    (paired) and are called significant when their interval excludes 0.
- **PSNR / SSIM**: against the clean frame T, whole frame (SSIM: Gaussian window sigma 1.5,
  channel mean), and PSNR on the *moving* pixels only (the generator's true moving-object mask
  of frame T), averaged over sequences.
- **ms/frame**: wall time to produce one output frame, one thread of ONNX Runtime / OpenCV per
  process, measured inside the run while 2 worker processes shared the 2-core machine with
  other work; the multi-frame rows include the alignment. Compare rows with each other, not
  with the serving benchmarks.

![Contact sheet: each method on test sequences, plates enlarged](eval/contact_sheet.jpg)

*Test sequences 0-5 under Eq. 6 at S = 20, 22, 25, 28, 30, 20: the dark frame brightened by S,
the classical baseline, SIM L1, SIM L1+L_CR, MIM L1, MIM L1+L_CR and the clean frame, each with
its plate enlarged below (the red box on the frame).*

![Correct-answer rate against S, per method and noise model](eval/rate_vs_s.png)

## Results

"""


def publish(folder: Path, report: dict, tables: str, sheet: np.ndarray | None,
            plot: np.ndarray) -> Path:
    """Write ``folder``/EVAL.md and its pictures from one run; returns the page's path."""
    pictures = folder / "eval"
    pictures.mkdir(parents=True, exist_ok=True)
    if sheet is not None:
        small = cv2.resize(sheet, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(pictures / "contact_sheet.jpg"), small[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 82])
    cv2.imwrite(str(pictures / "rate_vs_s.png"), plot[..., ::-1],
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    page = folder / "EVAL.md"
    page.write_text(HEAD.format(**report) + tables.split("\n", 1)[1].lstrip())
    return page
