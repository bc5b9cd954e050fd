"""A project's state history: every version listed with what wrote it, one version (redacted),
and the rollback that writes an old version's content as a new version.

A rollback never rewinds: terraform refuses a serial that went back, so the old content goes in
as serial = current + 1 with the same lineage, and terraform's digest item is updated with it.
It holds the project lock for the whole write, as a job does, so no job runs against a state
that is being replaced; the lock is released on every path.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from core.records import epoch_ms, iso_now, stored_json
from core.redaction import redact_state
from core.responses import (
    RollbackOut,
    StateVersionOut,
    StateVersionsOut,
    StateVersionStateOut,
    StateWriter,
)
from core.state_versions import encode, facts, read_writer, reissued, summary, writer_metadata
from functions.dal.jobs import JobStore
from functions.dal.projects import ProjectStore
from functions.dal.state_history import StateHistory, StoredVersion
from functions.logic.projects import require_project
from functions.models.exceptions import (
    LineageMismatch,
    NothingToShow,
    ProjectBusy,
    StateVersionNotFound,
)

# How far back the job listing is read to attribute versions: a project's jobs, 100 a page.
JOB_PAGES = 20
ROLLBACK_ACTION = "rollback"


@dataclass(frozen=True)
class HistoryStores:
    projects: ProjectStore
    jobs: JobStore
    history: StateHistory


def writer_of(version: StoredVersion) -> StateWriter | None:
    written = read_writer(version.metadata)
    if written is None or written["writer"] not in ("rollback", "restore"):
        return None
    return StateWriter(
        kind="rollback" if written["writer"] == "rollback" else "restore",
        id=written["writer-id"],
        by=written["written-by"],
        reason=written["reason"],
        at=written["written-at"],
        fromSerial=int(written["from-serial"] or 0),
    )


def jobs_by_version(jobs: JobStore, project_id: str) -> dict[str, str]:
    """S3 version id -> the job that wrote it, from what each runner recorded on its job."""
    found: dict[str, str] = {}
    token: str | None = None
    for _ in range(JOB_PAGES):
        page, token = jobs.page(project_id, 100, token)
        for job in page:
            version = job.get("stateVersionId")
            if version:
                found.setdefault(str(version), str(job["jobId"]))
        if token is None:
            break
    return found


def describe(version: StoredVersion, jobs: dict[str, str]) -> StateVersionOut:
    found = facts(version.document)
    writer = writer_of(version)
    return StateVersionOut(
        serial=found.serial,
        lineage=found.lineage,
        versionId=version.version_id,
        lastModified=version.last_modified,
        size=version.size,
        terraformVersion=found.terraform_version,
        resourceCount=found.resource_count,
        isLatest=version.is_latest,
        jobId=None if writer else jobs.get(version.version_id),
        writtenBy=writer,
    )


def list_versions(stores: HistoryStores, project_id: str, limit: int, token: str | None) -> StateVersionsOut:
    require_project(stores.projects, project_id)
    versions, following = stores.history.page(project_id, limit, token)
    jobs = jobs_by_version(stores.jobs, project_id) if versions else {}
    return StateVersionsOut(
        projectId=project_id, versions=[describe(v, jobs) for v in versions], next=following
    )


def _find(versions: Iterator[StoredVersion], serial: int) -> StoredVersion | None:
    """The newest version with that serial (a failed write can leave two; the newest is kept)."""
    return next((v for v in versions if facts(v.document).serial == serial), None)


def get_version(stores: HistoryStores, project_id: str, serial: int) -> StateVersionStateOut:
    """One version, redacted exactly as GET /api/deploy/state is."""
    project = require_project(stores.projects, project_id)
    version = _find(stores.history.all(project_id), serial)
    if version is None:
        raise StateVersionNotFound(f"project {project_id} has no state version with serial {serial}")
    paths = stored_json(project.get("sensitivePathsJson"), {})
    return StateVersionStateOut(
        projectId=project_id,
        serial=serial,
        versionId=version.version_id,
        state=redact_state(version.document, paths if isinstance(paths, dict) else {}),
        message=f"Terraform state version {serial} retrieved successfully",
    )


def new_rollback_id(now_ms: int) -> str:
    """Shaped like a job id (kind-epoch ms-random), so the reaper can date a lock left behind."""
    return f"{ROLLBACK_ACTION}-{now_ms}-{secrets.token_hex(5)}"


def rollback(stores: HistoryStores, project_id: str, serial: int, *, by: str, reason: str) -> RollbackOut:
    require_project(stores.projects, project_id)
    now = iso_now()
    rollback_id = new_rollback_id(epoch_ms())
    # The project lock jobs take: busy (a job holds it or is queued) is a 409 from acquire.
    stores.projects.acquire(project_id, rollback_id, {"activeAction": ROLLBACK_ACTION, "lastUpdated": now})
    try:
        return _rollback_locked(stores, project_id, serial, rollback_id, by=by, reason=reason, now=now)
    finally:
        stores.projects.release(project_id, rollback_id)


def _rollback_locked(
    stores: HistoryStores, project_id: str, serial: int, rollback_id: str, *, by: str, reason: str, now: str
) -> RollbackOut:
    if stores.history.state_locked(project_id):
        # A terraform process outside the project lock (an operator's, a stale build): never
        # replace a state someone is writing.
        raise ProjectBusy(
            f"project {project_id}'s terraform state is locked; try again when it is free", None
        )
    versions = stores.history.all(project_id)
    current = next(versions, None)
    if current is None or not current.is_latest:
        raise NothingToShow(f"project {project_id} has no terraform state to roll back")
    head = facts(current.document)
    # An older version first: after a state of another lineage replaced it, its serials repeat.
    target = _find(versions, serial) or (current if head.serial == serial else None)
    if target is None:
        raise StateVersionNotFound(f"project {project_id} has no state version with serial {serial}")
    old = facts(target.document)
    if old.lineage != head.lineage:
        raise LineageMismatch(
            f"state version {serial} has lineage {old.lineage}, the current state {head.lineage}: it "
            "belongs to another state (the project was destroyed and created again, or restored); "
            "terraform would refuse it"
        )
    document = reissued(target.document, head.serial + 1)
    metadata = writer_metadata(
        by=by, writer=ROLLBACK_ACTION, reason=reason, from_serial=serial, at=now, writer_id=rollback_id
    )
    version_id = stores.history.write(project_id, encode(document), metadata)
    record = {
        "rollbackId": rollback_id,
        "serial": head.serial + 1,
        "previousSerial": head.serial,
        "fromSerial": serial,
        "versionId": version_id,
        "by": by,
        "reason": reason,
        "at": now,
    }
    stores.projects.update(project_id, {"lastRollback": record, "stateSummary": summary(document)})
    return RollbackOut(
        projectId=project_id,
        rollbackId=rollback_id,
        serial=head.serial + 1,
        previousSerial=head.serial,
        fromSerial=serial,
        lineage=head.lineage,
        versionId=version_id,
        rolledBackBy=by,
        reason=reason,
        rolledBackAt=now,
        message=f"State rolled back to the content of serial {serial} as serial {head.serial + 1}; "
        "the resources themselves are unchanged until the next deploy",
    )
