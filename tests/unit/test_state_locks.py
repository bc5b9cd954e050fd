"""Terraform's state lock, judged and cleared without a server: the admin unlock (refused while the
owner's build runs unless forced, recorded with who, when and why), and the reaper's passes (which
locks it releases, which it keeps). Over the in-memory stores of tests/support/fakes.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from core.records import JobAction, epoch_ms, new_job_id, state_lock_id
from core.responses import UnlockOut
from functions.dal.locks import StateLock
from functions.logic.locks import (
    STUCK_AFTER_SECONDS,
    LockKind,
    force_unlock,
    inspect_state_lock,
    reap,
    reap_stuck_jobs,
)
from functions.models.exceptions import NothingToShow, ProjectBusy
from tests.support.fakes import STATE_BUCKET, FakeLockStore, Fakes, UnavailableWorkflow

OPERATOR = "arn:aws:iam::1:user/alice"


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def terraform_time(ms: int) -> str:
    """A lock's Created as terraform writes it: nanoseconds."""
    return iso(ms)[:-1] + "456789Z"


def job(
    fakes: Fakes,
    project: str,
    *,
    age_s: float,
    status: str = "processing",
    build: str | None = None,
    build_id: str | None = None,
    execution: str | None = None,
    **fields: Any,
) -> str:
    """A job record created and started ``age_s`` ago; ``build`` is its CodeBuild build's status."""
    created = epoch_ms() - int(age_s * 1000)
    job_id = new_job_id(JobAction.DEPLOY, created)
    item: dict[str, Any] = {
        "jobId": job_id,
        "projectId": project,
        "action": "deploy",
        "status": status,
        "createdAt": created,
        "startTime": iso(created),
        **fields,
    }
    if build is not None or build_id is not None:
        item["buildId"] = build_id or f"provisioner-runner:{job_id}"
        if build is not None:
            fakes.builds.builds[item["buildId"]] = build
    if execution is not None:
        fakes.workflow.executions[job_id] = execution
    fakes.jobs.items[job_id] = item
    return job_id


def lock(fakes: Fakes, project: str, *, age_s: float, lock_uuid: str = "lock-1") -> str:
    """The state lock terraform takes, ``age_s`` ago."""
    return fakes.locks.take(project, terraform_time(epoch_ms() - int(age_s * 1000)), lock_uuid)


def unlock(fakes: Fakes, *, force: bool = False, reason: str = "", kind: LockKind = "state") -> UnlockOut:
    return force_unlock(fakes.lock_services(), "p", by=OPERATOR, reason=reason, force=force, lock=kind)


# --- the admin unlock of a state lock -------------------------------------------------------------


def test_a_state_lock_whose_build_runs_is_refused_then_cleared_when_forced_and_recorded() -> None:
    # Given a state lock taken by a job whose build is still in progress
    fakes = Fakes()
    owner = job(fakes, "p", age_s=60, build="IN_PROGRESS")
    lock_id = lock(fakes, "p", age_s=30)
    taken = fakes.locks.items[lock_id]

    # When an operator asks to clear it without force
    with pytest.raises(ProjectBusy) as refused:
        unlock(fakes, reason="ci stuck")

    # Then it is refused naming the owner, and nothing changed
    assert refused.value.active_job_id == owner
    assert owner in refused.value.message and '"force": true' in refused.value.message
    assert fakes.locks.items == {lock_id: taken}
    assert "p" not in fakes.projects.items  # no record of an unlock that did not happen
    assert fakes.jobs.items[owner]["status"] == "processing"

    # When they force it
    before = iso(epoch_ms())
    result = unlock(fakes, force=True, reason="ci stuck")

    # Then the lock is gone and the answer says whose it was
    assert fakes.locks.items == {}
    assert (result.cleared, result.lock, result.lockId, result.ownerJobId) == (True, "state", "lock-1", owner)
    assert result.projectLock is None and result.clearedBy == OPERATOR
    assert result.message == "The state lock was cleared"
    # and the project records who cleared which lock, when and why
    record = fakes.projects.items["p"]["lastUnlock"]
    assert record == {
        "lockId": "lock-1",
        "lockCreated": record["lockCreated"],
        "lockOwnerJobId": owner,
        "clearedBy": OPERATOR,
        "clearedAt": record["clearedAt"],
        "reason": "ci stuck",
    }
    assert record["lockCreated"] == json.loads(taken)["Created"]
    assert before <= record["clearedAt"] <= iso(epoch_ms())
    # a state unlock touches neither the job nor its build
    assert fakes.jobs.items[owner]["status"] == "processing" and fakes.workflow.stopped == []


def test_a_state_lock_whose_build_ended_is_cleared_without_force() -> None:
    # Given a state lock whose owner's build has failed (its runner died holding the lock)
    fakes = Fakes()
    owner = job(fakes, "p", age_s=600, build="FAILED")
    lock(fakes, "p", age_s=500)

    # When an operator clears it without force and without a reason
    result = unlock(fakes)

    # Then it is cleared, and the record says it was an operator's doing
    assert result.cleared and result.ownerJobId == owner and fakes.locks.items == {}
    record = fakes.projects.items["p"]["lastUnlock"]
    assert (record["clearedBy"], record["reason"], record["lockOwnerJobId"]) == (
        OPERATOR,
        "forced by an operator",
        owner,
    )


def test_a_state_lock_with_no_job_started_before_it_has_no_owner_and_is_cleared() -> None:
    # Given a lock older than every job of the project (taken by hand, or by a job long gone)
    fakes = Fakes()
    later = job(fakes, "p", age_s=60, build="IN_PROGRESS")
    lock(fakes, "p", age_s=600)

    # Then it has no owner, so the running job is not its owner and does not protect it
    verdict = inspect_state_lock(fakes.lock_services(), "p")
    assert verdict is not None and verdict.owner is None and not verdict.owner_running
    result = unlock(fakes)
    assert result.cleared and result.ownerJobId is None
    assert fakes.projects.items["p"]["lastUnlock"]["lockOwnerJobId"] is None
    assert fakes.jobs.items[later]["status"] == "processing"


def test_the_owner_is_the_newest_job_started_before_the_lock() -> None:
    # Given three jobs: two started before the lock (the older one's build still runs), one after
    fakes = Fakes()
    job(fakes, "p", age_s=900, build="IN_PROGRESS")
    owner = job(fakes, "p", age_s=300, build="SUCCEEDED")
    job(fakes, "p", age_s=10, build="IN_PROGRESS")
    lock(fakes, "p", age_s=200)

    # Then the owner is the newer of the two before it, whose build has ended
    verdict = inspect_state_lock(fakes.lock_services(), "p")
    assert verdict is not None
    assert (verdict.owner_job_id, verdict.owner_running) == (owner, False)
    assert unlock(fakes).cleared


def test_a_runner_started_by_hand_is_judged_by_its_record() -> None:
    # Given a lock whose owner's build id is not a CodeBuild one: only its record tells
    fakes = Fakes()
    owner = job(fakes, "p", age_s=60, build_id="manual-run")
    lock(fakes, "p", age_s=30)

    # Then while the record says processing, the lock is its and protected
    with pytest.raises(ProjectBusy):
        unlock(fakes)
    assert fakes.locks.items

    # and once the record says it ended, it is not
    fakes.jobs.items[owner]["status"] = "failed"
    assert unlock(fakes).cleared and not fakes.locks.items


class ReplacedLockStore(FakeLockStore):
    """A lock table where, between the read and the delete, terraform takes a new lock."""

    def get(self, lock_id: str) -> StateLock | None:
        found = super().get(lock_id)
        if found is not None:
            self.take(lock_id.split("/")[2], found.created, "lock-2")
        return found


def test_a_lock_replaced_meanwhile_is_left_alone_and_nothing_is_recorded() -> None:
    fakes = Fakes(locks=ReplacedLockStore())
    job(fakes, "p", age_s=600, build="FAILED")
    lock(fakes, "p", age_s=500)

    result = unlock(fakes, force=True)

    assert not result.cleared and result.message == "A lock changed meanwhile and was left as it is"
    [info] = fakes.locks.items.values()
    assert '"ID": "lock-2"' in info
    assert "lastUnlock" not in fakes.projects.items.get("p", {})


def test_unlocking_all_when_only_the_state_is_locked_clears_the_state_lock() -> None:
    # Given a project with no job holding it, but a state lock left behind
    fakes = Fakes()
    fakes.projects.items["p"] = {"projectId": "p", "deploymentStatus": "failed"}
    job(fakes, "p", age_s=600, build="FAILED", status="failed")
    lock(fakes, "p", age_s=500)

    result = unlock(fakes, kind="all")

    assert result.cleared and result.projectLock is None and result.lockId == "lock-1"
    assert result.message == "The state lock was cleared"
    assert fakes.locks.items == {} and fakes.projects.items["p"]["lastUnlock"]["lockId"] == "lock-1"


def test_unlocking_a_state_that_is_not_locked_is_not_found_and_records_nothing() -> None:
    fakes = Fakes()
    fakes.projects.items["p"] = {"projectId": "p", "deploymentStatus": "deployed"}
    # (a lock of another project is no lock of this one)
    lock(fakes, "other", age_s=500)
    with pytest.raises(NothingToShow, match="state is not locked"):
        unlock(fakes, force=True)
    assert fakes.projects.items["p"] == {"projectId": "p", "deploymentStatus": "deployed"}
    assert len(fakes.locks.items) == 1


# --- the reaper -----------------------------------------------------------------------------------


def test_the_reaper_clears_the_state_locks_of_ended_builds_only() -> None:
    # Given four state locks: owners whose build failed or succeeded, one with no owner, one running
    fakes = Fakes()
    dead = job(fakes, "dead", age_s=600, build="FAILED", status="failed")
    job(fakes, "done", age_s=600, build="SUCCEEDED", status="completed")
    lock(fakes, "dead", age_s=500)
    lock(fakes, "done", age_s=500)
    lock(fakes, "orphan", age_s=500)
    live = job(fakes, "live", age_s=600, build="IN_PROGRESS", execution="RUNNING")
    lock(fakes, "live", age_s=500)
    # and items the reaper must not touch: another bucket's lock, terraform's digest item
    foreign = "other-bucket/projects/x/terraform.tfstate"
    digest = state_lock_id(STATE_BUCKET, "x") + "-md5"
    fakes.locks.items[foreign] = fakes.locks.items[state_lock_id(STATE_BUCKET, "orphan")]
    fakes.locks.items[digest] = "{}"

    # When the reaper runs
    report = reap(fakes.lock_services(), epoch_ms())

    # Then exactly the three whose owner is gone are cleared, each with a record naming the reaper
    assert sorted(report.cleared_locks) == sorted(
        state_lock_id(STATE_BUCKET, p) for p in ("dead", "done", "orphan")
    )
    assert sorted(fakes.locks.items) == sorted([state_lock_id(STATE_BUCKET, "live"), foreign, digest])
    record = fakes.projects.items["dead"]["lastUnlock"]
    assert (record["clearedBy"], record["lockOwnerJobId"]) == ("reaper", dead)
    assert record["reason"] == f"stale: {dead} is no longer running"
    assert (
        fakes.projects.items["orphan"]["lastUnlock"]["reason"] == "stale: an unknown job is no longer running"
    )
    assert "live" not in fakes.projects.items
    # and no job was failed for it: a state lock says nothing of the job's own record
    assert report.failed_jobs == [] and fakes.jobs.items[live]["status"] == "processing"


def held_by(fakes: Fakes, project: str, job_id: str) -> None:
    fakes.projects.items[project] = {
        "projectId": project,
        "activeJobId": job_id,
        "activeAction": "deploy",
        "deploymentStatus": "pending",
        "deploymentJobId": job_id,
        "lastUpdated": iso(epoch_ms() - 600_000),
    }


def test_one_reaper_pass_releases_exactly_the_projects_whose_holder_is_gone() -> None:
    old = STUCK_AFTER_SECONDS + 300
    fakes = Fakes()
    # a job record missing
    held_by(fakes, "missing", new_job_id(JobAction.DEPLOY, epoch_ms() - old * 1000))
    # a job ended long ago, still holding
    ended = job(fakes, "ended", age_s=old, status="completed", endTime=iso(epoch_ms() - 200_000))
    held_by(fakes, "ended", ended)
    fakes.projects.items["ended"]["deploymentStatus"] = "deployed"
    # a processing job whose execution and build are gone
    gone = job(fakes, "gone", age_s=old, build="FAILED", execution="FAILED")
    held_by(fakes, "gone", gone)
    # a live job (its execution runs), a job whose build still runs, and a young job
    live = job(fakes, "live", age_s=old, build="IN_PROGRESS", execution="RUNNING")
    held_by(fakes, "live", live)
    building = job(fakes, "building", age_s=old, build="IN_PROGRESS", execution="FAILED")
    held_by(fakes, "building", building)
    young = job(fakes, "young", age_s=5, status="pending")
    held_by(fakes, "young", young)

    # When the reaper runs once
    report = reap(fakes.lock_services(), epoch_ms())

    # Then the stuck job is failed and freed its project; the other two left behind are released
    assert report.failed_jobs == [gone]
    assert sorted(report.released_projects) == ["ended", "missing"]
    assert report.skipped == []
    free = {p for p, item in fakes.projects.items.items() if not item.get("activeJobId")}
    assert free == {"missing", "ended", "gone"}
    assert fakes.jobs.items[gone]["status"] == "failed"
    assert "without recording the job" in fakes.jobs.items[gone]["error"]
    assert fakes.projects.items["gone"]["deploymentStatus"] == "failed"
    assert fakes.projects.items["missing"]["deploymentStatus"] == "failed"
    assert fakes.projects.items["ended"]["deploymentStatus"] == "deployed"  # its runner's outcome kept
    # and the live ones are untouched
    for project, job_id in (("live", live), ("building", building), ("young", young)):
        assert fakes.projects.items[project]["activeJobId"] == job_id
        assert fakes.jobs.items[job_id]["status"] in ("processing", "pending")
    assert fakes.workflow.stopped == []


def test_a_stuck_job_is_failed_but_a_project_held_by_another_job_is_not_freed() -> None:
    # Given a stuck job whose project another (live) job holds now
    fakes = Fakes()
    stuck = job(fakes, "p", age_s=600, execution="ABORTED")
    live = job(fakes, "p", age_s=30, status="pending", execution="RUNNING")
    held_by(fakes, "p", live)

    failed = reap_stuck_jobs(fakes.lock_services(), fakes.jobs.active(), epoch_ms())

    assert failed == [stuck] and fakes.jobs.items[stuck]["status"] == "failed"
    assert "(ABORTED)" in fakes.jobs.items[stuck]["error"]
    assert fakes.projects.items["p"]["activeJobId"] == live
    assert fakes.projects.items["p"]["deploymentStatus"] == "pending"


def test_a_workflow_that_cannot_be_read_fails_no_job() -> None:
    # Given a stuck-looking job, and a workflow whose reads fail
    fakes = Fakes(workflow=UnavailableWorkflow())
    held = job(fakes, "p", age_s=600)
    held_by(fakes, "p", held)

    report = reap(fakes.lock_services(), epoch_ms())

    # Then nothing is judged on a guess: the job runs on, the project stays held
    assert report.failed_jobs == [] and report.released_projects == []
    assert fakes.jobs.items[held]["status"] == "processing"
    assert fakes.projects.items["p"]["activeJobId"] == held


def test_plans_and_drift_checks_started_after_a_deploy_never_own_its_lock() -> None:
    # Given a running deploy holding the state lock, and many read-only jobs started since (a
    # speculative plan, scheduled drift checks, some skipped): none of them takes a state lock
    fakes = Fakes()
    deploy = job(fakes, "p", age_s=900, build="IN_PROGRESS", execution="RUNNING")
    for age in range(11):
        job(fakes, "p", age_s=800 - age, status="completed", action="drift", build="SUCCEEDED")
    job(fakes, "p", age_s=700, status="completed", action="plan", build="SUCCEEDED")
    lock(fakes, "p", age_s=600)
    verdict = inspect_state_lock(fakes.lock_services(), "p")
    # Then the deploy is its owner and the reaper keeps it
    assert verdict is not None and verdict.owner_job_id == deploy and verdict.owner_running
    assert reap(fakes.lock_services(), epoch_ms()).cleared_locks == []
    assert state_lock_id(STATE_BUCKET, "p") in fakes.locks.items


# --- terraform 1.10+'s lock file ------------------------------------------------------------------


def lockfile(fakes: Fakes, project: str, *, age_s: float, lock_uuid: str = "file-1") -> str:
    """The lock file terraform 1.10+ writes beside the state (``use_lockfile``), ``age_s`` ago."""
    created = terraform_time(epoch_ms() - int(age_s * 1000))
    return fakes.locks.take(project, created, lock_uuid, lockfile=True)


def test_the_reaper_clears_a_lock_file_of_an_ended_build_and_keeps_a_running_ones() -> None:
    # Given lock files: one whose owner's build failed, one whose build still runs
    fakes = Fakes()
    dead = job(fakes, "dead", age_s=600, build="FAILED", status="failed")
    job(fakes, "live", age_s=600, build="IN_PROGRESS", execution="RUNNING")
    stale = lockfile(fakes, "dead", age_s=500)
    held = lockfile(fakes, "live", age_s=500)
    assert stale == f"{STATE_BUCKET}/projects/dead/terraform.tfstate.tflock"

    # When the reaper runs
    report = reap(fakes.lock_services(), epoch_ms())

    # Then only the dead build's lock file is cleared, and recorded as the reaper's
    assert report.cleared_locks == [stale]
    assert list(fakes.locks.items) == [held]
    record = fakes.projects.items["dead"]["lastUnlock"]
    assert (record["lockId"], record["lockOwnerJobId"], record["clearedBy"]) == ("file-1", dead, "reaper")


def test_both_kinds_left_by_one_dead_job_are_cleared_in_one_pass() -> None:
    # Given a 1.10+ job that met an older lock item took both kinds, and died holding them
    fakes = Fakes()
    job(fakes, "p", age_s=600, build="FAILED", status="failed")
    item = lock(fakes, "p", age_s=500)
    file = lockfile(fakes, "p", age_s=500)

    # When the reaper runs, then both are cleared (the lock file judged first)
    report = reap(fakes.lock_services(), epoch_ms())
    assert report.cleared_locks == [file, item]
    assert fakes.locks.items == {}


def test_an_operator_clears_a_lock_file_only_when_its_build_is_over_or_forced() -> None:
    # Given a lock file whose owner's build still runs
    fakes = Fakes()
    owner = job(fakes, "p", age_s=60, build="IN_PROGRESS")
    file = lockfile(fakes, "p", age_s=30)
    with pytest.raises(ProjectBusy) as refused:
        unlock(fakes, reason="stuck")
    assert refused.value.active_job_id == owner and file in fakes.locks.items

    # When forced, it is gone, and the answer names the lock terraform wrote in it
    result = unlock(fakes, force=True, reason="stuck")
    assert (result.cleared, result.lockId, result.ownerJobId) == (True, "file-1", owner)
    assert fakes.locks.items == {}


def test_one_unlock_clears_both_kinds_and_is_refused_if_either_owner_runs() -> None:
    # Given a stale lock item (an old 1.0.3 job, build over) and a lock file of a running job
    fakes = Fakes()
    job(fakes, "p", age_s=900, build="FAILED", status="failed")
    lock(fakes, "p", age_s=800, lock_uuid="item-1")
    running = job(fakes, "p", age_s=60, build="IN_PROGRESS")
    lockfile(fakes, "p", age_s=30)

    # Then an unforced unlock is refused for the running one, and nothing is cleared
    with pytest.raises(ProjectBusy) as refused:
        unlock(fakes)
    assert refused.value.active_job_id == running and len(fakes.locks.items) == 2

    # When forced, both go
    assert unlock(fakes, force=True, reason="both").cleared and fakes.locks.items == {}
