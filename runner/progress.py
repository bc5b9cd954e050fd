"""Turn terraform's output into a phase, a percentage and a log, and publish them at a steady pace.

Percent within the apply (or destroy) phase is finished resource operations over planned ones,
counted from terraform's machine-readable events. Publishing is throttled: a background ticker
flushes at most once per interval, and phase changes flush at once.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.records import JobAction, Phase
from core.redaction import Scrubber

LOG_TAIL_LINES = 60
LOG_TAIL_BYTES = 6_000

# (start, end) percent of each phase, per action; the last phase ends at 99 and done is 100.
PHASE_BANDS: dict[JobAction, dict[Phase, tuple[int, int]]] = {
    JobAction.DEPLOY: {
        Phase.INIT: (0, 10),
        Phase.VALIDATE: (10, 15),
        Phase.PLAN: (15, 35),
        Phase.APPLY: (35, 99),
    },
    JobAction.DESTROY: {
        Phase.INIT: (0, 10),
        Phase.VALIDATE: (10, 15),
        Phase.PLAN: (15, 35),
        Phase.DESTROY: (35, 99),
    },
    JobAction.PLAN: {Phase.INIT: (0, 25), Phase.VALIDATE: (25, 35), Phase.PLAN: (35, 99)},
    JobAction.VALIDATE: {Phase.INIT: (0, 60), Phase.VALIDATE: (60, 99)},
    JobAction.DRIFT: {Phase.INIT: (0, 25), Phase.VALIDATE: (25, 30), Phase.PLAN: (30, 99)},
}


@dataclass(frozen=True)
class Snapshot:
    phase: Phase
    progress: int
    log_tail: str
    log_text: str
    log_lines: int


Publisher = Callable[[Snapshot], None]


class ProgressTracker:
    """Thread-safe: terraform's stdout and stderr readers feed it while the ticker publishes."""

    def __init__(
        self, action: JobAction, publish: Publisher, interval_seconds: float, scrubber: Scrubber
    ) -> None:
        self.action = action
        self._publish = publish
        self._interval = interval_seconds
        self._scrubber = scrubber
        self._lock = threading.RLock()
        self._phase = Phase.QUEUED
        self._progress = 0
        self._planned_operations = 0
        self._finished_operations = 0
        self._plan_steps = 0
        self._lines: list[str] = []
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._dirty = False
        self._published_lines = -1
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="progress-ticker", daemon=True)
        self._started = time.monotonic()

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush(force=False)

    def flush(self, *, force: bool = True) -> None:
        with self._lock:
            if not (force or self._dirty):
                return
            snapshot = self.snapshot()
            self._dirty = False
        self._publish(snapshot)

    def snapshot(self) -> Snapshot:
        with self._lock:
            tail = "\n".join(self._tail)
            if len(tail) > LOG_TAIL_BYTES:
                tail = tail[-LOG_TAIL_BYTES:].split("\n", 1)[-1]
            return Snapshot(
                self._phase, self._progress, tail, "\n".join(self._lines) + "\n", len(self._lines)
            )

    # --- inputs -------------------------------------------------------------------------------

    def enter(self, phase: Phase) -> None:
        with self._lock:
            self._phase = phase
            band = PHASE_BANDS[self.action].get(phase)
            if band is not None:
                self._progress = max(self._progress, band[0])
            self.log(f"--- {phase.value} ---")
        self.flush()

    def finish(self) -> None:
        with self._lock:
            self._phase = Phase.DONE
            self._progress = 100
            self._dirty = True

    def continue_log(self, previous: str) -> None:
        """A job's later build (stage apply) goes on with the log its earlier build left: one job,
        one log. The earlier lines were scrubbed by the build that wrote them."""
        earlier = previous.rstrip("\n").splitlines()
        if not earlier:
            return
        with self._lock:
            self._lines[:0] = earlier
            self._dirty = True

    def set_planned_operations(self, count: int) -> None:
        with self._lock:
            self._planned_operations = count
            self._finished_operations = 0

    def log(self, line: str) -> None:
        clean = self._scrubber.scrub(line.rstrip())
        elapsed = time.monotonic() - self._started
        stamped = f"[{elapsed:7.1f}s] {clean}"
        with self._lock:
            self._lines.append(stamped)
            self._tail.append(stamped)
            self._dirty = True

    def on_event(self, event: dict[str, Any]) -> None:
        """A terraform ``-json`` UI event."""
        kind = event.get("type")
        message = event.get("@message")
        if isinstance(message, str) and message and kind != "version":
            self.log(message)
        if kind == "diagnostic":
            self._log_diagnostic_detail(event.get("diagnostic") or {})
        with self._lock:
            if kind in ("apply_complete", "apply_errored"):
                self._finished_operations += 1
                self._advance_apply()
            elif kind in ("refresh_complete", "planned_change", "resource_drift"):
                self._plan_steps += 1
                self._advance_plan()

    def _log_diagnostic_detail(self, diagnostic: dict[str, Any]) -> None:
        detail = diagnostic.get("detail")
        if isinstance(detail, str) and detail.strip():
            for line in detail.strip().splitlines()[:20]:
                self.log(f"  {line}")
        where = diagnostic.get("range") or {}
        if where.get("filename"):
            self.log(f"  at {where['filename']}:{(where.get('start') or {}).get('line', '?')}")

    def _band(self) -> tuple[int, int] | None:
        return PHASE_BANDS[self.action].get(self._phase)

    def _advance_apply(self) -> None:
        band = self._band()
        if band is None or self._planned_operations <= 0:
            return
        start, end = band
        share = min(1.0, self._finished_operations / self._planned_operations)
        self._progress = max(self._progress, start + int((end - start) * share))
        self._dirty = True

    def _advance_plan(self) -> None:
        band = self._band()
        if band is None:
            return
        start, end = band
        # The number of resources to refresh is unknown up front: each step covers a tenth of what is left.
        remaining = end - start
        covered = remaining * (1 - 0.9**self._plan_steps)
        self._progress = max(self._progress, start + int(covered))
        self._dirty = True

    @property
    def phase(self) -> Phase:
        return self._phase

    @property
    def progress(self) -> int:
        return self._progress
