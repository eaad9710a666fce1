"""The relay's own counts: frames read and sent, results by status, reconnections, and the
end-to-end latency of each written frame (capture time to enhanced frame written)."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter

import numpy as np

# "lost": the relay's own status for a sent frame the server never answered (its stream broke,
# or the frame's deadline passed): every frame sent gets exactly one result
STATUSES = ("ok", "warming_up", "skipped", "error", "lost")
REASON_CHARS = 120  # a reason is counted by its start: the rest names frame-specific numbers


class Report:
    """Thread-safe counters, filled by the sending loop and the stream's reader."""

    def __init__(self) -> None:
        self.read = 0  # frames taken from the source
        self.sent = 0  # frames sent on a stream
        self.reconnects = 0  # new streams opened after a broken one
        self.results: Counter[str] = Counter({status: 0 for status in STATUSES})
        self.reasons: Counter[str] = Counter()  # why frames were skipped, refused or lost
        self._latencies: list[float] = []  # seconds, written frames only
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def result(self, status: str, latency_s: float | None = None, reason: str = "") -> None:
        with self._lock:
            self.results[status] += 1
            if reason and status not in ("ok", "warming_up"):
                self.reasons[f"{status}: {reason[:REASON_CHARS]}"] += 1
            if latency_s is not None:
                self._latencies.append(latency_s)

    @property
    def answered(self) -> int:
        with self._lock:
            return sum(self.results.values())

    @property
    def written(self) -> int:
        with self._lock:
            return self.results["ok"] + self.results["warming_up"]

    def latency_ms(self, percentile: float) -> float:
        """A percentile of the written frames' latency, milliseconds; NaN before any."""
        with self._lock:
            values = list(self._latencies)
        return float(np.percentile(values, percentile)) * 1e3 if values else math.nan

    def as_dict(self) -> dict:
        with self._lock:
            results, reasons = dict(self.results), dict(self.reasons.most_common())
        elapsed = time.monotonic() - self._started
        written = results["ok"] + results["warming_up"]
        return {"read": self.read, "sent": self.sent, "results": results, "reasons": reasons,
                "elapsed_s": elapsed, "written_fps": written / elapsed if elapsed > 0 else 0.0,
                "answered": sum(results.values()), "reconnects": self.reconnects,
                "latency_ms": {"p50": self.latency_ms(50), "p99": self.latency_ms(99)}}

    def summary(self) -> str:
        """One line: what ``nightowl relay`` prints at the end and every ``--report-every``."""
        d = self.as_dict()
        results = " ".join(f"{status}={n}" for status, n in d["results"].items())
        return (f"relay: read {d['read']} sent {d['sent']} answered {d['answered']} ({results}) "
                f"reconnects {d['reconnects']} written {d['written_fps']:.1f} fps latency p50 "
                f"{d['latency_ms']['p50']:.1f} ms p99 {d['latency_ms']['p99']:.1f} ms")
