"""plan → review → apply from the command line and the client, against a fake of the contract in the
test's process (tests.cli.fake_api): the requests sent, what is printed where, and the exit codes,
terraform's --detailed-exitcode among them; the prompt on a terminal and the hints without one."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from provisioner.cli import app, watch
from provisioner.client import ApiError, NotAwaitingApproval, PlanNotReady, ProvisionerClient, StalePlan
from tests.cli import fake_api
from tests.cli.fake_api import (
    DEPLOY_JOB,
    OTHER_JOB,
    PLAN_JOB,
    PROJECT,
    FakeApi,
    Request,
    awaiting,
    job,
    plan_document,
    queued,
)
from tests.cli.helpers import Run, invoke, write_tree

# The fake API runs in this process: the fast lane runs these (tests/conftest.py).
IN_PROCESS = True

BUCKET_TF = 'resource "aws_s3_bucket" "assets" { bucket = "demo-assets" }\n'
STALE = {
    "error": "stale_plan",
    "message": "the plan no longer matches the project",
    "reasons": ["the state moved since the plan (serial 3 → 4)", "the code changed since the plan"],
}
ACCEPTED = {"jobId": DEPLOY_JOB, "status": "accepted", "message": "Infrastructure deployment started"}


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "infra", {"main.tf": BUCKET_TF})


def cli(fake: FakeApi, *argv: str) -> Run:
    return invoke(*argv, endpoint=fake.url)


def planned(fake: FakeApi, *, changes: bool = True) -> None:
    """A plan job that plans, then completes, and its plan document."""
    fake.route(
        "POST",
        "/api/deploy/plan",
        (202, {"jobId": PLAN_JOB, "status": "accepted", "message": "Plan started"}),
    )
    fake.script(
        PLAN_JOB,
        job(PLAN_JOB, "pending", "queued", 0, action="plan"),
        job(PLAN_JOB, "processing", "plan", 50, action="plan"),
        job(PLAN_JOB, "completed", "done", 100, action="plan"),
    )
    fake.route("GET", f"/api/deploy/plan/{PLAN_JOB}", (200, plan_document(changes=changes)))


# --- the client ---------------------------------------------------------------------------------


def test_the_client_sends_each_route_its_body(fake: FakeApi) -> None:
    # Given a service that accepts everything
    for path in ("/api/deploy", "/api/deploy/destroy", f"/api/deploy/apply/{PLAN_JOB}"):
        fake.route("POST", path, (202, {**ACCEPTED, "queuePosition": 1, "waitingFor": OTHER_JOB}))
    fake.route("POST", "/api/deploy/plan", (202, {"jobId": PLAN_JOB, "status": "accepted", "message": "ok"}))
    decided = {"jobId": DEPLOY_JOB, "status": "processing", "message": "Approved"}
    fake.route("POST", f"/api/deploy/approve/{DEPLOY_JOB}", (202, decided))
    fake.route("POST", f"/api/deploy/discard/{DEPLOY_JOB}", (200, {**decided, "status": "failed"}))
    client = ProvisionerClient(fake.url)

    # When every new call is made
    accepted = client.deploy(
        PROJECT, {"main.tf": BUCKET_TF}, {"x": 1}, approval="required", when_busy="reject", supersede=True
    )
    client.deploy(PROJECT, {"main.tf": BUCKET_TF})
    client.destroy(PROJECT, approval="auto", when_busy="queue", supersede=False)
    plan = client.plan(PROJECT, {"main.tf": BUCKET_TF}, {"x": 1})
    client.apply(PLAN_JOB)
    client.apply(PLAN_JOB, when_busy="reject", supersede=True)
    approved = client.approve(DEPLOY_JOB, "looks right")
    discarded = client.discard(DEPLOY_JOB)

    # Then the bodies are the contract's, options left out when not given
    files = {"main.tf": BUCKET_TF}
    assert fake.sent("POST", "/api/deploy") == [
        {
            "projectId": PROJECT,
            "files": files,
            "variables": {"x": 1},
            "approval": "required",
            "whenBusy": "reject",
            "supersede": True,
        },
        {"projectId": PROJECT, "files": files},
    ]
    assert fake.sent("POST", "/api/deploy/destroy") == [
        {"projectId": PROJECT, "approval": "auto", "whenBusy": "queue", "supersede": False}
    ]
    assert fake.sent("POST", "/api/deploy/plan") == [
        {"projectId": PROJECT, "files": files, "variables": {"x": 1}}
    ]
    assert fake.sent("POST", f"/api/deploy/apply/{PLAN_JOB}") == [
        {},
        {"whenBusy": "reject", "supersede": True},
    ]
    assert fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}") == [{"comment": "looks right"}]
    assert fake.sent("POST", f"/api/deploy/discard/{DEPLOY_JOB}") == [{}]
    # And the answers are typed, the queue's place included
    assert (accepted.queuePosition, accepted.waitingFor) == (1, OTHER_JOB)
    assert plan.jobId == PLAN_JOB and plan.queuePosition is None
    assert approved.status.value == "processing" and discarded.status.value == "failed"
    # And what starts a job carries an Idempotency-Key, so that a retry of it is safe
    starts = [
        r for r in fake.requests if r.path in ("/api/deploy", "/api/deploy/destroy", "/api/deploy/plan")
    ]
    assert len(starts) == 4 and all(r.headers.get("Idempotency-Key") for r in starts)


def test_the_client_raises_the_reviews_errors_with_their_reasons(fake: FakeApi) -> None:
    fake.route("POST", f"/api/deploy/apply/{PLAN_JOB}", (409, STALE))
    fake.route(
        "GET", f"/api/deploy/plan/{PLAN_JOB}", (409, {"error": "plan_not_ready", "message": "planning"})
    )
    fake.route(
        "POST",
        f"/api/deploy/approve/{DEPLOY_JOB}",
        (409, {"error": "not_awaiting_approval", "message": "the job is not waiting"}),
    )
    client = ProvisionerClient(fake.url)

    with pytest.raises(StalePlan) as stale:
        client.apply(PLAN_JOB)
    assert stale.value.status == 409 and stale.value.reasons == STALE["reasons"]
    with pytest.raises(PlanNotReady):
        client.get_plan(PLAN_JOB)
    with pytest.raises(NotAwaitingApproval):
        client.approve(DEPLOY_JOB)
    # None of these is retried, even on a 503: a second apply or decision would be refused
    fake.requests.clear()
    for path in (
        f"/api/deploy/apply/{PLAN_JOB}",
        f"/api/deploy/approve/{DEPLOY_JOB}",
        f"/api/deploy/discard/{DEPLOY_JOB}",
    ):
        fake.route("POST", path, (503, {"error": "unavailable", "message": "busy"}))
    for call in (
        lambda: client.apply(PLAN_JOB),
        lambda: client.approve(DEPLOY_JOB),
        lambda: client.discard(DEPLOY_JOB),
    ):
        with pytest.raises(ApiError):
            call()
    assert len(fake.requests) == 3


def test_the_client_reads_the_new_status_and_plan_fields(fake: FakeApi) -> None:
    fake.script(DEPLOY_JOB, awaiting())
    fake.route("GET", f"/api/deploy/plan/{DEPLOY_JOB}", (200, plan_document(DEPLOY_JOB, action="deploy")))
    client = ProvisionerClient(fake.url)

    status = client.status(DEPLOY_JOB)
    assert status.awaiting_approval and not status.queued
    assert status.approval is not None and status.approval.state == "waiting"
    assert status.actions is not None and status.actions.canApprove
    assert status.plan is not None and status.plan.summary.replace == 1
    assert status.plan.cost is not None and status.plan.cost.delta == 2.5

    # Counts the service leaves null read as 0
    fake.script(
        DEPLOY_JOB,
        awaiting()
        | {"plan": {"summary": {"add": 1, "change": 0, "destroy": 0, "replace": None, "outputs": None}}},
    )
    assert client.status(DEPLOY_JOB).plan.summary.replace == 0  # type: ignore[union-attr]

    plan = client.get_plan(DEPLOY_JOB)
    assert plan.summary.changes and [c.action for c in plan.resourceChanges] == [
        "create",
        "update",
        "replace",
    ]
    assert plan.resourceChanges[2].attributes[0].forcesReplacement
    assert plan.basis is not None and plan.basis.stateSerial == 3

    # And a wait can stop where a person decides
    assert client.wait(DEPLOY_JOB, poll=0.01, until=lambda j: j.awaiting_approval).awaiting_approval


# --- provisioner plan ---------------------------------------------------------------------------


def test_plan_follows_the_job_and_prints_the_plan_as_tables(fake: FakeApi, code: Path) -> None:
    planned(fake)

    run = cli(fake, "plan", str(code), "-p", PROJECT, "--var", "env=prod")

    assert run.code == 0, (run.out, run.err)
    assert fake.sent("POST", "/api/deploy/plan") == [
        {"projectId": PROJECT, "files": {"main.tf": BUCKET_TF}, "variables": {"env": "prod"}}
    ]
    # The progress went by on stderr, as deploy --wait's does
    assert f"{PLAN_JOB}: processing plan 50%" in run.err and f"{PLAN_JOB}: completed done 100%" in run.err
    out = run.out
    # The summary line, then each change with terraform's symbol
    assert "Plan: 1 to add, 1 to change, 0 to destroy (1 replaced); 1 output(s) to change." in out
    table = [line.split("│") for line in out.splitlines() if "│" in line]
    rows = {cells[2].strip(): cells[1].strip() for cells in table if len(cells) > 3}
    assert rows["aws_s3_bucket.assets"] == "+"
    assert rows["module.logs.aws_s3_bucket.this"] == "~"
    assert rows["aws_db_instance.main"] == "-/+"
    assert "replace_because_cannot_update" in out
    # Each resource's attributes
    assert '+ bucket = "demo-assets"' in out and "+ arn = (known after apply)" in out
    assert '~ tags.team: "web" → "platform"' in out
    assert '~ engine_version: "15.4" → "16.1"  # forces replacement' in out
    assert "~ password: (sensitive value) → (sensitive value)" in out
    # The outputs and the cost, with how much of it is priced
    assert "Output changes" in out and '+ assets = "demo-assets"' in out
    assert "Monthly cost in USD: 10.00 → 12.50 (+2.50)" in out
    assert "Priced 2 of 3 resource(s); 1 unpriced" in out
    # And the job to apply, on stdout with the tables
    assert f"Plan job: {PLAN_JOB}" in out and f"provisioner apply {PLAN_JOB}" in out


@pytest.mark.parametrize(("changes", "code_expected"), [(True, 2), (False, 0)])
def test_detailed_exitcode_is_terraforms(
    fake: FakeApi, code: Path, changes: bool, code_expected: int
) -> None:
    planned(fake, changes=changes)
    run = cli(fake, "plan", str(code), "-p", PROJECT, "--detailed-exitcode")
    assert run.code == code_expected, (run.out, run.err)
    if not changes:
        assert "No changes." in run.out and "provisioner apply" not in run.out
    # Without the flag a plan with changes is a success like any other
    planned(fake, changes=changes)
    assert cli(fake, "plan", str(code), "-p", PROJECT).code == 0


def test_detailed_exitcode_makes_every_error_1(fake: FakeApi, code: Path, tmp_path: Path) -> None:
    # A plan job that fails: 1 (as without the flag)
    planned(fake)
    fake.script(PLAN_JOB, job(PLAN_JOB, "failed", "plan", 60, action="plan", error="terraform plan failed"))
    failed = cli(fake, "plan", str(code), "-p", PROJECT, "--detailed-exitcode")
    assert failed.code == 1 and "terraform plan failed" in failed.out
    # Errors that are usually 2 (a refused request, code that cannot be sent, bad arguments) and 3
    # (nobody answers) are all 1: 2 would read as "changes"
    fake.route("POST", "/api/deploy/plan", (400, {"error": "bad_request", "message": "no"}))
    assert cli(fake, "plan", str(code), "-p", PROJECT).code == 2
    assert cli(fake, "plan", str(code), "-p", PROJECT, "--detailed-exitcode").code == 1
    missing = str(tmp_path / "missing")
    assert cli(fake, "plan", missing, "-p", PROJECT, "--detailed-exitcode").code == 1
    assert cli(fake, "plan", str(code), "--detailed-exitcode").code == 1  # no --project
    assert cli(fake, "plan", str(code), "--detailed-exitcode", "--format", "yaml", "-p", PROJECT).code == 1
    nowhere = invoke("plan", str(code), "-p", PROJECT, "--detailed-exitcode", endpoint="http://127.0.0.1:9")
    assert nowhere.code == 1 and "Cannot reach" in nowhere.err
    assert invoke("plan", str(code), "-p", PROJECT, endpoint="http://127.0.0.1:9").code == 3


def test_plan_markdown_is_the_services_verbatim_on_stdout(fake: FakeApi, code: Path) -> None:
    planned(fake)
    run = cli(fake, "plan", str(code), "-p", PROJECT, "--format", "markdown")
    assert run.code == 0, run.err
    assert run.out == plan_document()["markdown"]
    assert f"Plan job: {PLAN_JOB}" in run.err and f"provisioner apply {PLAN_JOB}" in run.err


def test_plan_json_is_the_plan_document_on_stdout(fake: FakeApi, code: Path) -> None:
    planned(fake)
    run = cli(fake, "plan", str(code), "-p", PROJECT, "--format", "json", "--detailed-exitcode")
    assert run.code == 2, run.err
    assert run.json() == plan_document()
    assert f"Plan job: {PLAN_JOB}" in run.err
    # --json means the same
    planned(fake)
    assert cli(fake, "plan", str(code), "-p", PROJECT, "--json").json() == plan_document()


# --- provisioner apply --------------------------------------------------------------------------


def test_apply_starts_a_deploy_of_the_plan(fake: FakeApi) -> None:
    path = f"/api/deploy/apply/{PLAN_JOB}"
    fake.route("POST", path, (202, ACCEPTED))

    run = cli(fake, "apply", PLAN_JOB)
    assert run.code == 0, run.err
    assert f"job {DEPLOY_JOB}" in run.out
    assert cli(fake, "apply", PLAN_JOB, "--when-busy", "reject", "--supersede").code == 0
    assert fake.sent("POST", path) == [{}, {"whenBusy": "reject", "supersede": True}]


def test_apply_wait_shows_the_queue_then_follows_the_deploy(fake: FakeApi) -> None:
    fake.route(
        "POST",
        f"/api/deploy/apply/{PLAN_JOB}",
        (202, {**ACCEPTED, "queuePosition": 2, "waitingFor": OTHER_JOB}),
    )
    fake.script(
        DEPLOY_JOB,
        queued(position=2),
        queued(position=1),
        job(status="processing", phase="apply", progress=70),
        job(status="completed", phase="done", progress=100),
    )

    run = cli(fake, "apply", PLAN_JOB, "--wait")

    assert run.code == 0, (run.out, run.err)
    assert f"queued: position 2, waiting for {OTHER_JOB}" in run.err
    assert f"{DEPLOY_JOB}: queued: position 1, waiting for {OTHER_JOB}" in run.err
    assert f"{DEPLOY_JOB}: completed done 100%" in run.err
    assert "Infrastructure deployed successfully" in run.out


def test_a_stale_plan_prints_each_reason_and_exits_1(fake: FakeApi) -> None:
    fake.route("POST", f"/api/deploy/apply/{PLAN_JOB}", (409, STALE))

    run = cli(fake, "apply", PLAN_JOB, "--wait")

    assert run.code == 1
    assert "error (409 stale_plan): the plan no longer matches the project" in run.err
    assert "  - the state moved since the plan (serial 3 → 4)" in run.err
    assert "  - the code changed since the plan" in run.err
    assert "plan again" in run.err
    # With --json the API's body, as for every error
    assert cli(fake, "apply", PLAN_JOB, "--json").json() == STALE


# --- deploy / destroy with approval ---------------------------------------------------------------


def gated(fake: FakeApi, *, decided_by_someone_else: bool = False) -> None:
    """A deploy queued behind another job, that plans and then waits for approval; approving it
    applies it, discarding it ends it."""
    fake.route("POST", "/api/deploy", (202, {**ACCEPTED, "queuePosition": 1, "waitingFor": OTHER_JOB}))
    fake.route("GET", f"/api/deploy/plan/{DEPLOY_JOB}", (200, plan_document(DEPLOY_JOB, action="deploy")))
    waiting = [awaiting()] * (3 if decided_by_someone_else else 1)
    later = [
        job(status="processing", phase="apply", progress=80),
        job(status="completed", phase="done", progress=100),
    ]
    fake.script(
        DEPLOY_JOB,
        queued(position=1),
        job(phase="plan"),
        *waiting,
        *(later if decided_by_someone_else else []),
    )

    def approve(_: Request) -> tuple[int, dict[str, str]]:
        fake.script(DEPLOY_JOB, *later)
        return 202, {"jobId": DEPLOY_JOB, "status": "processing", "message": "Plan approved"}

    def discard(_: Request) -> tuple[int, dict[str, str]]:
        fake.script(DEPLOY_JOB, job(status="failed", phase="discarded", progress=50, error="plan discarded"))
        return 200, {"jobId": DEPLOY_JOB, "status": "failed", "message": "Plan discarded"}

    fake.route("POST", f"/api/deploy/approve/{DEPLOY_JOB}", approve)
    fake.route("POST", f"/api/deploy/discard/{DEPLOY_JOB}", discard)


def on_a_terminal(monkeypatch: pytest.MonkeyPatch, typed: str) -> None:
    monkeypatch.setattr(watch, "can_review", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO(typed))


def test_deploy_options_go_in_the_body(fake: FakeApi, code: Path) -> None:
    fake.route("POST", "/api/deploy", (202, ACCEPTED))
    fake.route(
        "POST", "/api/deploy/destroy", (202, {**ACCEPTED, "queuePosition": 3, "waitingFor": OTHER_JOB})
    )

    deploy = cli(
        fake,
        "deploy",
        str(code),
        "-p",
        PROJECT,
        "--approval",
        "required",
        "--when-busy",
        "reject",
        "--supersede",
    )
    plain = cli(fake, "deploy", str(code), "-p", PROJECT)
    destroy = cli(fake, "destroy", PROJECT, "--approval", "auto", "--when-busy", "queue")

    assert deploy.code == plain.code == destroy.code == 0
    sent = fake.sent("POST", "/api/deploy")
    assert {k: sent[0][k] for k in ("approval", "whenBusy", "supersede")} == {
        "approval": "required",
        "whenBusy": "reject",
        "supersede": True,
    }
    assert set(sent[1]) == {"projectId", "files"}
    assert fake.sent("POST", "/api/deploy/destroy") == [
        {"projectId": PROJECT, "approval": "auto", "whenBusy": "queue"}
    ]
    assert f"queued: position 3, waiting for {OTHER_JOB}" in destroy.err
    assert cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "always").code == 2


def test_on_a_terminal_the_plan_is_shown_and_yes_approves_it(
    fake: FakeApi, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated(fake)
    on_a_terminal(monkeypatch, "y\n")

    run = cli(
        fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--comment", "ship it", "--wait"
    )

    assert run.code == 0, (run.out, run.err)
    assert f"queued: position 1, waiting for {OTHER_JOB}" in run.err
    # The plan, as plan's table shows it, then the question
    assert "Plan: 1 to add, 1 to change, 0 to destroy (1 replaced)" in run.out
    assert "aws_db_instance.main" in run.out and "Monthly cost in USD: 10.00 → 12.50 (+2.50)" in run.out
    assert "Apply this plan? [y/N]" in run.err
    # Approved with the comment, then followed to its end
    assert fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}") == [{"comment": "ship it"}]
    assert fake.sent("POST", f"/api/deploy/discard/{DEPLOY_JOB}") == []
    assert "Plan approved" in run.err and f"{DEPLOY_JOB}: completed done 100%" in run.err
    assert "Infrastructure deployed successfully" in run.out


@pytest.mark.parametrize("typed", ["n\n", "\n"])
def test_on_a_terminal_no_discards_the_plan(
    fake: FakeApi, code: Path, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    gated(fake)
    on_a_terminal(monkeypatch, typed)  # "no", or the default, which is no

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--wait")

    assert run.code == 1, (run.out, run.err)
    assert fake.sent("POST", f"/api/deploy/discard/{DEPLOY_JOB}") == [{}]
    assert fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}") == []
    assert "Plan discarded" in run.err and "plan discarded" in run.out


def test_no_answer_at_the_prompt_decides_nothing(
    fake: FakeApi, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated(fake)
    on_a_terminal(monkeypatch, "")  # end of input, as Ctrl-D

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--wait")

    assert run.code == 130
    assert not fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}")
    assert not fake.sent("POST", f"/api/deploy/discard/{DEPLOY_JOB}")
    assert "keeps waiting" in run.err and f"provisioner approve {DEPLOY_JOB}" in run.err


def test_without_a_terminal_it_says_how_to_decide_and_follows_the_job(fake: FakeApi, code: Path) -> None:
    # Given someone else approves the plan a little later
    gated(fake, decided_by_someone_else=True)

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--wait")

    # Then the plan was shown, the exact commands printed, nothing decided here, and the job followed
    assert run.code == 0, (run.out, run.err)
    assert "aws_s3_bucket.assets" in run.out
    assert f"provisioner approve {DEPLOY_JOB}" in run.err and f"provisioner discard {DEPLOY_JOB}" in run.err
    assert "Apply this plan?" not in run.err
    assert not fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}")
    assert not fake.sent("POST", f"/api/deploy/discard/{DEPLOY_JOB}")
    assert f"{DEPLOY_JOB}: completed done 100%" in run.err
    assert run.err.count("awaiting_approval") == 1  # one line per change, the review included
    # The plan was read once, not at every poll
    assert len([r for r in fake.requests if r.path == f"/api/deploy/plan/{DEPLOY_JOB}"]) == 1


def test_a_decision_taken_meanwhile_is_reported_and_the_job_followed(
    fake: FakeApi, code: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated(fake)
    refused = (409, {"error": "not_awaiting_approval", "message": "the job is not waiting for approval"})

    def too_late(_: Request) -> tuple[int, dict[str, str]]:
        fake.script(
            DEPLOY_JOB, job(status="failed", phase="discarded", progress=50, error="approval expired")
        )
        return refused

    fake.route("POST", f"/api/deploy/approve/{DEPLOY_JOB}", too_late)
    on_a_terminal(monkeypatch, "y\n")

    run = cli(fake, "deploy", str(code), "-p", PROJECT, "--approval", "required", "--wait")

    assert run.code == 1
    assert "the job is not waiting for approval" in run.err and "approval expired" in run.out


def test_destroy_waits_for_approval_too(fake: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    gated(fake)
    fake.route("POST", "/api/deploy/destroy", (202, ACCEPTED))
    on_a_terminal(monkeypatch, "yes\n")

    run = cli(fake, "destroy", PROJECT, "--approval", "required", "--wait")

    assert run.code == 0, (run.out, run.err)
    assert fake.sent("POST", "/api/deploy/destroy") == [{"projectId": PROJECT, "approval": "required"}]
    assert fake.sent("POST", f"/api/deploy/approve/{DEPLOY_JOB}") == [{}]


# --- approve, discard, status -------------------------------------------------------------------


@pytest.mark.parametrize(("command", "status"), [("approve", 202), ("discard", 200)])
def test_approve_and_discard_send_the_comment(fake: FakeApi, command: str, status: int) -> None:
    path = f"/api/deploy/{command}/{DEPLOY_JOB}"
    fake.route(
        "POST", path, (status, {"jobId": DEPLOY_JOB, "status": "processing", "message": f"{command}d"})
    )

    run = cli(fake, command, DEPLOY_JOB, "--comment", "reviewed by ops")
    bare = cli(fake, command, DEPLOY_JOB)

    assert run.code == bare.code == 0
    assert f"{command}d: job {DEPLOY_JOB}" in run.out
    assert fake.sent("POST", path) == [{"comment": "reviewed by ops"}, {}]


@pytest.mark.parametrize("command", ["approve", "discard"])
def test_deciding_a_job_that_does_not_wait_exits_1(fake: FakeApi, command: str) -> None:
    fake.route(
        "POST",
        f"/api/deploy/{command}/{DEPLOY_JOB}",
        (409, {"error": "not_awaiting_approval", "message": "the job is not waiting for approval"}),
    )
    run = cli(fake, command, DEPLOY_JOB)
    assert run.code == 1 and "not_awaiting_approval" in run.err


def test_status_shows_the_queue_the_approval_and_the_plan(fake: FakeApi) -> None:
    fake.script(OTHER_JOB, queued(OTHER_JOB, position=2) | {"waitingFor": DEPLOY_JOB})
    fake.script(DEPLOY_JOB, awaiting())
    decided = awaiting(PLAN_JOB) | {"phase": "apply", "actions": None}
    decided["approval"] = decided["approval"] | {
        "state": "approved",
        "decidedBy": "arn:aws:iam::123456789012:user/alice",
        "decidedAt": "2026-12-02T07:05:00.000Z",
        "comment": "ship it",
    }
    fake.script(PLAN_JOB, decided)

    waiting_in_queue = cli(fake, "status", OTHER_JOB)
    waiting_for_a_person = cli(fake, "status", DEPLOY_JOB)
    approved = cli(fake, "status", PLAN_JOB)

    assert waiting_in_queue.code == 0
    assert f"position 2, waiting for {DEPLOY_JOB}" in waiting_in_queue.out
    out = waiting_for_a_person.out
    assert f"waiting (until {fake_api.EXPIRES})" in out
    assert "1 to add, 1 to change, 0 to destroy (1 replaced)" in out
    assert "Monthly cost in USD: 10.00 → 12.50 (+2.50)" in out
    assert f"provisioner approve {DEPLOY_JOB}" in waiting_for_a_person.err
    assert "approved by arn:aws:iam::123456789012:user/alice at 2026-12-02T07:05:00.000Z" in approved.out
    assert "ship it" in approved.out


def test_status_of_an_older_service_still_reads(fake: FakeApi) -> None:
    old = job(
        status="completed", phase="done", progress=100, planSummary={"add": 3, "change": 0, "destroy": 0}
    )
    for name in ("queuePosition", "waitingFor", "approval", "actions", "plan"):
        del old[name]
    fake.script(DEPLOY_JOB, old)
    run = cli(fake, "status", DEPLOY_JOB)
    assert run.code == 0 and "3 to add, 0 to change, 0 to destroy" in run.out
    assert "Approval" not in run.out and "Queue" not in run.out


def test_the_new_commands_load_nothing_heavy_at_start_up() -> None:
    # The plan renderer is imported by the commands that print a plan, not with the command line
    assert app.cli.registered_commands
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    probe = "import sys, provisioner.cli; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "provisioner.cli.review" not in loaded
    assert "httpx" not in loaded


def test_settings_reads_and_sets_a_projects_approval_default(fake: FakeApi) -> None:
    path = "/api/deploy/settings/web"
    fake.route("GET", path, (200, {"projectId": "web", "approval": "auto"}))
    fake.route(
        "PUT",
        path,
        (
            200,
            {
                "projectId": "web",
                "approval": "required",
                "updatedBy": "ops",
                "updatedAt": "2026-12-02T07:00:00Z",
            },
        ),
    )

    shown = cli(fake, "settings", "web")
    changed = cli(fake, "settings", "web", "--approval", "required")

    assert shown.code == changed.code == 0
    assert "web: approval auto" in shown.out
    assert "approval required (set by ops" in changed.out
    assert fake.sent("PUT", path) == [{"approval": "required"}]
    assert len(fake.sent("GET", path)) == 1
