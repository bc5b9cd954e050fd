"""EventBridge Scheduler: one schedule per project that starts its drift checks.

Each schedule invokes the drift function with ``{"projectId": ..., "trigger": "schedule"}``; a
flexible window spreads a fleet's daily checks instead of starting them all at once. In local mode
the same schedules live in the emulator and a local stand-in fires them (localmode/scheduler.py).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.dal import aws

WHAT = "the drift scheduler"
OFF = "off"
# EventBridge's rate expressions; cron() is left out so local mode can honour every schedule.
RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]{0,4}) (?P<unit>minutes?|hours?|days?)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
FLEXIBLE_WINDOW_MINUTES = 15


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a ``rate(...)`` expression; None when it is not one."""
    match = RATE.match(expression)
    if not match:
        return None
    value, unit = int(match["value"]), match["unit"].rstrip("s")
    # EventBridge insists on the singular for 1 and the plural above it.
    if (value == 1) != (match["unit"] == unit):
        return None
    return value * UNIT_SECONDS[unit]


def schedule_name(project_id: str) -> str:
    return f"drift-{project_id}"[:64]


@dataclass(frozen=True)
class DriftSchedule:
    project_id: str
    expression: str


class DriftSchedules(ABC):
    @abstractmethod
    def get(self, project_id: str) -> DriftSchedule | None: ...

    @abstractmethod
    def put(self, project_id: str, expression: str) -> None:
        """Create or change the project's schedule."""

    @abstractmethod
    def remove(self, project_id: str) -> None:
        """No schedule for the project any more (gone already is fine)."""

    def ensure(self, project_id: str, expression: str) -> bool:
        """The project checked on ``expression`` (``off``: never); True when something changed."""
        current = self.get(project_id)
        if expression == OFF:
            if current is None:
                return False
            self.remove(project_id)
            return True
        if current is not None and current.expression == expression:
            return False
        self.put(project_id, expression)
        return True


class EventBridgeDriftSchedules(DriftSchedules):
    def __init__(self, group: str, target_arn: str, role_arn: str) -> None:
        self.group = group
        self.target_arn = target_arn
        self.role_arn = role_arn
        self.client = aws.scheduler()

    def get(self, project_id: str) -> DriftSchedule | None:
        try:
            found = self.client.get_schedule(GroupName=self.group, Name=schedule_name(project_id))
        except ClientError as exc:
            if aws.error_code(exc) == "ResourceNotFoundException":
                return None
            raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc
        return DriftSchedule(project_id, str(found.get("ScheduleExpression", "")))

    def _definition(self, project_id: str, expression: str) -> dict[str, Any]:
        return {
            "GroupName": self.group,
            "Name": schedule_name(project_id),
            "ScheduleExpression": expression,
            "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": FLEXIBLE_WINDOW_MINUTES},
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps({"projectId": project_id, "trigger": "schedule"}),
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            },
            "State": "ENABLED",
        }

    def put(self, project_id: str, expression: str) -> None:
        definition = self._definition(project_id, expression)
        try:
            try:
                self.client.create_schedule(**definition)
            except ClientError as exc:
                if aws.error_code(exc) != "ConflictException":
                    raise
                self.client.update_schedule(**definition)
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable(WHAT, exc) from exc

    def remove(self, project_id: str) -> None:
        try:
            self.client.delete_schedule(GroupName=self.group, Name=schedule_name(project_id))
        except ClientError as exc:
            if aws.error_code(exc) != "ResourceNotFoundException":
                raise aws.unavailable(WHAT, exc) from exc
        except BotoCoreError as exc:
            raise aws.unavailable(WHAT, exc) from exc


@cache
def drift_schedules(group: str, target_arn: str, role_arn: str) -> DriftSchedules:
    return EventBridgeDriftSchedules(group, target_arn, role_arn)
