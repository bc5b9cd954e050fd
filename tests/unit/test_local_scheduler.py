"""Local mode's EventBridge Scheduler stand-in (localmode/scheduler.py) fires each schedule on its
rate, and reads a schedule's definition only when it is new or changed, not at every tick."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from localmode.scheduler import LocalScheduler

GROUP = "drift"


class FakeScheduler:
    """The two calls the stand-in makes, over schedules kept here; counts the reads."""

    def __init__(self) -> None:
        self.schedules: dict[str, dict[str, Any]] = {}
        self.reads: list[str] = []
        self._clock = datetime(2026, 1, 1, tzinfo=UTC)

    def put(self, project: str, expression: str) -> None:
        self._clock += timedelta(seconds=1)
        self.schedules[f"drift-{project}"] = {
            "Name": f"drift-{project}",
            "State": "ENABLED",
            "ScheduleExpression": expression,
            "Target": {"Input": json.dumps({"projectId": project})},
            "LastModificationDate": self._clock,
        }

    def list_schedules(self, GroupName: str, **_: Any) -> dict[str, Any]:
        assert GroupName == GROUP
        keep = ("Name", "State", "LastModificationDate")
        return {"Schedules": [{k: s[k] for k in keep} for s in self.schedules.values()]}

    def get_schedule(self, GroupName: str, Name: str) -> dict[str, Any]:
        assert GroupName == GROUP
        self.reads.append(Name)
        return dict(self.schedules[Name])


def _scheduler(client: FakeScheduler, fired: list[dict[str, Any]]) -> LocalScheduler:
    def fire(payload: dict[str, Any]) -> dict[str, Any]:
        fired.append(payload)
        return {}

    return LocalScheduler(client, GROUP, fire, log=lambda _line: None)


def test_a_schedule_is_read_once_and_fires_on_its_rate() -> None:
    client, fired = FakeScheduler(), list[dict[str, Any]]()
    scheduler = _scheduler(client, fired)
    client.put("a", "rate(1 minute)")
    assert scheduler.run_due(0.0) == []  # first seen: due one interval later
    for second in range(1, 60):
        assert scheduler.run_due(float(second)) == []
    assert scheduler.run_due(60.0) == ["drift-a"]
    assert fired == [{"projectId": "a"}]
    # sixty-one ticks, one read
    assert client.reads == ["drift-a"]


def test_a_changed_schedule_is_read_again_and_restarts_its_interval() -> None:
    client, fired = FakeScheduler(), list[dict[str, Any]]()
    scheduler = _scheduler(client, fired)
    client.put("a", "rate(1 minute)")
    scheduler.run_due(0.0)
    client.put("a", "rate(2 minutes)")
    assert scheduler.run_due(30.0) == []
    assert client.reads == ["drift-a", "drift-a"]
    assert scheduler.run_due(120.0) == []
    assert scheduler.run_due(150.0) == ["drift-a"]
    assert len(client.reads) == 2


def test_a_removed_schedule_is_forgotten() -> None:
    client, fired = FakeScheduler(), list[dict[str, Any]]()
    scheduler = _scheduler(client, fired)
    client.put("a", "rate(1 minute)")
    scheduler.run_due(0.0)
    del client.schedules["drift-a"]
    assert scheduler.run_due(60.0) == []
    client.put("a", "rate(1 minute)")
    scheduler.run_due(61.0)  # back: read again, due a minute from now
    assert client.reads == ["drift-a", "drift-a"]
    assert scheduler.run_due(120.0) == []
    assert scheduler.run_due(121.0) == ["drift-a"]
