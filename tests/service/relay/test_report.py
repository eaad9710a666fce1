"""The relay's counts and its one summary line."""

from __future__ import annotations

import math

from nightowl.service.relay.report import STATUSES, Report


def test_summary_counts_every_status_and_the_latency_percentiles():
    report = Report()
    report.read = report.sent = 5
    for latency in (0.1, 0.2, 0.3):
        report.result("ok", latency)
    report.result("skipped", reason="RESOURCE_EXHAUSTED: the queue is full")
    report.result("lost", reason="UNAVAILABLE: gone")
    found = report.as_dict()
    assert found["answered"] == report.answered == 5 and report.written == 3
    assert set(found["results"]) == set(STATUSES)
    assert found["latency_ms"]["p50"] == 200.0 and 290 < found["latency_ms"]["p99"] < 300
    assert found["reasons"] == {"skipped: RESOURCE_EXHAUSTED: the queue is full": 1,
                                "lost: UNAVAILABLE: gone": 1}
    line = report.summary()
    assert "\n" not in line and line.startswith("relay: read 5 sent 5 answered 5 (ok=3 ")
    assert "skipped=1" in line and "lost=1" in line and "p50 200.0 ms" in line


def test_no_frame_written_yet_reads_nan():
    assert math.isnan(Report().latency_ms(50)) and "p50 nan ms" in Report().summary()
