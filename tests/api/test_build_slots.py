"""The build slots on the emulator's DynamoDB: concurrent acquires never grant more than the cap,
concurrent releases lose no slot, and the workflow steps function answers the ASL's two steps."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core.records import JobAction, epoch_ms, iso_now, new_job_id
from functions.dal.build_slots import POOL_KEY, DynamoBuildSlotStore
from functions.dal.jobs import DynamoJobStore
from functions.handlers.reaper_handler import lambda_handler as reaper
from functions.handlers.workflow_handler import lambda_handler as workflow_steps
from functions.logic.build_slots import SlotAnswer, release_build_slot, take_build_slot
from localmode.gateway import LocalContext
from tests.support.api import Api

THREADS = 12
CAP = 5


@pytest.fixture
def stores(api: Api) -> Iterator[tuple[DynamoBuildSlotStore, DynamoJobStore]]:
    resources = api.emulated.resources
    locks = api.emulated.table(resources.lock_table)
    locks.delete_item(Key={"LockID": POOL_KEY})  # the pool is account-wide: start from an empty one
    yield DynamoBuildSlotStore(resources.lock_table), DynamoJobStore(resources.jobs_table)
    locks.delete_item(Key={"LockID": POOL_KEY})


def make_jobs(jobs: DynamoJobStore, count: int) -> list[str]:
    base = epoch_ms()
    ids = []
    for number in range(count):
        job_id = new_job_id(JobAction.DEPLOY, base + number)
        jobs.create(
            {
                "jobId": job_id,
                "projectId": f"slots-{number}",
                "action": "deploy",
                "status": "pending",
                "progress": 0,
                "phase": "queued",
                "kind": "job",
                "createdAt": base + number,
                "startTime": iso_now(),
                "updatedAt": iso_now(),
            }
        )
        ids.append(job_id)
    return ids


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_concurrent_acquires_never_grant_more_than_the_cap(
    stores: tuple[DynamoBuildSlotStore, DynamoJobStore],
) -> None:
    # Given 12 jobs and 5 slots
    slots, jobs = stores
    ids = make_jobs(jobs, THREADS)

    # When all ask at once, and then each asks once more (a retry, or the next poll)
    first: list[SlotAnswer] = at_once(
        THREADS, lambda i: take_build_slot(slots, jobs, ids[i], CAP, epoch_ms())
    )
    at_once(THREADS, lambda i: take_build_slot(slots, jobs, ids[i], CAP, epoch_ms()))

    # Then no more than 5 ever hold one, the pool says who, and the rest wait
    pool = slots.read()
    granted = {ids[i] for i, answer in enumerate(first) if answer.granted}
    assert len(pool.holders) == CAP
    assert granted <= set(pool.holders)
    assert set(pool.waiting) == set(ids) - set(pool.holders)
    for waiter in pool.waiting:
        assert jobs.get(waiter)["pendingReason"] == "waiting for a build slot (5 of 5 in use)"  # type: ignore[index]


def test_concurrent_releases_and_acquires_lose_no_slot(
    stores: tuple[DynamoBuildSlotStore, DynamoJobStore],
) -> None:
    # Given 5 holders and 5 waiters
    slots, jobs = stores
    ids = make_jobs(jobs, 2 * CAP)
    for job_id in ids:
        take_build_slot(slots, jobs, job_id, CAP, epoch_ms())
    holders = sorted(slots.read().holders)
    assert holders == sorted(ids[:CAP])

    # When the holders hand back their slots while the waiters ask, all at once
    def work(index: int) -> object:
        if index < CAP:
            return release_build_slot(slots, ids[index])
        return take_build_slot(slots, jobs, ids[index], CAP, epoch_ms())

    answers = at_once(2 * CAP, work)
    for job_id in ids[CAP:]:  # a waiter that looked before a release looks again, as its Wait does
        take_build_slot(slots, jobs, job_id, CAP, epoch_ms())

    # Then every release landed and every waiter holds a slot now: none lost, none doubled
    assert answers[:CAP] == [True] * CAP
    pool = slots.read()
    assert sorted(pool.holders) == sorted(ids[CAP:])
    assert pool.waiting == {}


def test_the_workflow_steps_function_takes_and_hands_back_a_slot(
    stores: tuple[DynamoBuildSlotStore, DynamoJobStore],
) -> None:
    slots, jobs = stores
    [job_id] = make_jobs(jobs, 1)
    context = LocalContext("provisioner-workflow-steps")

    taken = workflow_steps({"step": "take_build_slot", "job": {"jobId": job_id}}, context)
    assert taken == {"granted": True, "gone": False, "pendingReason": None}
    assert list(slots.read().holders) == [job_id]

    released = workflow_steps({"step": "release_build_slot", "job": {"jobId": job_id}}, context)
    assert released == {"released": True}
    assert slots.read().holders == {}


def test_the_reaper_reclaims_the_slot_of_a_job_whose_execution_is_gone(
    stores: tuple[DynamoBuildSlotStore, DynamoJobStore],
) -> None:
    # Given a slot held for 10 minutes by a job still "processing" whose execution never ran
    # (stopped, or lost), and one held by a job just granted
    slots, jobs = stores
    long_ago = epoch_ms() - 10 * 60_000
    dead = new_job_id(JobAction.DEPLOY, long_ago)
    jobs.create(
        {
            "jobId": dead,
            "projectId": "slots-dead",
            "action": "deploy",
            "status": "processing",
            "progress": 40,
            "phase": "apply",
            "kind": "job",
            "createdAt": long_ago,
            "startTime": iso_now(),
            "updatedAt": iso_now(),
        }
    )
    assert take_build_slot(slots, jobs, dead, CAP, epoch_ms()).granted
    [young] = make_jobs(jobs, 1)
    assert take_build_slot(slots, jobs, young, CAP, epoch_ms()).granted

    # When the scheduled reaper runs
    report = reaper({}, LocalContext("provisioner-reaper"))

    # Then the dead execution's slot is back and the young one is kept
    assert report["reclaimedBuildSlots"] == [dead]
    assert list(slots.read().holders) == [young]
