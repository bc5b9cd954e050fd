"""Stores for the lock and reaper logic, and the drift schedules, from whichever function's
environment has the names."""

from __future__ import annotations

from typing import Protocol

from functions.dal.builds import build_status
from functions.dal.jobs import job_store
from functions.dal.locks import lock_store
from functions.dal.projects import project_store
from functions.dal.schedules import DriftSchedules, drift_schedules
from functions.dal.workflow import workflow
from functions.logic.locks import LockServices


class LockEnvironment(Protocol):
    JOBS_TABLE: str
    PROJECTS_TABLE: str
    LOCK_TABLE: str
    STATE_BUCKET: str
    STATE_MACHINE_ARN: str


def lock_services(env: LockEnvironment) -> LockServices:
    return LockServices(
        projects=project_store(env.PROJECTS_TABLE),
        jobs=job_store(env.JOBS_TABLE),
        locks=lock_store(env.LOCK_TABLE, env.STATE_BUCKET),
        builds=build_status(),
        workflow=workflow(env.STATE_MACHINE_ARN),
        state_bucket=env.STATE_BUCKET,
    )


class ScheduleEnvironment(Protocol):
    DRIFT_SCHEDULE_GROUP: str
    DRIFT_FUNCTION_ARN: str
    DRIFT_SCHEDULER_ROLE_ARN: str


def schedules_of(env: ScheduleEnvironment) -> DriftSchedules:
    return drift_schedules(env.DRIFT_SCHEDULE_GROUP, env.DRIFT_FUNCTION_ARN, env.DRIFT_SCHEDULER_ROLE_ARN)
