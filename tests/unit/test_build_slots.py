"""The account-wide build cap (functions/logic/build_slots.py) over in-memory stores."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from functions.dal.build_slots import BuildSlotStore, SlotPool
from functions.logic.build_slots import release_build_slot, take_build_slot
from functions.logic.cancel import cancel_job
from functions.logic.jobs import job_view, list_jobs
from functions.logic.locks import reap_build_slots
from tests.support.fakes import FakeJobStore, Fakes

NOW_MS = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MINUTE = 60_000


class FakeBuildSlotStore(BuildSlotStore):
    """One item, replaced only if its version is the one read: DynamoDB's conditional put."""

    def __init__(self) -> None:
        self.pool = SlotPool()
        self.writes = 0

    def read(self) -> SlotPool:
        return copy.deepcopy(self.pool)

    def replace(self, before: SlotPool, holders: dict[str, dict[str, Any]], waiting: dict[str, int]) -> bool:
        if before.version != self.pool.version:
            return False
        self.writes += 1
        self.pool = SlotPool(copy.deepcopy(holders), dict(waiting), before.version + 1)
        return True


class RacingStore(FakeBuildSlotStore):
    """Before this store's first write lands, another job takes a slot (a concurrent acquire)."""

    def __init__(self, rival: str) -> None:
        super().__init__()
        self.rival: str | None = rival

    def replace(self, before: SlotPool, holders: dict[str, dict[str, Any]], waiting: dict[str, int]) -> bool:
        if self.rival is not None:
            rival, self.rival = self.rival, None
            self.pool = SlotPool(
                {**self.pool.holders, rival: {"since": "x"}}, self.pool.waiting, self.pool.version + 1
            )
        return super().replace(before, holders, waiting)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def job(jobs: FakeJobStore, job_id: str, created: int, status: str = "pending", **fields: Any) -> None:
    jobs.items[job_id] = {
        "jobId": job_id,
        "projectId": f"p-{job_id}",
        "action": "deploy",
        "status": status,
        "progress": 0,
        "phase": "queued",
        "createdAt": created,
        **fields,
    }


def test_over_the_cap_a_job_waits_with_the_reason_until_a_slot_is_handed_back() -> None:
    # Given a cap of 2 and three jobs
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    for number, name in enumerate(("a", "b", "c")):
        job(jobs, name, NOW_MS + number)

    # When all three ask
    answers = [take_build_slot(slots, jobs, name, 2, NOW_MS) for name in ("a", "b", "c")]

    # Then two build and the third waits, its record saying why
    assert [answer.granted for answer in answers] == [True, True, False]
    assert answers[2].as_dict() == {
        "granted": False,
        "gone": False,
        "pendingReason": "waiting for a build slot (2 of 2 in use)",
    }
    assert jobs.items["c"]["pendingReason"] == "waiting for a build slot (2 of 2 in use)"
    assert "pendingReason" not in jobs.items["a"]
    assert set(slots.pool.holders) == {"a", "b"} and set(slots.pool.waiting) == {"c"}

    # When the first build ends and hands its slot back
    assert release_build_slot(slots, "a") is True
    answer = take_build_slot(slots, jobs, "c", 2, NOW_MS)

    # Then the waiting job gets it, and no longer says it waits
    assert answer.granted and answer.in_use == 2
    assert "pendingReason" not in jobs.items["c"]
    assert set(slots.pool.holders) == {"b", "c"} and slots.pool.waiting == {}


def test_a_waiting_job_looking_again_writes_nothing() -> None:
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "a", NOW_MS)
    job(jobs, "b", NOW_MS + 1)
    take_build_slot(slots, jobs, "a", 1, NOW_MS)
    take_build_slot(slots, jobs, "b", 1, NOW_MS)
    writes = slots.writes

    for _ in range(3):
        assert not take_build_slot(slots, jobs, "b", 1, NOW_MS).granted

    assert slots.writes == writes


def test_slots_go_to_the_oldest_job_first_whatever_asked_first() -> None:
    # Given one slot, held, and a young drift check waiting before an older deploy asks
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "holder", NOW_MS - 3 * MINUTE, status="processing")
    job(jobs, "young-drift", NOW_MS - MINUTE, action="drift")
    job(jobs, "old-deploy", NOW_MS - 2 * MINUTE)
    assert take_build_slot(slots, jobs, "holder", 1, NOW_MS).granted
    assert not take_build_slot(slots, jobs, "young-drift", 1, NOW_MS).granted
    assert not take_build_slot(slots, jobs, "old-deploy", 1, NOW_MS).granted

    # When the slot comes free and the drift check looks first
    release_build_slot(slots, "holder")
    drift = take_build_slot(slots, jobs, "young-drift", 1, NOW_MS)

    # Then it still waits: the older deploy comes first
    assert not drift.granted
    assert drift.reason == "waiting for a build slot (0 of 1 in use)"
    assert take_build_slot(slots, jobs, "old-deploy", 1, NOW_MS).granted
    release_build_slot(slots, "old-deploy")
    assert take_build_slot(slots, jobs, "young-drift", 1, NOW_MS).granted


def test_a_waiter_that_ended_is_passed_over() -> None:
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "holder", NOW_MS - 3 * MINUTE)
    job(jobs, "cancelled", NOW_MS - 2 * MINUTE)
    job(jobs, "next", NOW_MS - MINUTE)
    take_build_slot(slots, jobs, "holder", 1, NOW_MS)
    take_build_slot(slots, jobs, "cancelled", 1, NOW_MS)
    take_build_slot(slots, jobs, "next", 1, NOW_MS)
    jobs.items["cancelled"]["status"] = "failed"

    release_build_slot(slots, "holder")

    assert take_build_slot(slots, jobs, "next", 1, NOW_MS).granted
    assert slots.pool.waiting == {}  # the ended waiter's place went with the grant


def test_a_job_that_holds_a_slot_is_granted_again_without_a_second_one() -> None:
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "a", NOW_MS)
    assert take_build_slot(slots, jobs, "a", 3, NOW_MS).granted

    again = take_build_slot(slots, jobs, "a", 3, NOW_MS)

    assert again.granted and again.in_use == 1
    assert list(slots.pool.holders) == ["a"]


def test_a_job_that_ended_while_it_waited_is_gone_and_leaves_the_waiters() -> None:
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "holder", NOW_MS)
    job(jobs, "b", NOW_MS + 1)
    take_build_slot(slots, jobs, "holder", 1, NOW_MS)
    take_build_slot(slots, jobs, "b", 1, NOW_MS)
    jobs.items["b"]["status"] = "failed"

    answer = take_build_slot(slots, jobs, "b", 1, NOW_MS)

    assert answer.gone and not answer.granted and answer.reason is None
    assert slots.pool.waiting == {}


def test_the_next_in_line_takes_back_the_slot_of_a_holder_that_ended_a_while_ago() -> None:
    # Given the only slot held by a job cancelled 60 s ago (its execution stopped: no release)
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "cancelled", NOW_MS - 5 * MINUTE)
    job(jobs, "next", NOW_MS - MINUTE)
    take_build_slot(slots, jobs, "cancelled", 1, NOW_MS)
    jobs.items["cancelled"].update(status="failed", endTime=iso(NOW_MS - MINUTE))

    # Then the next job takes it
    assert take_build_slot(slots, jobs, "next", 1, NOW_MS).granted
    assert list(slots.pool.holders) == ["next"]


def test_a_holder_that_just_ended_keeps_its_slot_to_hand_it_back_itself() -> None:
    slots, jobs = FakeBuildSlotStore(), FakeJobStore()
    job(jobs, "done", NOW_MS - 5 * MINUTE)
    job(jobs, "next", NOW_MS - MINUTE)
    take_build_slot(slots, jobs, "done", 1, NOW_MS)
    jobs.items["done"].update(status="completed", endTime=iso(NOW_MS - 5_000))

    assert not take_build_slot(slots, jobs, "next", 1, NOW_MS).granted
    assert list(slots.pool.holders) == ["done"]


def test_a_concurrent_grant_of_the_last_slot_is_never_doubled() -> None:
    # Given one slot, and a rival that takes it between this job's read and its write
    slots, jobs = RacingStore(rival="rival"), FakeJobStore()
    job(jobs, "rival", NOW_MS - 1, status="processing")
    job(jobs, "mine", NOW_MS)

    answer = take_build_slot(slots, jobs, "mine", 1, NOW_MS)

    # Then the write met the moved version, read again and found the pool full
    assert not answer.granted
    assert answer.reason == "waiting for a build slot (1 of 1 in use)"
    assert list(slots.pool.holders) == ["rival"] and set(slots.pool.waiting) == {"mine"}


def test_a_release_of_a_job_holding_nothing_changes_nothing() -> None:
    slots = FakeBuildSlotStore()

    assert release_build_slot(slots, "nobody") is False
    assert slots.writes == 0


def test_the_reaper_reclaims_slots_of_dead_executions_and_ended_jobs_only() -> None:
    # Given holders: a running build, a stopped execution, a job completed long ago, a young
    # grant whose execution cannot be seen yet, and two jobs that just ended
    fakes = Fakes()
    slots = FakeBuildSlotStore()
    names = (
        ("running", 10),
        ("stopped", 10),
        ("completed", 10),
        ("young", 1),
        ("settling", 10),
        ("cancelled", 10),
    )
    for name, created in names:
        job(fakes.jobs, name, NOW_MS - created * MINUTE, status="processing")
        fakes.workflow.executions[name] = "RUNNING"
    slots.pool = SlotPool(
        holders={
            "running": {"since": iso(NOW_MS - 9 * MINUTE)},
            "stopped": {"since": iso(NOW_MS - 9 * MINUTE)},
            "completed": {"since": iso(NOW_MS - 9 * MINUTE)},
            "young": {"since": iso(NOW_MS - 30_000)},
            "settling": {"since": iso(NOW_MS - 9 * MINUTE)},
            "cancelled": {"since": iso(NOW_MS - 9 * MINUTE)},
        },
        waiting={"gone-waiter": NOW_MS - 8 * MINUTE},
        version=7,
    )
    fakes.workflow.executions["stopped"] = "ABORTED"
    fakes.workflow.executions["young"] = "ABORTED"
    fakes.jobs.items["completed"].update(status="completed", endTime=iso(NOW_MS - 8 * MINUTE))
    # ended 5 s ago: one whose execution is on its way to the release, one whose execution was stopped
    fakes.jobs.items["settling"].update(status="completed", endTime=iso(NOW_MS - 5_000))
    fakes.jobs.items["cancelled"].update(status="failed", endTime=iso(NOW_MS - 5_000))
    fakes.workflow.executions["cancelled"] = "ABORTED"

    # When the reaper passes
    reclaimed = reap_build_slots(fakes.lock_services(), slots, NOW_MS)

    # Then the stopped, the cancelled, the completed and the waiter without a record go
    assert sorted(reclaimed) == ["cancelled", "completed", "gone-waiter", "stopped"]
    assert sorted(slots.pool.holders) == ["running", "settling", "young"]
    assert slots.pool.waiting == {}
    assert reap_build_slots(fakes.lock_services(), slots, NOW_MS) == []


def test_the_status_and_the_history_show_why_a_job_waits_and_not_once_it_ended() -> None:
    jobs = FakeJobStore()
    reason = "waiting for a build slot (20 of 20 in use)"
    job(jobs, "waiting", NOW_MS, pendingReason=reason)
    job(jobs, "ended", NOW_MS - 1, status="failed", pendingReason=reason, error="cancelled")

    status = job_view(jobs.items["waiting"])
    history = {summary.jobId: summary for summary in list_jobs(jobs, None, 10, None).jobs}

    assert status.status == "pending" and status.pendingReason == reason
    assert status.result is not None and status.result.message == f"Job is {reason}"
    assert job_view(jobs.items["ended"]).pendingReason is None
    assert history["waiting"].pendingReason == reason
    assert history["ended"].pendingReason is None


def test_cancelling_a_job_that_waits_for_its_apply_slot_closes_it_at_once() -> None:
    # Given an approved job waiting for a slot for its apply: processing, its execution running,
    # but no build (so no runner will record the cancel)
    fakes = Fakes()
    job(
        fakes.jobs,
        "waiting",
        NOW_MS,
        status="processing",
        phase="plan",
        pendingReason="waiting for a build slot",
    )
    fakes.projects.items["p-waiting"] = {"projectId": "p-waiting", "activeJobId": "waiting"}
    fakes.workflow.executions["waiting"] = "RUNNING"

    out = cancel_job(fakes.jobs, fakes.projects, fakes.workflow, "waiting", "someone")

    assert out.status == "failed" and out.message == "The job was cancelled before it ran"
    assert fakes.jobs.items["waiting"]["status"] == "failed"
    assert fakes.workflow.stopped and fakes.workflow.stopped[0][0] == "waiting"
    assert "activeJobId" not in fakes.projects.items["p-waiting"]
