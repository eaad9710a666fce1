"""What the character recogniser's output means, torch-free so that evaluation and the benches
read it without torch: class 0 is background, class i + 1 is ``CHARSET[i]``, and output cell
(row, col) is centred on input pixel x = (col + 0.5) * STRIDE, y = (row + 0.5) * STRIDE.
"""

from __future__ import annotations

from nightowl.training.synth.glyphs import DIGITS, LETTERS

CHARSET = DIGITS + LETTERS  # the plate characters it tells apart (the dash is not one)
STRIDE = 4  # px of input per output cell (its two stride-2 convolutions)
