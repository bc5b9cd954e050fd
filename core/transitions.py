"""Every change of a job's or a project's state, written once as a conditional update.

The API (``functions/dal``), the runner (``runner/store``) and local mode's recovery execute
these; the workflow's ASL writes the same fields (a test holds the two together). A transition is
data: which item, what to set and remove, and the condition that makes it safe to race.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.records import DeploymentStatus, JobStatus, Phase

ACTIVE = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)


@dataclass(frozen=True)
class Condition:
    """``field IN values``, ``field = value`` (one value), or the field's absence or presence."""

    field: str
    values: tuple[Any, ...] = ()
    exists: bool | None = None


def equals(name: str, value: Any) -> Condition:
    return Condition(name, (value,))


def one_of(name: str, values: Sequence[Any]) -> Condition:
    return Condition(name, tuple(values))


def absent(name: str) -> Condition:
    return Condition(name, exists=False)


def present(name: str) -> Condition:
    return Condition(name, exists=True)


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
            values[placeholder] = content
            return placeholder

        assignments = [f"{name(k)} = {value(v)}" for k, v in self.set.items() if v is not None]
        assignments += [
            f"{(n := name(k))} = if_not_exists({n}, {value(v)})" for k, v in self.if_not_exists.items()
        ]
        removals = [name(k) for k in self.remove]
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
            if condition.exists is not None:
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
            {*(k for k, v in self.set.items() if v is not None), *self.remove, *self.if_not_exists}
        )


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


def job_started(job_id: str, now: str, build_id: str | None) -> Update:
    """The runner begins: terraform is about to run."""
    return Update(
        _job(job_id),
        {
            "status": JobStatus.PROCESSING.value,
            "phase": Phase.INIT.value,
            "updatedAt": now,
            "buildId": build_id,
        },
        conditions=_WHILE_ACTIVE,
    )


def job_progressed(job_id: str, now: str, phase: Phase, progress: int, log_tail: str) -> Update:
    return Update(
        _job(job_id),
        {"phase": phase.value, "progress": progress, "logTail": log_tail, "updatedAt": now},
        conditions=_WHILE_ACTIVE,
    )


def job_planned(job_id: str, now: str, summary: Mapping[str, int], plan_key: str) -> Update:
    return Update(
        _job(job_id),
        {"planSummary": dict(summary), "planKey": plan_key, "updatedAt": now},
        conditions=_WHILE_ACTIVE,
    )


def job_completed(job_id: str, now: str, message: str, log_tail: str, outputs_json: str) -> Update:
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
    )


def job_failed(
    job_id: str,
    now: str,
    error: str,
    *,
    log_tail: str | None = None,
    diagnostics_json: str | None = None,
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
    )


def cancel_requested(job_id: str, now: str, requested_by: str) -> Update:
    return Update(
        _job(job_id),
        {"cancelRequestedAt": now, "cancelRequestedBy": requested_by, "updatedAt": now},
        conditions=(present("jobId"),),
    )


# --- projects -----------------------------------------------------------------------------------

LOCK_FIELDS = ("activeJobId", "activeAction")


def _project(project_id: str) -> dict[str, str]:
    return {"projectId": project_id}


def project_locked(project_id: str, job_id: str, now: str, fields: Mapping[str, Any]) -> Update:
    """The project's lock, taken for a job where no job holds it: of N racing submits one wins."""
    return Update(
        _project(project_id),
        {"activeJobId": job_id, **fields},
        conditions=(absent("activeJobId"),),
        if_not_exists={"createdAt": now},
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
    """Delete this very lock, not one terraform took since: conditional on its exact Info text."""
    return Delete({"LockID": lock_id}, "Info", raw_info)


# --- saved plans (runner stage plan) ------------------------------------------------------------


def job_plan_saved(job_id: str, now: str, saved_plan: Mapping[str, Any]) -> Update:
    """A plan kept for a later apply: where the file is, the state it was made against (serial,
    lineage), the terraform that made it and the code's hash. Only on an active job."""
    return Update(
        _job(job_id),
        {"savedPlan": dict(saved_plan), "updatedAt": now},
        conditions=_WHILE_ACTIVE,
    )
