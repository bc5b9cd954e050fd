"""Project locks (``activeJobId``) that cannot be held for ever: the reaper, a submit that meets a
stale holder, and the admin unlock, over in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.records import JobAction, epoch_ms, new_job_id
from core.requests import DeployRequest
from core.responses import UnlockOut
from functions.logic.locks import (
    SETTLE_SECONDS,
    STUCK_AFTER_SECONDS,
    LockKind,
    force_unlock,
    inspect_project_lock,
    reap,
    reap_project_locks,
)
from functions.logic.submit import submit_deploy
from functions.models.exceptions import NothingToShow, ProjectBusy
from tests.support.fakes import Fakes, UnavailableWorkflow, UnlistableProjectStore

CODE = 'resource "null_resource" "n" {}\n'


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hold(
    fakes: Fakes,
    project: str,
    *,
    age_s: float,
    status: str | None = "processing",
    ended_age_s: float | None = None,
    execution: str | None = None,
    build: str | None = None,
    project_fields: dict[str, Any] | None = None,
    job_fields: dict[str, Any] | None = None,
) -> str:
    """A project held by a job created ``age_s`` ago (no job record when status is None)."""
    now = epoch_ms()
    created = now - int(age_s * 1000)
    job_id = new_job_id(JobAction.DEPLOY, created)
    fakes.projects.items[project] = {
        "projectId": project,
        "activeJobId": job_id,
        "activeAction": "deploy",
        "deploymentStatus": "pending",
        "deploymentJobId": job_id,
        "codeJobId": job_id,
        "lastUpdated": iso(created),
        **(project_fields or {}),
    }
    if status is not None:
        job: dict[str, Any] = {
            "jobId": job_id,
            "projectId": project,
            "action": "deploy",
            "status": status,
            "createdAt": created,
            "startTime": iso(created),
            **(job_fields or {}),
        }
        if ended_age_s is not None:
            job["endTime"] = iso(now - int(ended_age_s * 1000))
        if build is not None:
            job["buildId"] = f"runner:{job_id}"
            fakes.builds.builds[job["buildId"]] = build
        fakes.jobs.items[job_id] = job
    if execution is not None:
        fakes.workflow.executions[job_id] = execution
    return job_id


# --- what counts as stale -------------------------------------------------------------------------


def test_a_lock_whose_job_has_no_record_is_released_once_past_the_grace_period() -> None:
    # Given two projects held by jobs without a record: one just taken, one long ago
    fakes = Fakes()
    young = hold(fakes, "young", age_s=5, status=None)
    old = hold(fakes, "old", age_s=STUCK_AFTER_SECONDS + 60, status=None)

    # When the reaper runs
    report = reap(fakes.lock_services(), epoch_ms())

    # Then only the old lock is released, with a record of who and why
    assert report.released_projects == ["old"]
    assert fakes.projects.items["young"]["activeJobId"] == young
    project = fakes.projects.items["old"]
    assert "activeJobId" not in project and "activeAction" not in project
    assert project["deploymentStatus"] == "failed"  # it was pending for a job that never existed
    unlock = project["lastProjectUnlock"]
    assert unlock["jobId"] == old and unlock["clearedBy"] == "reaper" and unlock["jobStatus"] is None
    assert "has no record" in unlock["reason"] and unlock["forced"] is False


def test_a_lock_whose_job_ended_is_released_after_the_end_settles() -> None:
    # Given a job that completed long ago and one that completed a moment ago, both still holding
    fakes = Fakes()
    done = {"deploymentStatus": "deployed"}
    hold(fakes, "long-done", age_s=600, status="completed", ended_age_s=300, project_fields=done)
    hold(fakes, "just-done", age_s=600, status="completed", ended_age_s=1, project_fields=done)

    # When the reaper runs
    released = reap_project_locks(fakes.lock_services(), epoch_ms())

    # Then the long-ended one is freed and keeps the outcome its runner recorded
    assert released == ["long-done"]
    assert fakes.projects.items["long-done"]["deploymentStatus"] == "deployed"
    assert "has already completed" in fakes.projects.items["long-done"]["lastProjectUnlock"]["reason"]
    # and the just-ended one is left to its runner and workflow, which free it themselves
    assert fakes.projects.items["just-done"].get("activeJobId")
    assert SETTLE_SECONDS > 1


def test_a_job_that_ended_before_it_ran_gives_the_project_back_as_it_was() -> None:
    # Given a job cancelled before its build, whose release was lost (the record still says pending)
    fakes = Fakes()
    previous = {
        "deploymentStatus": "deployed",
        "deploymentJobId": "deploy-1700000000000-before",
        "activeAction": None,
    }
    hold(
        fakes,
        "p",
        age_s=900,
        status="failed",
        ended_age_s=600,
        job_fields={"previousProject": previous, "error": "cancelled"},
    )

    # When the reaper runs
    assert reap_project_locks(fakes.lock_services(), epoch_ms()) == ["p"]

    # Then the project's previous deployment is back
    project = fakes.projects.items["p"]
    assert (project["deploymentStatus"], project["deploymentJobId"]) == (
        "deployed",
        "deploy-1700000000000-before",
    )


@pytest.mark.parametrize(
    ("execution", "build", "stale"),
    [
        ("RUNNING", None, False),  # the workflow is still at it
        ("FAILED", "IN_PROGRESS", False),  # its build still runs terraform
        ("FAILED", "FAILED", True),
        ("ABORTED", None, True),
        (None, None, True),  # never started
    ],
)
def test_an_active_job_is_stale_only_when_its_workflow_and_build_are_gone(
    execution: str | None, build: str | None, stale: bool
) -> None:
    fakes = Fakes()
    hold(fakes, "p", age_s=STUCK_AFTER_SECONDS + 1, execution=execution, build=build)
    verdict = inspect_project_lock(fakes.lock_services(), fakes.projects.items["p"], epoch_ms())
    assert verdict is not None and verdict.stale is stale


def test_a_just_submitted_job_is_never_stale_whatever_its_workflow_says() -> None:
    fakes = Fakes()
    hold(fakes, "p", age_s=3, status="pending", execution=None)
    verdict = inspect_project_lock(fakes.lock_services(), fakes.projects.items["p"], epoch_ms())
    assert verdict is not None and not verdict.stale


def test_the_reaper_fails_a_stuck_holder_and_frees_its_project() -> None:
    # Given a processing job whose execution and build have ended unrecorded
    fakes = Fakes()
    job_id = hold(fakes, "p", age_s=600, execution="FAILED", build="FAILED")

    # When the reaper runs
    report = reap(fakes.lock_services(), epoch_ms())

    # Then the job is failed and the project is free
    assert report.failed_jobs == [job_id]
    assert fakes.jobs.items[job_id]["status"] == "failed"
    assert "activeJobId" not in fakes.projects.items["p"]


def test_a_project_table_that_cannot_be_listed_does_not_stop_the_other_passes() -> None:
    # Given a project table the reaper may not scan, and a stale state lock
    fakes = Fakes(projects=UnlistableProjectStore())
    fakes.locks.take("p", "2020-01-01T00:00:00.000000000Z")

    # When the reaper runs
    report = reap(fakes.lock_services(), epoch_ms())

    # Then the state lock is still cleared, and the skipped pass is reported
    assert len(report.cleared_locks) == 1 and not fakes.locks.items
    assert report.skipped and "project locks" in report.skipped[0]


# --- a submit that meets a busy project -----------------------------------------------------------


def test_a_submit_that_meets_a_stale_holder_releases_it_and_takes_the_project() -> None:
    # Given a project held by a job whose workflow ended without recording it
    fakes = Fakes()
    stale = hold(fakes, "p", age_s=600, execution="FAILED", build="FAILED")

    # When a new deploy arrives
    accepted = submit_deploy(DeployRequest(projectId="p", iacCode=CODE), fakes.submit_stores())

    # Then it is accepted, holds the project, and the stale job is failed naming who freed it
    assert fakes.projects.items["p"]["activeJobId"] == accepted.jobId
    assert fakes.workflow.started == [accepted.jobId]
    old = fakes.jobs.items[stale]
    assert old["status"] == "failed" and old["error"].startswith("the project lock was cleared by reaper")
    assert fakes.projects.items["p"]["lastProjectUnlock"]["jobId"] == stale


@pytest.mark.parametrize(
    ("age_s", "execution", "workflow_readable"),
    [(600, "RUNNING", True), (5, None, True), (600, None, False)],
    ids=["still running", "just submitted", "workflow unreadable"],
)
def test_a_submit_that_meets_a_live_or_unknown_holder_is_refused(
    age_s: float, execution: str | None, workflow_readable: bool
) -> None:
    fakes = Fakes() if workflow_readable else Fakes(workflow=UnavailableWorkflow())
    holder = hold(fakes, "p", age_s=age_s, status="pending", execution=execution)
    with pytest.raises(ProjectBusy) as refused:
        submit_deploy(DeployRequest(projectId="p", iacCode=CODE, whenBusy="reject"), fakes.submit_stores())
    assert refused.value.active_job_id == holder
    assert fakes.projects.items["p"]["activeJobId"] == holder
    assert fakes.jobs.items[holder]["status"] == "pending"
    assert fakes.workflow.started == []


def test_a_submit_that_meets_a_seconds_old_holder_reads_nothing_more() -> None:
    # Given a project a job took a moment ago (the usual 409: deploys racing for one project)
    fakes = Fakes()
    holder = hold(fakes, "p", age_s=1, status="pending", execution="RUNNING")
    fakes.jobs.gets = 0

    # When another deploy arrives (asking for a refusal, not the queue), it is refused without
    # looking the holder up
    with pytest.raises(ProjectBusy):
        submit_deploy(DeployRequest(projectId="p", iacCode=CODE, whenBusy="reject"), fakes.submit_stores())
    assert fakes.jobs.gets == 0 and fakes.projects.items["p"]["activeJobId"] == holder


# --- the admin unlock -----------------------------------------------------------------------------


def unlock(fakes: Fakes, lock: LockKind, *, force: bool = False, reason: str = "") -> UnlockOut:
    return force_unlock(
        fakes.lock_services(),
        "p",
        by="arn:aws:iam::1:user/alice",
        reason=reason,
        force=force,
        lock=lock,
    )


def test_the_default_unlock_still_clears_only_the_state_lock() -> None:
    fakes = Fakes()
    hold(fakes, "p", age_s=600, status="completed", ended_age_s=300)
    with pytest.raises(NothingToShow, match="state is not locked"):
        unlock(fakes, "state")
    assert fakes.projects.items["p"].get("activeJobId")


def test_a_project_lock_whose_job_runs_is_refused_unless_forced() -> None:
    # Given a project whose job is running
    fakes = Fakes()
    job_id = hold(fakes, "p", age_s=600, execution="RUNNING", build="IN_PROGRESS")

    # When an operator asks to clear its project lock without force
    with pytest.raises(ProjectBusy) as refused:
        unlock(fakes, "project")

    # Then nothing changes
    assert refused.value.active_job_id == job_id
    assert fakes.projects.items["p"]["activeJobId"] == job_id
    assert fakes.jobs.items[job_id]["status"] == "processing"

    # When they force it
    result = unlock(fakes, "project", force=True, reason="build host lost")

    # Then the project is free, the job failed naming who did it, its execution stopped
    assert result.cleared and result.lock == "project" and result.lockId is None
    assert result.projectLock is not None
    assert (result.projectLock.jobId, result.projectLock.jobFailed, result.projectLock.stale) == (
        job_id,
        True,
        False,
    )
    assert result.projectLock.jobStatus == "processing"
    assert "activeJobId" not in fakes.projects.items["p"]
    job = fakes.jobs.items[job_id]
    assert job["status"] == "failed"
    assert job["error"] == "the project lock was cleared by arn:aws:iam::1:user/alice: build host lost"
    assert fakes.workflow.executions[job_id] == "ABORTED"
    record = fakes.projects.items["p"]["lastProjectUnlock"]
    assert record["clearedBy"] == "arn:aws:iam::1:user/alice" and record["reason"] == "build host lost"
    assert record["forced"] is True and record["clearedAt"]
    assert fakes.projects.items["p"]["deploymentStatus"] == "failed"


def test_a_stale_project_lock_is_cleared_without_force() -> None:
    fakes = Fakes()
    job_id = hold(fakes, "p", age_s=900, status="completed", ended_age_s=600)
    result = unlock(fakes, "project")
    assert result.cleared and result.projectLock is not None
    assert (result.projectLock.stale, result.projectLock.jobFailed) == (True, False)
    assert fakes.jobs.items[job_id]["status"] == "completed"  # an ended job keeps its outcome
    assert fakes.workflow.stopped == []
    assert "has already completed" in fakes.projects.items["p"]["lastProjectUnlock"]["reason"]


def test_unlocking_all_judges_both_locks_before_touching_either() -> None:
    # Given a state lock whose build is gone, and a project lock whose job still runs
    fakes = Fakes()
    job_id = hold(fakes, "p", age_s=600, execution="RUNNING", build="IN_PROGRESS")
    lock_id = fakes.locks.take("p", "2020-01-01T00:00:00.000000000Z")

    # When both are asked for without force
    with pytest.raises(ProjectBusy):
        unlock(fakes, "all")

    # Then neither was cleared
    assert lock_id in fakes.locks.items and fakes.projects.items["p"]["activeJobId"] == job_id

    # When forced, both go, and the answer says what each was
    result = unlock(fakes, "all", force=True)
    assert result.cleared and result.lockId == "lock-1" and result.projectLock is not None
    assert not fakes.locks.items and "activeJobId" not in fakes.projects.items["p"]
    assert "lastUnlock" in fakes.projects.items["p"] and "lastProjectUnlock" in fakes.projects.items["p"]
    assert (
        result.message
        == "The state lock and the project lock were cleared; job " + job_id + " is marked failed"
    )


def test_unlocking_a_project_nothing_holds_is_not_found() -> None:
    fakes = Fakes()
    fakes.projects.items["p"] = {"projectId": "p", "deploymentStatus": "deployed"}
    with pytest.raises(NothingToShow, match="project is not locked"):
        unlock(fakes, "project")
    with pytest.raises(NothingToShow, match="state and project are not locked"):
        unlock(fakes, "all")
