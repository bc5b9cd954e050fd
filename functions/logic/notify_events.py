"""Notification events, derived from DynamoDB stream records of the jobs and projects tables.

Every path that ends a job (the runner, the workflow's failure path, a cancel, the reaper) writes
the job record, so reading the record's old and new images covers them all without touching any
of them. A record yields an event only on a change: an INSERT (a new job, or local mode restoring
its data) or a write that leaves the watched field as it was yields nothing.

The types are a stable contract (README "Notifications"):
job_completed, job_failed, approval_needed, policy_failed, lock_cleared, drift_detected,
drift_resolved. A job stopped by a policy yields job_failed *and* policy_failed; a drift check's
own job yields no job event (its verdict is the drift events).

An event's id is derived from what changed (the job, and the time of the change where a record
can change so more than once), so a stream record delivered twice yields the same id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from boto3.dynamodb.types import TypeDeserializer

from core.items import plain
from core.records import JobStatus, Phase

JOB_COMPLETED: Final = "job_completed"
JOB_FAILED: Final = "job_failed"
APPROVAL_NEEDED: Final = "approval_needed"
POLICY_FAILED: Final = "policy_failed"
LOCK_CLEARED: Final = "lock_cleared"
DRIFT_DETECTED: Final = "drift_detected"
DRIFT_RESOLVED: Final = "drift_resolved"
EVENT_TYPES: Final = (
    JOB_COMPLETED,
    JOB_FAILED,
    APPROVAL_NEEDED,
    POLICY_FAILED,
    LOCK_CLEARED,
    DRIFT_DETECTED,
    DRIFT_RESOLVED,
)
# A drift check is a job of its own; its end is not a deployment's.
DRIFT_ACTION: Final = "drift"
# Who the lock code records when it frees a stale lock by itself: not an operator's force.
AUTOMATIC_UNLOCKERS: Final = frozenset({"reaper"})

Image = dict[str, Any]
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    occurredAt: str
    projectId: str
    jobId: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The delivery body: {id, type, occurredAt, projectId, jobId?, data}."""
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "occurredAt": self.occurredAt,
            "projectId": self.projectId,
        }
        if self.jobId is not None:
            body["jobId"] = self.jobId
        body["data"] = self.data
        return body


def event_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()
    return f"evt_{digest[:32]}"


def image(raw: Mapping[str, Any] | None) -> Image | None:
    """A stream image (AttributeValues) as plain values, numbers as int or float."""
    if not raw:
        return None
    values: Image = plain({name: _deserializer.deserialize(value) for name, value in raw.items()})
    return values


def events_from_record(record: Mapping[str, Any], table: str) -> list[Event]:
    """``table``: "jobs" or "projects" (which stream the record came from)."""
    if record.get("eventName") != "MODIFY":
        return []
    change = record.get("dynamodb") or {}
    old, new = image(change.get("OldImage")), image(change.get("NewImage"))
    if old is None or new is None:
        return []
    if table == "jobs":
        return job_events(old, new)
    if table == "projects":
        return project_events(old, new)
    return []


def _when(new: Image, *names: str) -> str:
    for name in names:
        value = new.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def job_events(old: Image, new: Image) -> list[Event]:
    job_id, project_id = new.get("jobId"), new.get("projectId")
    if not isinstance(job_id, str) or not isinstance(project_id, str):
        return []
    if new.get("action") == DRIFT_ACTION:
        return []  # a drift check's verdict is drift_detected / drift_resolved, on the project
    status, was = new.get("status"), old.get("status")
    base = {
        "action": new.get("action"),
        "status": status,
        "phase": new.get("phase"),
    }
    events: list[Event] = []
    # A job ends once; its id alone names the event.
    if status != was and status == JobStatus.COMPLETED.value:
        occurred = _when(new, "endTime", "updatedAt")
        data = {**base, "message": new.get("resultMessage")}
        events.append(
            Event(event_id(JOB_COMPLETED, job_id), JOB_COMPLETED, occurred, project_id, job_id, data)
        )
    if status != was and status == JobStatus.FAILED.value:
        occurred = _when(new, "endTime", "updatedAt")
        data = {**base, "error": new.get("error") or new.get("resultMessage")}
        events.append(Event(event_id(JOB_FAILED, job_id), JOB_FAILED, occurred, project_id, job_id, data))
        if new.get("phase") == Phase.POLICY_FAILED.value:
            events.append(
                Event(event_id(POLICY_FAILED, job_id), POLICY_FAILED, occurred, project_id, job_id, data)
            )
    waiting = Phase.AWAITING_APPROVAL.value
    if new.get("phase") == waiting and old.get("phase") != waiting and status == JobStatus.PROCESSING.value:
        # A job can wait more than once (a policy override, then an approval): the time tells them apart.
        occurred = _when(new, "updatedAt")
        pending = [d for d in str(new.get("pendingDecisions") or "approval").split(",") if d]
        data = {**base, "pendingDecisions": pending, "planSummary": new.get("planSummary")}
        events.append(
            Event(
                event_id(APPROVAL_NEEDED, job_id, occurred),
                APPROVAL_NEEDED,
                occurred,
                project_id,
                job_id,
                data,
            )
        )
    return events


def project_events(old: Image, new: Image) -> list[Event]:
    project_id = new.get("projectId")
    if not isinstance(project_id, str):
        return []
    return [
        event
        for event in (
            _unlock_event(project_id, "state", old.get("lastUnlock"), new.get("lastUnlock")),
            _unlock_event(project_id, "project", old.get("lastProjectUnlock"), new.get("lastProjectUnlock")),
            _drift_event(project_id, old.get("drift"), new.get("drift"), new),
        )
        if event is not None
    ]


def _unlock_event(project_id: str, lock: str, old: Any, new: Any) -> Event | None:
    if not isinstance(new, dict) or new == old:
        return None
    cleared_at = str(new.get("clearedAt") or "")
    if not cleared_at or (isinstance(old, dict) and old.get("clearedAt") == cleared_at):
        return None
    if new.get("clearedBy") in AUTOMATIC_UNLOCKERS:
        return None
    job_id = new.get("lockOwnerJobId") if lock == "state" else new.get("jobId")
    data = {
        "lock": lock,
        "clearedBy": new.get("clearedBy"),
        "reason": new.get("reason"),
        "forced": bool(new.get("forced", True)),
    }
    return Event(
        event_id(LOCK_CLEARED, project_id, lock, cleared_at),
        LOCK_CLEARED,
        cleared_at,
        project_id,
        job_id if isinstance(job_id, str) else None,
        data,
    )


CONCLUSIVE: Final = ("clean", "drifted")


def _drift_status(drift: Any) -> str | None:
    return str(drift.get("status")) if isinstance(drift, dict) and drift.get("status") else None


def _last_verdict(drift: Any) -> str | None:
    """The last conclusive status: a skipped or errored check in between changes no verdict, so
    drifted, skipped, drifted is one detection (the drift map's ``baseline`` keeps it)."""
    status = _drift_status(drift)
    if status in CONCLUSIVE or not isinstance(drift, dict):
        return status
    baseline = drift.get("baseline")
    return str(baseline) if baseline in CONCLUSIVE else status


# What of the drift map an event carries: its verdict, not every drifted attribute.
DRIFT_FIELDS: Final = ("checkedAt", "jobId", "trigger", "counts", "reason", "summary")


def _drift_event(project_id: str, old: Any, new: Any, project: Image) -> Event | None:
    was, now = _last_verdict(old), _drift_status(new)
    if was == now or now is None:
        return None
    if now == "drifted":
        kind = DRIFT_DETECTED
    elif now == "clean" and was == "drifted":
        kind = DRIFT_RESOLVED
    else:
        return None
    assert isinstance(new, dict)
    occurred = _when(new, "checkedAt", "updatedAt") or _when(project, "lastUpdated", "updatedAt")
    job_id = new.get("jobId")
    data = {"status": now, "previousStatus": was, **{k: new[k] for k in DRIFT_FIELDS if k in new}}
    return Event(
        event_id(kind, project_id, str(was), occurred, str(job_id or "")),
        kind,
        occurred,
        project_id,
        job_id if isinstance(job_id, str) else None,
        data,
    )
