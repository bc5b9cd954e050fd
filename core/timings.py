"""Where a job's time went: spans the runner and the workflow record, summed per phase.

Each writer appends spans (``{"phase", "start", "ms"}``, epoch milliseconds) to the job's
``timeline``. The answer sums them per phase; ``queued`` is the time before the first span, and
``other`` whatever no span covers (the workflow's own transitions, or a job that ended with no
build at all), so the phases always add up to the job's wall time and a gap is visible, not hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from core.records import epoch_ms

# The answer's keys, in the order a job passes through them.
QUEUED: Final = "queued"
START_UP: Final = "startUp"
WORKSPACE: Final = "workspace"
INIT: Final = "init"
VALIDATE: Final = "validate"
PLAN: Final = "plan"
POLICY_AND_COST: Final = "policyAndCost"
AWAITING_APPROVAL: Final = "awaitingApproval"
APPLY: Final = "apply"
DESTROY: Final = "destroy"
RECORDING: Final = "recording"
OTHER: Final = "other"
TOTAL: Final = "total"
PHASES: Final = (
    QUEUED,
    START_UP,
    WORKSPACE,
    INIT,
    VALIDATE,
    PLAN,
    POLICY_AND_COST,
    AWAITING_APPROVAL,
    APPLY,
    DESTROY,
    RECORDING,
    OTHER,
)
SPAN_PHASES: Final = frozenset(PHASES) - {QUEUED, OTHER}
TIMELINE_FIELD: Final = "timeline"


def epoch_ms_of(moment: object) -> int | None:
    """One of our ISO timestamps (``2024-01-01T00:00:00.000Z``) in epoch milliseconds; None for
    anything else (a missing field, a value that is not one)."""
    if not isinstance(moment, str) or not moment:
        return None
    try:
        return int(datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def span(phase: str, start_ms: int, end_ms: int) -> dict[str, Any]:
    if phase not in SPAN_PHASES:
        raise ValueError(f"not a timing phase: {phase}")
    return {"phase": phase, "start": int(start_ms), "ms": max(0, int(end_ms) - int(start_ms))}


@dataclass(frozen=True)
class Timings:
    """A job's milliseconds per phase (``phases``, with ``total``), and CodeBuild's own phases of
    its start-ups where the builds could be described (``start_up_detail``)."""

    phases: dict[str, int]
    start_up_detail: dict[str, int]


def job_timings(
    created: int | Decimal | str | None,
    ended: str | None,
    timeline: object,
    approval: object = None,
    now: int | None = None,
) -> Timings | None:
    """Milliseconds per phase, and ``total`` (creation to end, or to now while the job runs).

    ``approval``: the job's approval record; its wait (asked to decided, or to now while it
    waits) is the ``awaitingApproval`` span, so no writer has to time a person."""
    created_ms = int(created) if isinstance(created, int | Decimal) else epoch_ms_of(created or "")
    if created_ms is None:
        return None
    end_ms = epoch_ms_of(ended or "") if ended else None
    until = end_ms if end_ms is not None else now if now is not None else epoch_ms()
    total = max(0, until - created_ms)
    spans = [*_spans(timeline), *_approval_span(approval, until)]
    totals = dict.fromkeys(PHASES, 0)
    detail: dict[str, int] = {}
    for phase, _, ms, extra in spans:
        totals[phase] += ms
        for name, value in extra.items():
            detail[name] = detail.get(name, 0) + value
    first = min((start for _, start, ms, _ in spans if ms > 0), default=None)
    totals[QUEUED] = total if first is None else min(total, max(0, first - created_ms))
    totals[OTHER] = max(0, total - sum(totals.values()))
    totals[TOTAL] = total
    return Timings(totals, detail)


_Span = tuple[str, int, int, dict[str, int]]


def _spans(timeline: object) -> Iterator[_Span]:
    if not isinstance(timeline, list):
        return
    for item in timeline:
        if not isinstance(item, Mapping) or item.get("phase") not in SPAN_PHASES:
            continue
        try:
            start, ms = int(item["start"]), max(0, int(item["ms"]))
        except (KeyError, TypeError, ValueError):
            continue
        raw = item.get("detail")
        detail = (
            {str(k): int(v) for k, v in raw.items() if isinstance(v, int | Decimal)}
            if isinstance(raw, Mapping)
            else {}
        )
        yield str(item["phase"]), start, ms, detail


def _approval_span(approval: object, until: int) -> Iterator[_Span]:
    if not isinstance(approval, Mapping):
        return
    asked = epoch_ms_of(str(approval.get("requestedAt") or ""))
    if asked is None:
        return
    decided = epoch_ms_of(str(approval.get("decidedAt") or "")) or until
    yield AWAITING_APPROVAL, asked, max(0, min(decided, until) - asked), {}


def summary_line(spans: Iterable[Mapping[str, Any]]) -> str:
    """One log line: each phase's seconds, in order, and the sum."""
    totals: dict[str, int] = {}
    for item in spans:
        totals[str(item["phase"])] = totals.get(str(item["phase"]), 0) + int(item["ms"])
    parts = [f"{phase} {totals[phase] / 1000:.1f}s" for phase in PHASES if totals.get(phase)]
    return f"timings: {', '.join(parts) or 'none'} (this build {sum(totals.values()) / 1000:.1f}s)"


class PhaseClock:
    """The runner's spans: each ``begin`` ends the phase before it."""

    def __init__(self) -> None:
        self._spans: list[dict[str, Any]] = []
        self._current: tuple[str, int] | None = None

    def record(self, phase: str, start_ms: int, end_ms: int) -> None:
        self._spans.append(span(phase, start_ms, end_ms))

    def begin(self, phase: str, at: int | None = None) -> None:
        moment = epoch_ms() if at is None else at
        self._close(moment)
        self._current = (phase, moment)

    def peek(self, at: int) -> list[dict[str, Any]]:
        """The spans so far with the phase in progress as if it ended ``at``; nothing closes."""
        running = [span(self._current[0], self._current[1], at)] if self._current else []
        return [*self._spans, *running]

    def finish(self, at: int | None = None) -> list[dict[str, Any]]:
        """Ends the phase in progress; the spans so far (each returned once)."""
        self._close(epoch_ms() if at is None else at)
        done, self._spans = self._spans, []
        return done

    @property
    def current(self) -> str | None:
        return self._current[0] if self._current else None

    def _close(self, moment: int) -> None:
        if self._current is not None:
            phase, started = self._current
            self._spans.append(span(phase, started, moment))
            self._current = None
