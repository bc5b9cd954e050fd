"""An account-wide cap on concurrent builds (the install option ``maxConcurrentBuilds``).

CodeBuild refuses builds over the account's concurrent-build quota; rather than meet that refusal
(or take every slot from other users of the account), every build first takes one of the
install's slots and hands it back when the build ends. The workflow asks before each CodeBuild
state (``take_build_slot``, polled like the project's turn) and releases after each build, on
every path; what a stopped execution cannot release, the reaper reclaims.

Fairness: slots are given in order of job creation (oldest first), whatever the action. A job
that asks registers as waiting; a free slot goes to it only when no older live job waits, so a
burst of scheduled drift checks can delay a deploy by at most the checks submitted before it,
never starve it. A gated job's apply asks again after its approval and, being older than most
waiters, gets one of the next slots. A waiter that ended (cancelled, failed) is passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.records import TERMINAL_JOB_STATUSES, iso_now
from core.timings import epoch_ms_of
from core.transitions import ACTIVE, Update, one_of, present
from functions.dal.build_slots import BuildSlotStore, SlotPool
from functions.dal.jobs import JobItem, JobStore
from functions.models.exceptions import StoreUnavailable

# Version races resolved by reading again: a handful at most, since each write is one item.
WRITE_ATTEMPTS = 8
# A holder that ended gets this long to hand its slot back itself before it is taken from it.
SETTLE_SECONDS = 15
# A job's execution starts within its submit; a younger holder is never judged by its execution.
STUCK_AFTER_SECONDS = 120
RUNNING = "RUNNING"
PENDING_REASON = "pendingReason"


def waiting_reason(in_use: int, cap: int) -> str:
    return f"waiting for a build slot ({in_use} of {cap} in use)"


@dataclass(frozen=True)
class SlotAnswer:
    """What ``take_build_slot`` found: the job holds a slot, it waits, or it ended meanwhile."""

    granted: bool
    in_use: int
    cap: int
    gone: bool = False

    @property
    def reason(self) -> str | None:
        return None if self.granted or self.gone else waiting_reason(self.in_use, self.cap)

    def as_dict(self) -> dict[str, Any]:
        return {"granted": self.granted, "gone": self.gone, "pendingReason": self.reason}


def _alive(job: JobItem | None) -> bool:
    return job is not None and job.get("status") in ACTIVE


def _ended(job: JobItem | None, now_ms: int) -> bool:
    """A holder that is done with its build: no record, or ended a while ago."""
    if job is None:
        return True
    if job.get("status") not in {status.value for status in TERMINAL_JOB_STATUSES}:
        return False
    ended = epoch_ms_of(job.get("endTime") or job.get("updatedAt"))
    return ended is None or now_ms - ended >= SETTLE_SECONDS * 1000


def _record_ended(job: JobItem | None, now_ms: int) -> bool:
    return job is not None and _ended(job, now_ms)


def _order(waiting: dict[str, int]) -> list[str]:
    return [job for job, _ in sorted(waiting.items(), key=lambda entry: (entry[1], entry[0]))]


def _live_ahead(jobs: JobStore, ahead: Iterable[str], enough: int) -> tuple[int, list[str]]:
    """How many of the older waiters are alive (counting stops at ``enough``), and the dead ones seen."""
    live, dead = 0, []
    for other in ahead:
        if live >= enough:
            break
        if _alive(jobs.get(other)):
            live += 1
        else:
            dead.append(other)
    return live, dead


def _note_reason(jobs: JobStore, job: JobItem, reason: str | None) -> None:
    """Keep the job's record saying why it waits (the status and the history show it)."""
    if job.get(PENDING_REASON) == reason:
        return
    key = {"jobId": str(job["jobId"])}
    if reason is None:
        jobs.apply(Update(key=key, remove=(PENDING_REASON,), conditions=(present("jobId"),)))
    else:
        jobs.apply(Update(key=key, set={PENDING_REASON: reason}, conditions=(one_of("status", ACTIVE),)))


def take_build_slot(slots: BuildSlotStore, jobs: JobStore, job_id: str, cap: int, now_ms: int) -> SlotAnswer:
    """One look for a slot: take it if one is free and no older live job waits for it.

    Idempotent: a job that already holds a slot is granted again (a retried step, or the apply
    of a job that held its slot through its policy check)."""
    job = jobs.get(job_id)
    if not _alive(job):
        release_build_slot(slots, job_id)
        return SlotAnswer(False, 0, cap, gone=True)
    assert job is not None  # _alive says so; mypy cannot see it
    created = int(job.get("createdAt") or now_ms)
    answer = SlotAnswer(False, 0, cap)
    for _ in range(WRITE_ATTEMPTS):
        pool = slots.read()
        if job_id in pool.holders:
            answer = SlotAnswer(True, len(pool.holders), cap)
            break
        answer, holders, waiting = _decide(jobs, pool, job_id, created, cap=cap, now_ms=now_ms)
        if (holders, waiting) == (pool.holders, pool.waiting) or slots.replace(pool, holders, waiting):
            break
    _note_reason(jobs, job, answer.reason)
    return answer


def _decide(
    jobs: JobStore, pool: SlotPool, job_id: str, created: int, *, cap: int, now_ms: int
) -> tuple[SlotAnswer, dict[str, dict[str, Any]], dict[str, int]]:
    holders = dict(pool.holders)
    waiting = {**pool.waiting, job_id: pool.waiting.get(job_id, created)}
    order = _order(waiting)
    ahead = order[: order.index(job_id)]
    free = cap - len(holders)
    live, dead = _live_ahead(jobs, ahead, max(free, 1))
    if free <= 0 and live == 0:
        # The next slot is this job's: holders whose job has ended hand theirs back now (a
        # cancelled build's execution was stopped before it could release).
        # (A holder without a record is left to the reaper, which judges by the grant's age.)
        for holder in [h for h in holders if _record_ended(jobs.get(h), now_ms)]:
            del holders[holder]
        free = cap - len(holders)
    for other in dead:
        waiting.pop(other, None)
    granted = free > 0 and live < free
    if granted:
        del waiting[job_id]
        holders[job_id] = {"since": iso_now(), "createdAt": created}
    return SlotAnswer(granted, len(holders), cap), holders, waiting


def release_build_slot(slots: BuildSlotStore, job_id: str) -> bool:
    """Hand the job's slot back (and drop it from the waiters); False if it held none."""
    for _ in range(WRITE_ATTEMPTS):
        pool = slots.read()
        if job_id not in pool.holders and job_id not in pool.waiting:
            return False
        holders = {k: v for k, v in pool.holders.items() if k != job_id}
        waiting = {k: v for k, v in pool.waiting.items() if k != job_id}
        if slots.replace(pool, holders, waiting):
            return job_id in pool.holders
    raise StoreUnavailable("the build slots kept changing; the slot is left to the reaper")


def _dead(
    job: JobItem | None, since_ms: int | None, now_ms: int, status: Callable[[str], str | None]
) -> bool:
    young = since_ms is not None and now_ms - since_ms < STUCK_AFTER_SECONDS * 1000
    if job is None:
        return not young
    if not _alive(job):
        # Settling is for an execution still on its way to the release; a stopped one never gets there.
        return _ended(job, now_ms) or status(str(job["jobId"])) != RUNNING
    if young or now_ms - int(job.get("createdAt", now_ms)) < STUCK_AFTER_SECONDS * 1000:
        return False
    return status(str(job["jobId"])) != RUNNING


def reclaim_build_slots(
    slots: BuildSlotStore, jobs: JobStore, execution_status: Callable[[str], str | None], now_ms: int
) -> list[str]:
    """Take back the slots (and waiting places) of jobs that ended or whose execution is no longer
    running; returns their job ids."""
    for _ in range(WRITE_ATTEMPTS):
        pool = slots.read()
        dead = [
            job_id
            for job_id, grant in pool.holders.items()
            if _dead(jobs.get(job_id), epoch_ms_of(grant.get("since")), now_ms, execution_status)
        ]
        dead += [
            job_id
            for job_id, created in pool.waiting.items()
            if _dead(jobs.get(job_id), int(created), now_ms, execution_status)
        ]
        if not dead:
            return []
        holders = {k: v for k, v in pool.holders.items() if k not in dead}
        waiting = {k: v for k, v in pool.waiting.items() if k not in dead}
        if slots.replace(pool, holders, waiting):
            return dead
    raise StoreUnavailable("the build slots kept changing; the reaper tries again on its next pass")
