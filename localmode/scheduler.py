"""EventBridge Scheduler's stand-in: fires the drift schedules kept in the emulator.

moto stores schedules but never runs them. This thread reads the install's schedule group as
the real service would, and when one is due calls the drift function's handler in this process
with the schedule's own input. Only ``rate(...)`` expressions exist (the API accepts no other);
``LOCAL_SCHEDULER_MINUTE_SECONDS`` shortens a schedule's minute for tests and demos.

On start it also puts back the schedule of every deployed project: the emulator's scheduler is
not part of what local mode saves, while the projects are.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.dal.schedules import DriftSchedules, rate_seconds
from functions.logic.drift import CHECKABLE, schedule_of

Fire = Callable[[dict[str, Any]], dict[str, Any]]


class LocalScheduler:
    def __init__(
        self,
        client: Any,
        group: str,
        fire: Fire,
        *,
        minute_seconds: float = 60.0,
        tick_seconds: float = 1.0,
        log: Callable[[str], None] = print,
    ) -> None:
        self.client = client
        self.group = group
        self.fire = fire
        self.scale = minute_seconds / 60.0
        self.tick = tick_seconds
        self.log = log
        # Schedule name -> (expression, monotonic time it is next due).
        self._due: dict[str, tuple[str, float]] = {}
        # Schedule name -> (its LastModificationDate, expression, input): a schedule is read
        # (GetSchedule) only when new or changed, not every tick (one request per project a second).
        self._read: dict[str, tuple[Any, str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.run_due(time.monotonic())
            except (ClientError, BotoCoreError) as exc:  # the emulator may be restarting
                self.log(f"sched  pass failed: {type(exc).__name__}")

    def _schedules(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.client.list_schedules(GroupName=self.group, **({"NextToken": token} if token else {}))
            found += page.get("Schedules", [])
            token = page.get("NextToken")
            if not token:
                return found

    def _definition(self, summary: dict[str, Any]) -> tuple[str, str]:
        """(expression, input) of a listed schedule, read again only if it changed since."""
        name = str(summary["Name"])
        modified = summary.get("LastModificationDate")
        known = self._read.get(name)
        if known is not None and modified is not None and known[0] == modified:
            return known[1], known[2]
        schedule = self.client.get_schedule(GroupName=self.group, Name=name)
        expression = str(schedule.get("ScheduleExpression", ""))
        payload = str((schedule.get("Target") or {}).get("Input") or "{}")
        self._read[name] = (modified, expression, payload)
        return expression, payload

    def run_due(self, now: float) -> list[str]:
        """Fire every schedule due at ``now``; returns the names fired. A schedule seen for the
        first time (or changed) is due one interval from now, as a new EventBridge rate is."""
        fired = []
        seen = set()
        for summary in self._schedules():
            name = str(summary["Name"])
            seen.add(name)
            if summary.get("State", "ENABLED") != "ENABLED":
                continue
            expression, payload = self._definition(summary)
            interval = rate_seconds(expression)
            if interval is None:
                continue
            known = self._due.get(name)
            if known is None or known[0] != expression:
                self._due[name] = (expression, now + interval * self.scale)
                continue
            if now < known[1]:
                continue
            self._due[name] = (expression, now + interval * self.scale)
            fired.append(name)
            try:
                result = self.fire(json.loads(payload))
            except Exception as exc:  # one project's failure never stops the others' schedules
                self.log(f"sched  {name} failed: {type(exc).__name__}: {exc}")
                continue
            self.log(f"sched  {name}: {result}")
        for gone in set(self._due) - seen:
            del self._due[gone]
        for gone in set(self._read) - seen:
            del self._read[gone]
        return fired


def restore_schedules(schedules: DriftSchedules, projects: list[dict[str, Any]], default: str) -> int:
    """The schedule of every deployed project, as its settings say; returns how many were set."""
    restored = 0
    for project in projects:
        if project.get("deploymentStatus") in CHECKABLE:
            restored += int(schedules.ensure(str(project["projectId"]), schedule_of(project, default)))
    return restored
