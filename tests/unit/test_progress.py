"""Progress: phases map to bands, apply percent counts finished operations, publishing is throttled."""

from __future__ import annotations

import threading
import time

from core.records import JobAction, Phase
from core.redaction import Scrubber
from runner.progress import LOG_TAIL_LINES, ProgressTracker, Snapshot


class Published:
    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []
        self.lock = threading.Lock()

    def __call__(self, snapshot: Snapshot) -> None:
        with self.lock:
            self.snapshots.append(snapshot)


def test_apply_percent_is_finished_over_planned_operations() -> None:
    published = Published()
    tracker = ProgressTracker(JobAction.DEPLOY, published, 60.0, Scrubber())
    tracker.enter(Phase.INIT)
    assert tracker.progress == 0
    tracker.enter(Phase.PLAN)
    assert tracker.progress == 15
    tracker.enter(Phase.APPLY)
    tracker.set_planned_operations(4)
    seen = []
    for kind in ("apply_start", "apply_complete", "apply_complete", "apply_errored", "apply_complete"):
        tracker.on_event({"type": kind, "@message": f"resource: {kind}"})
        seen.append(tracker.progress)
    # 35 + 64 * (k / 4), floored; never backwards
    assert seen == [35, 51, 67, 83, 99]
    tracker.finish()
    assert tracker.progress == 100
    assert tracker.phase is Phase.DONE


def test_plan_progress_rises_without_knowing_the_total() -> None:
    tracker = ProgressTracker(JobAction.DESTROY, Published(), 60.0, Scrubber())
    tracker.enter(Phase.PLAN)
    values = []
    for _ in range(30):
        tracker.on_event({"type": "refresh_complete", "@message": "x: Refresh complete"})
        values.append(tracker.progress)
    assert values == sorted(values)
    assert 15 < values[-1] < 35


def test_publishing_is_throttled_and_phase_changes_publish_at_once() -> None:
    published = Published()
    tracker = ProgressTracker(JobAction.DEPLOY, published, 0.3, Scrubber())
    tracker.start()
    tracker.enter(Phase.INIT)  # publishes immediately
    assert len(published.snapshots) == 1
    for index in range(2000):
        tracker.log(f"line {index}")
    time.sleep(0.75)
    tracker.stop()
    # 2000 lines, yet only one publish per elapsed interval
    assert 2 <= len(published.snapshots) <= 4
    last = published.snapshots[-1]
    assert last.log_tail.count("\n") == LOG_TAIL_LINES - 1
    assert "line 1999" in last.log_tail
    assert last.log_lines == 2001


def test_log_lines_are_scrubbed_of_known_secrets() -> None:
    tracker = ProgressTracker(JobAction.DEPLOY, Published(), 60.0, Scrubber(["s3cr3t-value"]))
    tracker.on_event(
        {
            "type": "diagnostic",
            "@message": "Error: bad s3cr3t-value",
            "diagnostic": {"detail": "it was s3cr3t-value"},
        }
    )
    text = tracker.snapshot().log_text
    assert "s3cr3t-value" not in text
    assert "(sensitive)" in text
