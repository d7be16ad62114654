"""What one process's queue did since it started: counts and duration buckets the metrics read (no
metrics library here: the HTTP layer exports them)."""

from __future__ import annotations

CALL_WAIT_BOUNDS_S = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0)


class Durations:
    """Durations by label, in buckets (read by the metrics; no metrics library here).
    ``counts[label][i]``: durations <= ``bounds[i]``, not cumulative; the last one is above all."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = tuple(bounds)
        self.counts: dict[str, list[int]] = {}
        self.sums: dict[str, float] = {}

    def observe(self, label: str, seconds: float) -> None:
        counts = self.counts.setdefault(label, [0] * (len(self.bounds) + 1))
        counts[next((i for i, b in enumerate(self.bounds) if seconds <= b), len(self.bounds))] += 1
        self.sums[label] = self.sums.get(label, 0.0) + seconds


class QueueStats:
    """What this process's queue did since it started (the metrics read it)."""

    def __init__(self) -> None:
        self.call_waits = Durations(CALL_WAIT_BOUNDS_S)  # by exam: joining -> called, for calls made here
        self.changes: dict[str, int] = {}  # QueueChange events announced here
        self.face_results: dict[tuple[str, str], int] = {}  # (kind, outcome) of face results heard
