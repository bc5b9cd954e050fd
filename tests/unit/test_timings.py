"""Where a job's time went: spans summed per phase, gaps shown as queued or other, never lost."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from core.timings import (
    PhaseClock,
    epoch_ms_of,
    job_timings,
    span,
    summary_line,
)
from core.transitions import job_completed, job_started, job_timed
from functions.logic.jobs import timings_out
from runner.store import build_phase_durations

CREATED = 1_764_000_000_000  # epoch ms


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_a_direct_deploy_adds_up_to_its_wall_time() -> None:
    # Given a job created at 0 whose build was asked for at 400 ms, the runner starting at 1,200
    # ms, and its phases back to back to its end at 9,000 ms
    timeline = [
        span("startUp", CREATED + 400, CREATED + 1_200),
        span("workspace", CREATED + 1_200, CREATED + 1_350),
        span("init", CREATED + 1_350, CREATED + 3_000),
        span("plan", CREATED + 3_000, CREATED + 5_500),
        span("apply", CREATED + 5_500, CREATED + 8_800),
        span("recording", CREATED + 8_800, CREATED + 8_950),
    ]
    # When its timings are taken, ended at 9,000 ms
    timings = job_timings(CREATED, iso(CREATED + 9_000), timeline)
    # Then each phase is its span, queued the 400 ms before the first, and other the 50 ms after
    # the last span that nothing covers; all of it is the 9,000 ms of wall time
    assert timings is not None
    phases = timings.phases
    assert (phases["queued"], phases["startUp"], phases["workspace"]) == (400, 800, 150)
    assert (phases["init"], phases["plan"], phases["apply"], phases["recording"]) == (
        1_650,
        2_500,
        3_300,
        150,
    )
    assert phases["other"] == 50
    assert phases["total"] == 9_000
    assert sum(v for k, v in phases.items() if k != "total") == 9_000


def test_a_gated_job_counts_both_builds_the_review_and_the_wait_for_a_person() -> None:
    # Given a plan build (1 s start-up, 2 s plan), a review and policy check (300 + 200 ms), an
    # approval asked at 4 s and given at 64 s, and an apply build (0.5 s start-up, 3 s apply)
    timeline = [
        span("startUp", CREATED + 0, CREATED + 1_000),
        span("plan", CREATED + 1_000, CREATED + 3_000),
        span("policyAndCost", CREATED + 3_100, CREATED + 3_400),
        span("policyAndCost", CREATED + 3_400, CREATED + 3_600),
        span("startUp", CREATED + 64_200, CREATED + 64_700),
        span("apply", CREATED + 64_700, CREATED + 67_700),
    ]
    approval = {"requestedAt": iso(CREATED + 4_000), "decidedAt": iso(CREATED + 64_000)}
    # When its timings are taken at its end (68 s)
    timings = job_timings(CREATED, iso(CREATED + 68_000), timeline, approval)
    # Then the two start-ups add, the wait is the person's minute, and the 100 + 400 + 200 + 300
    # ms of transitions between them are other
    assert timings is not None
    phases = timings.phases
    assert phases["startUp"] == 1_500
    assert phases["policyAndCost"] == 500
    assert phases["awaitingApproval"] == 60_000
    assert phases["queued"] == 0
    assert phases["other"] == 68_000 - (1_500 + 2_000 + 500 + 60_000 + 3_000)
    assert phases["total"] == 68_000


def test_a_running_job_counts_to_now_and_a_wait_still_open_to_now() -> None:
    # Given a job waiting for approval since 2 s, with a plan build before it
    timeline = [span("startUp", CREATED + 100, CREATED + 500), span("plan", CREATED + 500, CREATED + 1_500)]
    approval = {"requestedAt": iso(CREATED + 2_000)}
    # When its timings are taken at 10 s, with no end yet
    timings = job_timings(CREATED, None, timeline, approval, now=CREATED + 10_000)
    # Then the wait so far is 8 s and the total is to now
    assert timings is not None
    assert timings.phases["awaitingApproval"] == 8_000
    assert timings.phases["total"] == 10_000
    assert timings.phases["queued"] == 100


def test_a_job_that_never_ran_was_queued_all_along() -> None:
    # Given a job cancelled while pending, 2.5 s after it was created (no build, no span)
    # When its timings are taken
    timings = job_timings(iso(CREATED), iso(CREATED + 2_500), None)
    # Then all of it was queue
    assert timings is not None
    assert timings.phases["queued"] == 2_500
    assert timings.phases["other"] == 0


def test_spans_from_dynamodb_and_the_start_up_detail_are_read() -> None:
    # Given spans as DynamoDB returns them (Decimal numbers), a malformed one, one of an unknown
    # phase, and the zero-length start-up detail of CodeBuild's own phases
    timeline = [
        {"phase": "init", "start": Decimal(CREATED + 10), "ms": Decimal(990)},
        {"phase": "init", "start": "soon"},
        {"phase": "coffee", "start": CREATED, "ms": 5},
        {
            "phase": "startUp",
            "start": Decimal(CREATED + 1_000),
            "ms": 0,
            "detail": {"QUEUED": Decimal(1_200)},
        },
    ]
    # When its timings are taken
    timings = job_timings(Decimal(CREATED), iso(CREATED + 1_000), timeline)
    # Then the good span counts, the others are ignored, and the detail is kept apart
    assert timings is not None
    assert timings.phases["init"] == 990
    assert timings.phases["queued"] == 10
    assert timings.phases["startUp"] == 0
    assert timings.start_up_detail == {"QUEUED": 1_200}
    with pytest.raises(ValueError, match="not a timing phase"):
        span("coffee", 0, 1)


def test_the_answer_shows_timings_of_a_record_and_none_without_a_creation_time() -> None:
    # Given a job record with spans, and one from before timings with no times at all
    item = {
        "createdAt": Decimal(CREATED),
        "endTime": iso(CREATED + 3_000),
        "timeline": [{"phase": "validate", "start": Decimal(CREATED + 1_000), "ms": Decimal(1_500)}],
    }
    # When the answer's timings are made
    out = timings_out(item)
    # Then the fields are the API's (validate by its name), and an old record has none
    assert out is not None
    dumped = out.model_dump()
    assert dumped["validate"] == 1_500
    assert dumped["queued"] == 1_000
    assert dumped["other"] == 500
    assert timings_out({"status": "completed"}) is None


def test_the_phase_clock_closes_each_phase_when_the_next_begins() -> None:
    # Given a clock through workspace, init and plan
    clock = PhaseClock()
    clock.begin("workspace", at=100)
    clock.begin("init", at=250)
    clock.begin("plan", at=1_250)
    assert clock.current == "plan"
    # (a look at 2,000 shows the plan so far and closes nothing)
    assert clock.peek(2_000)[-1] == {"phase": "plan", "start": 1_250, "ms": 750}
    # When it finishes at 4,000
    spans = clock.finish(at=4_000)
    # Then each span ends where the next began, and nothing is returned twice
    assert [(s["phase"], s["start"], s["ms"]) for s in spans] == [
        ("workspace", 100, 150),
        ("init", 250, 1_000),
        ("plan", 1_250, 2_750),
    ]
    assert clock.finish(at=5_000) == []
    assert summary_line(spans) == "timings: workspace 0.1s, init 1.0s, plan 2.8s (this build 3.9s)"


def test_spans_are_appended_by_the_writes_that_carry_them() -> None:
    # Given a start with its start-up span, a completion with the rest, and a workflow step's span
    started = job_started("j", "t", "b", [span("startUp", 1, 5)]).arguments()
    completed = job_completed("j", "t", "done", "", "{}", timeline=[span("apply", 5, 9)]).arguments()
    step = job_timed("j", [span("policyAndCost", 9, 10)]).arguments()
    plain = job_completed("j", "t", "done", "", "{}").arguments()
    # Then each appends to the timeline (made if absent); a write without spans leaves it alone
    for arguments in (started, completed, step):
        assert "list_append(if_not_exists(" in arguments["UpdateExpression"]
        assert "timeline" in arguments["ExpressionAttributeNames"].values()
    assert "timeline" not in plain["ExpressionAttributeNames"].values()
    assert step["ConditionExpression"].startswith("attribute_exists(")


def test_codebuild_phases_become_milliseconds_and_unfinished_ones_are_left_out() -> None:
    # Given CodeBuild's phases as BatchGetBuilds gives them, the build phase still running
    at = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
    phases = [
        {"phaseType": "SUBMITTED", "startTime": at, "endTime": at.replace(second=1)},
        {"phaseType": "PROVISIONING", "startTime": at.replace(second=1), "endTime": at.replace(second=31)},
        {
            "phaseType": "INSTALL",
            "startTime": at.replace(second=31),
            "endTime": at.replace(second=45, microsecond=500_000),
        },
        {"phaseType": "BUILD", "startTime": at.replace(second=45)},
    ]
    # Then each finished phase is its milliseconds
    assert build_phase_durations(phases) == {"SUBMITTED": 1_000, "PROVISIONING": 30_000, "INSTALL": 14_500}
    assert epoch_ms_of("not a time") is None
