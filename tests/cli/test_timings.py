"""``provisioner status`` shows where a job's time went, from the answer's ``timings``."""

from __future__ import annotations

from tests.cli.fake_api import DEPLOY_JOB, FakeApi, job
from tests.cli.helpers import invoke

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

TIMINGS = {
    "queued": 400,
    "startUp": 31_200,
    "workspace": 150,
    "init": 2_040,
    "validate": 0,
    "plan": 2_500,
    "policyAndCost": 30,
    "awaitingApproval": 0,
    "apply": 3_300,
    "destroy": 0,
    "recording": 120,
    "other": 60,
    "total": 39_800,
    "startUpDetail": {"PROVISIONING": 24_000, "INSTALL": 6_500},
}


def test_status_shows_each_phase_that_took_time_and_the_start_up_detail(fake: FakeApi) -> None:
    # Given a completed job whose answer carries its timings
    fake.statuses[DEPLOY_JOB] = [job(status="completed", phase="done", progress=100, timings=TIMINGS)]
    # When its status is shown
    run = invoke("status", DEPLOY_JOB, endpoint=fake.url)
    # Then one row lists the phases in order with their seconds; the ones under 50 ms are left out
    assert run.code == 0, run.out
    row = next(line for line in run.out.splitlines() if line.startswith("Timings"))
    flat = " ".join(run.out.split("Timings", 1)[1].split())
    assert flat.startswith(
        "total 39.8s: queued 0.4s, startUp 31.2s, workspace 0.1s, init 2.0s, plan 2.5s, apply 3.3s, recording 0.1s, other 0.1s"
    ), row
    assert "validate" not in flat.split("(")[0] and "policyAndCost" not in flat
    assert "(start-up: provisioning 24.0s, install 6.5s)" in flat


def test_an_answer_without_timings_shows_no_row(fake: FakeApi) -> None:
    # Given a service from before timings
    fake.statuses[DEPLOY_JOB] = [job(status="completed", phase="done", progress=100)]
    # Then the status has no timings row, and nothing fails
    run = invoke("status", DEPLOY_JOB, endpoint=fake.url)
    assert run.code == 0 and "Timings" not in run.out
