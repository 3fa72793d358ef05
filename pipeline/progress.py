"""Console progress for long stages: "done / total", elapsed time and an ETA, one line at a time.

Lines go to the real standard output (captured when the object is made), so
that progress still shows while a library's own output is redirected to a log
file. A line is printed for the first item, the last one, and otherwise at
most every ``every_s`` seconds: readable under ``make`` and in CI logs, unlike
a redrawn bar.

The ETA comes from the items done in this run; before the first one finishes
it comes from this machine's earlier runs (:class:`SpeedLog`), if any.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from pipeline.io import atomic_write_json

# Seconds per call measured on this machine, per model and kind of call: the plan's time estimate.
SPEED_PATH = Path(os.environ.get("EVAL_SPEED_FILE", Path.home() / ".cache" / "energy-eval" / "speed.json"))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class SpeedLog:
    """Mean seconds per call of each (model, kind) on this machine, kept across runs."""

    def __init__(self, path: Path = SPEED_PATH):
        self.path = path
        try:
            self.data = json.loads(path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def seconds_per_call(self, model: str, kind: str) -> float | None:
        entry = self.data.get(model, {}).get(kind)
        return entry["seconds"] / entry["calls"] if entry and entry["calls"] else None

    def record(self, model: str, kind: str, seconds: float, calls: int) -> None:
        """Add measured calls; the recent past weighs most (older totals are halved past 50 calls)."""
        if calls <= 0:
            return
        entry = self.data.setdefault(model, {}).setdefault(kind, {"seconds": 0.0, "calls": 0})
        if entry["calls"] > 50:
            entry["seconds"], entry["calls"] = entry["seconds"] / 2, entry["calls"] / 2
        entry["seconds"] += seconds
        entry["calls"] += calls
        try:
            atomic_write_json(self.path, self.data)
        except OSError:
            pass  # a read-only home: estimates are a convenience


class Progress:
    """Counts items of one step and prints ``<stage>: <label> done/total ... ETA``."""

    def __init__(self, stage: str, label: str, total: int, *, unit: str = "calls",
                 seconds_per_item: float | None = None, every_s: float = 10.0, stream=None):
        self.stage, self.label, self.total, self.unit = stage, label, total, unit
        self.prior = seconds_per_item
        self.every_s = every_s
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.done = self.reused = 0
        self.fresh_seconds = 0.0
        self.fresh = 0
        self.last_print = 0.0
        self.lock = threading.Lock()

    def eta(self) -> float | None:
        remaining = self.total - self.done
        if remaining <= 0:
            return 0.0
        if self.fresh:
            return remaining * self.fresh_seconds / self.fresh
        return remaining * self.prior if self.prior else None

    def advance(self, *, reused: bool = False, seconds: float | None = None) -> None:
        with self.lock:
            self.done += 1
            if reused:
                self.reused += 1
            elif seconds is not None:
                self.fresh += 1
                self.fresh_seconds += seconds
            now = time.monotonic()
            if self.done in (1, self.total) or now - self.last_print >= self.every_s:
                self.last_print = now
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def line(self) -> str:
        reused = f" ({self.reused} reused)" if self.reused else ""
        tail = "done" if self.done >= self.total else f"ETA {duration(self.eta())}"
        return (f"{self.stage}: {self.label} {self.done}/{self.total} {self.unit}{reused}, "
                f"{duration(time.monotonic() - self.started)} elapsed, {tail}")
