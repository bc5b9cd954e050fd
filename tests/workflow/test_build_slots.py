"""The build cap through the real ASL, run by moto with the real runner: with one slot, a second
job waits as pending (saying why) until the first build ends; a cancelled build's slot comes back;
a gated job waiting for approval holds none."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.dal.build_slots import POOL_KEY
from localmode.services import LocalServices
from tests.support.api import Api, clear_environment_caches
from tests.workflow.test_workflow import SLOW, deploy, exited_states, history, wait_execution

pytestmark = pytest.mark.terraform

QUICK = 'resource "aws_s3_bucket" "b" {\n  bucket = "{project}-bucket"\n}\n'
ONE_SLOT = "waiting for a build slot (1 of 1 in use)"


@pytest.fixture
def one_slot(api: Api, services: LocalServices) -> Iterator[None]:
    """A cap of 1 (the steps function reads it at each call), on an empty pool."""
    locks = api.emulated.table(api.emulated.resources.lock_table)
    locks.delete_item(Key={"LockID": POOL_KEY})
    os.environ["MAX_CONCURRENT_BUILDS"] = "1"
    clear_environment_caches()
    yield
    os.environ.pop("MAX_CONCURRENT_BUILDS", None)
    clear_environment_caches()
    locks.delete_item(Key={"LockID": POOL_KEY})


def pool(api: Api) -> dict[str, Any]:
    item = api.emulated.table(api.emulated.resources.lock_table).get_item(
        Key={"LockID": POOL_KEY}, ConsistentRead=True
    )
    return dict(item.get("Item") or {"holders": {}, "waiting": {}})


def until(condition: Callable[[], bool], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.3)


def status(api: Api, job_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/deploy/status/{job_id}").json())


def test_with_one_slot_the_second_job_waits_pending_with_the_reason_then_runs(
    api: Api, services: LocalServices, one_slot: None
) -> None:
    # Given a slow deploy holding the only slot
    first = deploy(api, "wf-slot-first", SLOW.replace("{project}", "wf-slot-first").replace("{seconds}", "8"))
    until(lambda: first in pool(api)["holders"])

    # When another project's deploy arrives
    second = deploy(api, "wf-slot-second", QUICK.replace("{project}", "wf-slot-second"))

    # Then it waits as pending, its status and the history saying why
    until(lambda: status(api, second).get("pendingReason") == ONE_SLOT)
    waiting = status(api, second)
    assert waiting["status"] == "pending"
    assert waiting["result"]["message"] == f"Job is {ONE_SLOT}"
    listed = api.get("/api/deploy/jobs", query="projectId=wf-slot-second").json()["jobs"]
    assert [(job["jobId"], job["pendingReason"]) for job in listed] == [(second, ONE_SLOT)]
    assert status(api, first)["status"] == "processing"

    # and runs once the first build has ended
    wait_execution(api, first, "SUCCEEDED")
    wait_execution(api, second, "SUCCEEDED")
    done = status(api, second)
    assert done["status"] == "completed" and done["pendingReason"] is None
    states = exited_states(history(api, second))
    assert states.index("Wait for a build slot") < states.index("Mark the job as processing")
    assert pool(api)["holders"] == {} and pool(api)["waiting"] == {}


def test_a_cancelled_builds_slot_is_freed_for_the_next_job(
    api: Api, services: LocalServices, one_slot: None
) -> None:
    # Given a deploy whose build holds the only slot, and one waiting for it
    first = deploy(
        api, "wf-slot-cancel", SLOW.replace("{project}", "wf-slot-cancel").replace("{seconds}", "60")
    )
    until(lambda: "null_resource.slow: Creating" in api.emulated.job(first).get("logTail", ""))
    second = deploy(api, "wf-slot-after", QUICK.replace("{project}", "wf-slot-after"))
    until(lambda: status(api, second).get("pendingReason") == ONE_SLOT)

    # When the first is cancelled: its execution stops before it can hand the slot back
    assert api.post(f"/api/deploy/cancel/{first}").status == 202
    wait_execution(api, first, "ABORTED")
    until(lambda: api.emulated.job(first)["status"] == "failed")
    assert first in pool(api)["holders"]

    # Then the waiting job takes the slot of the ended job and runs
    wait_execution(api, second, "SUCCEEDED")
    assert status(api, second)["status"] == "completed"
    assert pool(api)["holders"] == {}


def test_a_gated_job_waiting_for_approval_holds_no_slot(
    api: Api, services: LocalServices, one_slot: None
) -> None:
    # Given a gated deploy whose plan waits for a person
    gated = deploy(api, "wf-slot-gated", QUICK.replace("{project}", "wf-slot-gated"), approval="required")
    until(lambda: status(api, gated).get("phase") == "awaiting_approval")

    # Then it holds no slot, and another job builds meanwhile
    assert gated not in pool(api)["holders"]
    other = deploy(api, "wf-slot-other", QUICK.replace("{project}", "wf-slot-other"))
    wait_execution(api, other, "SUCCEEDED")

    # When it is approved, its apply takes a slot again and hands it back
    approved = api.post(
        f"/api/deploy/approve/{gated}", {"comment": "ok"}, headers={"X-Local-User": "reviewer"}
    )
    assert approved.status == 202, approved.body
    wait_execution(api, gated, "SUCCEEDED")
    states = exited_states(history(api, gated))
    for before, after in (
        ("Plan in CodeBuild", "Free the build slot after the plan"),
        ("Free the build slot after the plan", "Wait for approval"),
        ("Wait for approval", "Take a build slot for the apply"),
        ("Take a build slot for the apply", "Apply the plan in CodeBuild"),
        ("Apply the plan in CodeBuild", "Free the build slot"),
    ):
        assert states.index(before) < states.index(after), (before, after)
    assert pool(api)["holders"] == {}
