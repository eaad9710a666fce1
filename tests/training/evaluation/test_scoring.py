"""The plate-string scorer on hand-made cases."""

from __future__ import annotations

import pytest

from nightowl.training.evaluation.scoring import correct_chars, edit_distance


@pytest.mark.parametrize(("truth", "read", "correct"), [
    ("12345", "12345", 5),  # exact
    ("12345", "12845", 4),  # one substitution
    ("12345", "1245", 4),  # one missed
    ("12345", "123456", 4),  # one extra, at the end
    ("12345", "102345", 4),  # one extra, inside
    ("12345", "", 0),  # nothing read
    ("KA1259", "KA1259", 6),  # letters too
    ("123", "987654321", 0),  # garbage never scores below zero
    ("", "12", 0),
])
def test_correct_chars(truth, read, correct):
    assert correct_chars(truth, read) == correct


def test_edit_distance_is_symmetric_and_counts_each_operation():
    assert edit_distance("7108", "710") == edit_distance("710", "7108") == 1
    assert edit_distance("0580", "8505") == 3
    assert edit_distance("", "") == 0
