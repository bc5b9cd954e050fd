"""``provisioner status`` says why a job waits to build, from the answer's ``pendingReason``."""

from __future__ import annotations

from tests.cli.fake_api import DEPLOY_JOB, FakeApi, job
from tests.cli.helpers import invoke

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True


def test_status_shows_why_a_pending_job_waits(fake: FakeApi) -> None:
    # Given a job held back by the install's build cap
    reason = "waiting for a build slot (3 of 3 in use)"
    fake.statuses[DEPLOY_JOB] = [job(status="pending", phase="queued", progress=0, pendingReason=reason)]
    # When its status is shown
    run = invoke("status", DEPLOY_JOB, endpoint=fake.url)
    # Then a row says what it waits for
    assert run.code == 0, run.out
    row = next(line for line in run.out.splitlines() if line.startswith("Waiting"))
    assert " ".join(row.split()[1:]) == reason


def test_a_job_that_waits_for_nothing_shows_no_row(fake: FakeApi) -> None:
    fake.statuses[DEPLOY_JOB] = [job(status="processing", phase="plan", progress=40)]
    run = invoke("status", DEPLOY_JOB, endpoint=fake.url)
    assert run.code == 0, run.out
    assert not any(line.startswith("Waiting") for line in run.out.splitlines())
