"""Every change of a job's or a project's state, written once as a conditional update.

The API (``functions/dal``), the runner (``runner/store``) and local mode's recovery execute
these; the workflow's ASL writes the same fields (a test holds the two together). A transition is
data: which item, what to set and remove, and the condition that makes it safe to race.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.records import DeploymentStatus, JobStatus, Phase
from core.timings import TIMELINE_FIELD

ACTIVE = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)


@dataclass(frozen=True)
class Condition:
    """``field IN values``, ``field = value`` (one value), the field's absence or presence, a list
    field that is empty or absent (``empty``), or a list whose first element is the value (``first``)."""

    field: str
    values: tuple[Any, ...] = ()
    exists: bool | None = None
    test: str | None = None  # "empty" | "first"


def equals(name: str, value: Any) -> Condition:
    return Condition(name, (value,))


def one_of(name: str, values: Sequence[Any]) -> Condition:
    return Condition(name, tuple(values))


def absent(name: str) -> Condition:
    return Condition(name, exists=False)


def present(name: str) -> Condition:
    return Condition(name, exists=True)


def empty(name: str) -> Condition:
    return Condition(name, test="empty")


def first_is(name: str, value: Any) -> Condition:
    return Condition(name, (value,), test="first")


@dataclass(frozen=True)
class Update:
    """One UpdateItem: ``set`` fields (a None value leaves the field as it is), ``remove`` fields,
    and all of ``conditions`` must hold, else the write fails (ConditionalCheckFailed) and nothing
    changes."""

    key: Mapping[str, str]
    set: Mapping[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    if_not_exists: Mapping[str, Any] = field(default_factory=dict)
    # List fields: items appended at the end (the list is made if absent), and lists whose
    # first item is removed.
    append: Mapping[str, list[Any]] = field(default_factory=dict)
    pop_first: tuple[str, ...] = ()

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of boto3's ``Table.update_item`` for this change."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(attribute: str) -> str:
            for placeholder, known in names.items():
                if known == attribute:
                    return placeholder
            placeholder = f"#n{len(names)}"
            names[placeholder] = attribute
            return placeholder

        def value(content: Any) -> str:
            placeholder = f":v{len(values)}"
            values[placeholder] = _storable(content)
            return placeholder

        assignments = [f"{name(k)} = {value(v)}" for k, v in self.set.items() if v is not None]
        assignments += [
            f"{(n := name(k))} = if_not_exists({n}, {value(v)})" for k, v in self.if_not_exists.items()
        ]
        assignments += [
            f"{(n := name(k))} = list_append(if_not_exists({n}, {value([])}), {value(list(v))})"
            for k, v in self.append.items()
        ]
        removals = [name(k) for k in self.remove] + [f"{name(k)}[0]" for k in self.pop_first]
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(assignments) if assignments else "",
                "REMOVE " + ", ".join(removals) if removals else "",
            )
            if part
        )
        clauses: list[str] = []
        for condition in self.conditions:
            if condition.test == "empty":
                n = name(condition.field)
                clauses.append(f"(attribute_not_exists({n}) OR size({n}) = {value(0)})")
            elif condition.test == "first":
                clauses.append(f"{name(condition.field)}[0] = {value(condition.values[0])}")
            elif condition.exists is not None:
                test = "attribute_exists" if condition.exists else "attribute_not_exists"
                clauses.append(f"{test}({name(condition.field)})")
            elif len(condition.values) == 1:
                clauses.append(f"{name(condition.field)} = {value(condition.values[0])}")
            else:
                clauses.append(
                    f"{name(condition.field)} IN ({', '.join(value(v) for v in condition.values)})"
                )
        arguments: dict[str, Any] = {
            "Key": dict(self.key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
        }
        if values:
            arguments["ExpressionAttributeValues"] = values
        if clauses:
            arguments["ConditionExpression"] = " AND ".join(clauses)
        return arguments

    @property
    def fields(self) -> frozenset[str]:
        """Every field the update writes or removes."""
        return frozenset(
            {
                *(k for k, v in self.set.items() if v is not None),
                *self.remove,
                *self.if_not_exists,
                *self.append,
                *self.pop_first,
            }
        )


def _storable(value: Any) -> Any:
    """DynamoDB takes no floats: money and other fractions go as Decimal (their text, not binary)."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


@dataclass(frozen=True)
class Delete:
    """One DeleteItem, only if ``field`` still holds exactly ``value``."""

    key: Mapping[str, str]
    field: str
    value: Any

    def arguments(self) -> dict[str, Any]:
        return {
            "Key": dict(self.key),
            "ConditionExpression": "#n0 = :v0",
            "ExpressionAttributeNames": {"#n0": self.field},
            "ExpressionAttributeValues": {":v0": self.value},
        }


# --- jobs ---------------------------------------------------------------------------------------


def _job(job_id: str) -> dict[str, str]:
    return {"jobId": job_id}


_WHILE_ACTIVE = (present("jobId"), one_of("status", ACTIVE))


def job_started(
    job_id: str, now: str, build_id: str | None, timeline: Sequence[Mapping[str, Any]] = ()
) -> Update:
    """The runner begins: terraform is about to run. ``timeline``: the build's start-up span."""
    return Update(
        _job(job_id),
        {
            "status": JobStatus.PROCESSING.value,
            "phase": Phase.INIT.value,
            "updatedAt": now,
            "buildId": build_id,
        },
        conditions=_WHILE_ACTIVE,
        append=_timeline(timeline),
    )


def job_timed(job_id: str, timeline: Sequence[Mapping[str, Any]]) -> Update:
    """Spans of a workflow step (a review, a policy check, a drift record): no condition, since a
    step's time counts even when the job ended meanwhile."""
    return Update(_job(job_id), {}, conditions=(present("jobId"),), append=_timeline(timeline))


def _timeline(spans: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    return {TIMELINE_FIELD: [dict(s) for s in spans]} if spans else {}


def job_state_written(job_id: str, now: str, version_id: str, serial: int) -> Update:
    """The state version the job's apply or destroy wrote (a failed apply writes one too): how the
    state history attributes a version to its job. No condition: it is recorded even on a job a
    cancel has already ended, since its terraform wrote the state all the same."""
    return Update(_job(job_id), {"stateVersionId": version_id, "stateSerial": serial, "stateWrittenAt": now})


def job_progressed(
    job_id: str,
    now: str,
    phase: Phase,
    progress: int,
    log_tail: str,
    *,
    timeline: Sequence[Mapping[str, Any]] = (),
) -> Update:
    """``timeline``: spans of a build that ends here with the job still active (stage plan)."""
    return Update(
        _job(job_id),
        {"phase": phase.value, "progress": progress, "logTail": log_tail, "updatedAt": now},
        conditions=_WHILE_ACTIVE,
        append=_timeline(timeline),
    )


def job_planned(job_id: str, now: str, summary: Mapping[str, int], plan_key: str) -> Update:
    return Update(
        _job(job_id),
        {"planSummary": dict(summary), "planKey": plan_key, "updatedAt": now},
        conditions=_WHILE_ACTIVE,
    )


def job_drift_run(job_id: str, now: str, run: Mapping[str, Any]) -> Update:
    """What a drift check's build ran against: state serial and lineage, code hash, terraform."""
    return Update(_job(job_id), {"driftRun": dict(run), "updatedAt": now}, conditions=_WHILE_ACTIVE)


def job_drift_recorded(job_id: str, now: str, report: Mapping[str, Any]) -> Update:
    """The drift check's finding, on its job (the history); the job stays active until the
    workflow's result step closes it (or the failure path, for an errored check)."""
    return Update(_job(job_id), {"drift": dict(report), "updatedAt": now})


def job_completed(
    job_id: str,
    now: str,
    message: str,
    log_tail: str,
    outputs_json: str,
    *,
    timeline: Sequence[Mapping[str, Any]] = (),
) -> Update:
    return Update(
        _job(job_id),
        {
            "status": JobStatus.COMPLETED.value,
            "progress": 100,
            "phase": Phase.DONE.value,
            "endTime": now,
            "updatedAt": now,
            "resultMessage": message,
            "logTail": log_tail,
            "outputsJson": outputs_json,
        },
        conditions=_WHILE_ACTIVE,
        append=_timeline(timeline),
    )


def job_failed(
    job_id: str,
    now: str,
    error: str,
    *,
    log_tail: str | None = None,
    diagnostics_json: str | None = None,
    timeline: Sequence[Mapping[str, Any]] = (),
) -> Update:
    """Whoever ends a job that went wrong (runner, API undo, cancel, reaper, recovery): only an
    active job, so a record already closed is never reopened or overwritten."""
    return Update(
        _job(job_id),
        {
            "status": JobStatus.FAILED.value,
            "error": error,
            "resultMessage": error,
            "endTime": now,
            "updatedAt": now,
            "logTail": log_tail,
            "diagnosticsJson": diagnostics_json,
        },
        conditions=_WHILE_ACTIVE,
        append=_timeline(timeline),
    )


def cancel_requested(job_id: str, now: str, requested_by: str) -> Update:
    return Update(
        _job(job_id),
        {"cancelRequestedAt": now, "cancelRequestedBy": requested_by, "updatedAt": now},
        conditions=(present("jobId"),),
    )


def job_reviewed(
    job_id: str,
    now: str,
    summary: Mapping[str, int],
    cost: Mapping[str, Any] | None,
    review_key: str,
) -> Update:
    """The workflow's review of a plan is stored (a speculative plan's job ends with its policy
    check: job_policy_checked)."""
    fields: dict[str, Any] = {
        "planSummary": dict(summary),
        "planCost": None if cost is None else dict(cost),
        "reviewKey": review_key,
        "updatedAt": now,
    }
    return Update(_job(job_id), fields, conditions=_WHILE_ACTIVE)


_WAITING = (equals("status", JobStatus.PROCESSING.value), equals("phase", Phase.AWAITING_APPROVAL.value))


def job_awaiting_approval(
    job_id: str, now: str, token: str, approval: Mapping[str, Any], pending: str | None = None
) -> Update:
    """The plan waits for a person; the token is what lets the workflow go on. ``pending``: the
    decisions it waits for, comma-separated (an approval, a second approval, a policy override)."""
    return Update(
        _job(job_id),
        {
            "phase": Phase.AWAITING_APPROVAL.value,
            "approvalToken": token,
            "approval": dict(approval),
            "pendingDecisions": pending,
            "updatedAt": now,
        },
        conditions=(present("jobId"), equals("status", JobStatus.PROCESSING.value)),
    )


def job_approved(
    job_id: str,
    now: str,
    approval: Mapping[str, Any],
    *,
    pending: str | None = None,
    fields: Mapping[str, Any] | None = None,
) -> Update:
    """Only a job still waiting: of an approve and a discard racing, one wins. ``pending``: only
    while the decisions it waits for are still these (see job_decision_recorded)."""
    conditions = _WAITING if pending is None else (*_WAITING, equals("pendingDecisions", pending))
    return Update(
        _job(job_id),
        {**(fields or {}), "approval": dict(approval), "phase": Phase.INIT.value, "updatedAt": now},
        remove=("approvalToken", "pendingDecisions"),
        conditions=conditions,
    )


def job_decision_recorded(
    job_id: str, now: str, pending: str, remaining: str, fields: Mapping[str, Any]
) -> Update:
    """One of several decisions a job waits for (an approval, a policy override) is given and
    others remain. Conditional on the pending ones being exactly what the decider read, so of
    two decisions given at the same moment one records first and the other sees it."""
    return Update(
        _job(job_id),
        {**fields, "pendingDecisions": remaining, "updatedAt": now},
        conditions=(*_WAITING, equals("pendingDecisions", pending)),
    )


def job_policy_checked(
    job_id: str, now: str, check: Mapping[str, Any], *, completed_message: str | None = None
) -> Update:
    """What the policies said of the job's plan; a speculative plan's job ends with it."""
    fields: dict[str, Any] = {"policyCheck": dict(check), "updatedAt": now}
    if completed_message is not None:
        fields |= {
            "status": JobStatus.COMPLETED.value,
            "progress": 100,
            "phase": Phase.DONE.value,
            "endTime": now,
            "resultMessage": completed_message,
        }
    return Update(_job(job_id), fields, conditions=_WHILE_ACTIVE)


def job_policy_stopped(job_id: str, now: str, error: str) -> Update:
    """A policy refused the plan: the job ends failed, phase policy_failed; nothing was applied."""
    return Update(
        _job(job_id),
        {
            "status": JobStatus.FAILED.value,
            "phase": Phase.POLICY_FAILED.value,
            "error": error,
            "resultMessage": error,
            "endTime": now,
            "updatedAt": now,
        },
        remove=("approvalToken", "pendingDecisions"),
        conditions=_WHILE_ACTIVE,
    )


def job_discarded(
    job_id: str, now: str, approval: Mapping[str, Any], error: str, *, while_waiting: bool
) -> Update:
    """The plan is not applied: the job ends failed, phase discarded. ``while_waiting``: only if
    the job still waits (a person's discard); else any active job (the workflow's own path)."""
    return Update(
        _job(job_id),
        {
            "status": JobStatus.FAILED.value,
            "phase": Phase.DISCARDED.value,
            "approval": dict(approval),
            "error": error,
            "resultMessage": error,
            "endTime": now,
            "updatedAt": now,
        },
        remove=("approvalToken",),
        conditions=_WAITING if while_waiting else _WHILE_ACTIVE,
    )


def job_took_turn(
    job_id: str, now: str, previous_project: Mapping[str, Any], fields: Mapping[str, Any]
) -> Update:
    """A queued job got the project's lock: what the lock replaced is kept for an undo. A field
    of the turn without a value (None) is removed: a destroy takes the variables the project has
    then, and those may be none."""
    return Update(
        _job(job_id),
        {**fields, "previousProject": dict(previous_project), "queued": False, "updatedAt": now},
        remove=tuple(k for k, v in fields.items() if v is None),
        conditions=(present("jobId"), equals("status", JobStatus.PENDING.value)),
    )


def job_superseded(job_id: str, now: str, by_job: str) -> Update:
    """A queued job a newer one replaces: only while it still waits for its turn."""
    error = f"superseded by {by_job}"
    return Update(
        _job(job_id),
        {
            "status": JobStatus.FAILED.value,
            "error": error,
            "resultMessage": error,
            "supersededBy": by_job,
            "endTime": now,
            "updatedAt": now,
        },
        conditions=(present("jobId"), equals("status", JobStatus.PENDING.value), equals("queued", True)),
    )


# --- projects -----------------------------------------------------------------------------------

LOCK_FIELDS = ("activeJobId", "activeAction")


def _project(project_id: str) -> dict[str, str]:
    return {"projectId": project_id}


def project_locked(
    project_id: str, job_id: str, now: str, fields: Mapping[str, Any], *, from_queue: bool = False
) -> Update:
    """The project's lock, taken for a job where no job holds it: of N racing submits one wins.

    A job arriving takes it only when no job is queued; a queued job only at the queue's head,
    leaving the queue as it does: jobs run one at a time in arrival order.
    """
    return Update(
        _project(project_id),
        {"activeJobId": job_id, **fields},
        # A field the job has no value for (None) is removed: the project is the job's now.
        remove=tuple(k for k, v in fields.items() if v is None),
        conditions=(absent("activeJobId"), first_is("queue", job_id) if from_queue else empty("queue")),
        if_not_exists={"createdAt": now},
        pop_first=("queue",) if from_queue else (),
    )


def project_enqueued(project_id: str, job_id: str, now: str) -> Update:
    """A job joins the end of the project's queue."""
    return Update(
        _project(project_id),
        {"lastUpdated": now},
        append={"queue": [job_id]},
        if_not_exists={"createdAt": now},
    )


def project_queue_replaced(project_id: str, before: Sequence[str], after: Sequence[str]) -> Update:
    """Jobs leave the queue (cancelled, superseded, gone): only if no one changed it meanwhile."""
    return Update(
        _project(project_id),
        {"queue": list(after)} if after else {},
        remove=() if after else ("queue",),
        conditions=(equals("queue", list(before)),),
    )


def project_released(
    project_id: str, job_id: str, now: str, restore: Mapping[str, Any] | None = None
) -> Update:
    """Free the lock if this job still holds it, putting back fields (None: the field had no value)."""
    restored = {k: v for k, v in (restore or {}).items() if k not in (*LOCK_FIELDS, "lastUpdated")}
    return Update(
        _project(project_id),
        {**{k: v for k, v in restored.items() if v is not None}, "lastUpdated": now},
        remove=(*LOCK_FIELDS, *(k for k, v in restored.items() if v is None)),
        conditions=(equals("activeJobId", job_id),),
    )


def project_deployment_recorded(
    project_id: str,
    job_id: str,
    now: str,
    status: DeploymentStatus,
    *,
    outputs_json: str | None = None,
    state_summary: Mapping[str, Any] | None = None,
    sensitive_paths_json: str | None = None,
) -> Update:
    """What a job's end means for the project: its deployment status and what it now holds."""
    return Update(
        _project(project_id),
        {
            "deploymentStatus": status.value,
            "deploymentJobId": job_id,
            "lastUpdated": now,
            # Not given: left as they are (an Update never writes a None).
            "outputsJson": outputs_json,
            "stateSummary": None if state_summary is None else dict(state_summary),
            "sensitivePathsJson": sensitive_paths_json,
        },
    )


def project_updated(project_id: str, fields: Mapping[str, Any]) -> Update:
    """Fields of the project's own (variables, validation, plan, unlock records), no condition; a
    None value removes the field."""
    return Update(
        _project(project_id),
        {k: v for k, v in fields.items() if v is not None},
        remove=tuple(k for k, v in fields.items() if v is None),
    )


# --- terraform's state locks --------------------------------------------------------------------


def state_lock_removed(lock_id: str, raw_info: str) -> Delete:
    """Delete this very lock item, not one terraform took since: conditional on its exact Info text."""
    return Delete({"LockID": lock_id}, "Info", raw_info)


@dataclass(frozen=True)
class ObjectDelete:
    """One S3 DeleteObject, only if the object's ETag is still ``etag`` (If-Match)."""

    bucket: str
    key: str
    etag: str

    def arguments(self) -> dict[str, Any]:
        return {"Bucket": self.bucket, "Key": self.key, "IfMatch": self.etag}


def lockfile_removed(bucket: str, key: str, etag: str) -> ObjectDelete:
    """Delete this very lock file, not one terraform wrote since: terraform writes a lock file only
    where none is (If-None-Match), so a newer one has another ETag. In a versioned bucket this
    leaves a delete marker, as terraform's own unlock does."""
    return ObjectDelete(bucket, key, etag)


# --- saved plans (runner stage plan) ------------------------------------------------------------


def job_plan_saved(job_id: str, now: str, saved_plan: Mapping[str, Any]) -> Update:
    """A plan kept for a later apply: where the file is, the state it was made against (serial,
    lineage), the terraform that made it and the code's hash. Only on an active job."""
    return Update(
        _job(job_id),
        {"savedPlan": dict(saved_plan), "updatedAt": now},
        conditions=_WHILE_ACTIVE,
    )
