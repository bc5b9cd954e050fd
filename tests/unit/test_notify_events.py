"""Events from stream images: each type on its change, and nothing on the writes that change
nothing (an INSERT, a progress update, an unchanged drift status, the reaper's own unlock)."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from core.requests import NotificationEventType
from functions.logic.notify_events import EVENT_TYPES, Event, events_from_record

_serializer = TypeSerializer()
JOB = {"jobId": "deploy-1-abc", "projectId": "p1", "action": "deploy", "createdAt": 1}


def record(old: dict[str, Any] | None, new: dict[str, Any] | None, name: str = "MODIFY") -> dict[str, Any]:
    change: dict[str, Any] = {"SequenceNumber": "1"}
    if old is not None:
        change["OldImage"] = {k: _serializer.serialize(v) for k, v in old.items()}
    if new is not None:
        change["NewImage"] = {k: _serializer.serialize(v) for k, v in new.items()}
    return {"eventName": name, "dynamodb": change}


def job(**fields: Any) -> dict[str, Any]:
    return {**JOB, **fields}


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


def test_the_documented_types_are_the_request_models() -> None:
    assert set(EVENT_TYPES) == set(typing.get_args(NotificationEventType))


def test_a_job_that_completes_yields_job_completed_once_with_a_stable_id() -> None:
    old = job(status="processing", phase="apply")
    new = job(status="completed", phase="done", endTime="2026-12-02T10:00:00Z", resultMessage="ok")
    [event] = events_from_record(record(old, new), "jobs")
    assert event.type == "job_completed" and event.jobId == "deploy-1-abc" and event.projectId == "p1"
    assert event.occurredAt == "2026-12-02T10:00:00Z" and event.data["message"] == "ok"
    # The same record again (a stream retry) names the same event.
    assert events_from_record(record(old, new), "jobs")[0].id == event.id
    payload = event.payload()
    assert set(payload) == {"id", "type", "occurredAt", "projectId", "jobId", "data"}


def test_a_failed_job_yields_job_failed_and_a_policy_stop_adds_policy_failed() -> None:
    old = job(status="processing", phase="plan")
    failed = events_from_record(record(old, job(status="failed", phase="apply", error="boom")), "jobs")
    assert types(failed) == ["job_failed"] and failed[0].data["error"] == "boom"
    stopped = events_from_record(
        record(old, job(status="failed", phase="policy_failed", error="policy x")), "jobs"
    )
    assert types(stopped) == ["job_failed", "policy_failed"]
    assert stopped[0].id != stopped[1].id


def test_a_plan_that_starts_waiting_yields_approval_needed_with_its_decisions() -> None:
    old = job(status="processing", phase="plan")
    new = job(
        status="processing",
        phase="awaiting_approval",
        pendingDecisions="approval,second_approval",
        updatedAt="2026-12-02T10:00:00Z",
    )
    [event] = events_from_record(record(old, new), "jobs")
    assert event.type == "approval_needed"
    assert event.data["pendingDecisions"] == ["approval", "second_approval"]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # progress while running
        (
            job(status="processing", phase="plan", progress=10),
            job(status="processing", phase="plan", progress=40),
        ),
        # a completed job written again (its outputs recorded after the end)
        (job(status="completed", phase="done"), job(status="completed", phase="done", outputs={"a": 1})),
        (job(status="failed", phase="policy_failed"), job(status="failed", phase="policy_failed", x=1)),
        # one decision recorded, others still pending: still waiting, not a new need
        (
            job(status="processing", phase="awaiting_approval", pendingDecisions="a,b"),
            job(status="processing", phase="awaiting_approval", pendingDecisions="b"),
        ),
        # approved: waiting no more
        (job(status="processing", phase="awaiting_approval"), job(status="processing", phase="init")),
    ],
)
def test_job_writes_that_change_nothing_watched_yield_nothing(
    old: dict[str, Any], new: dict[str, Any]
) -> None:
    assert events_from_record(record(old, new), "jobs") == []


def test_inserts_and_removes_yield_nothing() -> None:
    done = job(status="completed", phase="done")
    assert events_from_record(record(None, done, "INSERT"), "jobs") == []
    assert events_from_record(record(done, None, "REMOVE"), "jobs") == []
    drifted = {"projectId": "p1", "drift": {"status": "drifted"}}
    assert events_from_record(record(None, drifted, "INSERT"), "projects") == []


def project(**fields: Any) -> dict[str, Any]:
    return {"projectId": "p1", "deploymentStatus": "deployed", **fields}


def test_a_forced_unlock_yields_lock_cleared_and_the_reapers_does_not() -> None:
    unlock = {
        "clearedBy": "alice",
        "clearedAt": "2026-12-02T10:00:00Z",
        "reason": "gone",
        "lockOwnerJobId": "j1",
    }
    [event] = events_from_record(record(project(), project(lastUnlock=unlock)), "projects")
    assert event.type == "lock_cleared" and event.data["lock"] == "state" and event.jobId == "j1"
    assert event.data["clearedBy"] == "alice"
    forced = {
        "jobId": "j2",
        "clearedBy": "bob",
        "clearedAt": "2026-12-02T11:00:00Z",
        "reason": "",
        "forced": True,
    }
    [project_lock] = events_from_record(record(project(), project(lastProjectUnlock=forced)), "projects")
    assert project_lock.data["lock"] == "project" and project_lock.data["forced"] is True
    reaped = {**unlock, "clearedBy": "reaper", "clearedAt": "2026-12-02T12:00:00Z"}
    assert (
        events_from_record(record(project(lastUnlock=unlock), project(lastUnlock=reaped)), "projects") == []
    )
    # The same unlock record, unchanged, on another write of the project.
    same = project(lastUnlock=unlock)
    assert events_from_record(record(same, {**same, "lastUpdated": "x"}), "projects") == []


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, "drifted", ["drift_detected"]),
        ("clean", "drifted", ["drift_detected"]),
        ("errored", "drifted", ["drift_detected"]),
        ("drifted", "clean", ["drift_resolved"]),
        ("drifted", "drifted", []),
        ("clean", "clean", []),
        ("errored", "clean", []),
        (None, "clean", []),
        ("skipped", "clean", []),
        ("drifted", "errored", []),
        ("drifted", "skipped", []),
        ("drifted", None, []),
    ],
)
def test_drift_events_only_on_a_change_to_drifted_or_from_drifted_to_clean(
    before: str | None, after: str | None, expected: list[str]
) -> None:
    old = project(**({"drift": {"status": before, "checkedAt": "t1"}} if before else {}))
    new = project(
        **({"drift": {"status": after, "checkedAt": "t2", "summary": {"changed": 1}}} if after else {})
    )
    events = events_from_record(record(old, new), "projects")
    assert types(events) == expected
    for event in events:
        assert event.data["status"] == after and event.data["previousStatus"] == before


@pytest.mark.parametrize(
    ("before", "baseline", "after", "expected"),
    [
        ("skipped", "drifted", "drifted", []),
        ("errored", "drifted", "drifted", []),
        ("errored", "drifted", "clean", ["drift_resolved"]),
        ("skipped", "clean", "drifted", ["drift_detected"]),
        ("skipped", "clean", "clean", []),
    ],
)
def test_a_skipped_or_errored_check_in_between_changes_no_verdict(
    before: str, baseline: str, after: str, expected: list[str]
) -> None:
    old = project(drift={"status": before, "baseline": baseline, "checkedAt": "t1"})
    new = project(drift={"status": after, "baseline": after, "checkedAt": "t2"})
    assert types(events_from_record(record(old, new), "projects")) == expected


def test_a_drift_checks_own_job_yields_no_job_event() -> None:
    old = job(action="drift", status="processing", phase="plan")
    assert (
        events_from_record(record(old, job(action="drift", status="completed", phase="done")), "jobs") == []
    )
    assert events_from_record(record(old, job(action="drift", status="failed", phase="plan")), "jobs") == []


def test_a_drift_check_that_finds_the_same_again_yields_nothing_even_with_new_details() -> None:
    old = project(drift={"status": "drifted", "checkedAt": "t1", "summary": {"changed": 1}})
    new = project(drift={"status": "drifted", "checkedAt": "t2", "summary": {"changed": 3}})
    assert events_from_record(record(old, new), "projects") == []


def test_a_record_of_another_table_yields_nothing() -> None:
    assert events_from_record(record(job(status="processing"), job(status="completed")), "locks") == []
