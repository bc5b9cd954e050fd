"""A job split across builds: the stage settings, the stale check and what a saved plan records."""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from core.records import JobStage
from core.transitions import job_plan_saved
from functions.logic.submit import code_hash as api_code_hash
from runner.credentials import MAX_PACKED_POLICY, packed, session_policy
from runner.saved_plans import (
    StateIdentity,
    code_hash,
    has_changes,
    planned_state,
    saved_plan_record,
    stale_reason,
)
from runner.settings import RunnerSettings

JOB = "deploy-1764166000000-abcdef123"
PLAN_JOB = "plan-1764165000000-zyxwvu987"
LONG = "TerraformProvisioner-DataJobsTable1234567-ABCDEFGHIJKLMNOP"


def settings(**extra: str) -> RunnerSettings:
    return RunnerSettings.from_environment(
        {
            "JOB_ID": JOB,
            "PROJECT_ID": "a" * 64,
            "JOB_ACTION": "deploy",
            "JOBS_TABLE": LONG,
            "PROJECTS_TABLE": LONG.replace("Jobs", "Projects"),
            "LOCK_TABLE": LONG.replace("Jobs", "Locks"),
            "WORKSPACES_BUCKET": "terraformprovisioner-dataworkspacesbucket1a2b3c-abcdefghijkl",
            "STATE_BUCKET": "terraformprovisioner-datastatebucket1a2b3c4d5e-abcdefghijkl",
            "LOGS_BUCKET": "terraformprovisioner-datalogsbucket1a2b3c4d5e6-abcdefghijkl",
            "AWS_REGION": "eu-central-1",
            "DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/TerraformProvisioner-RunnerDeployRole1234-ABCDEFGHIJKL",
            "RUNNER_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/job",
            **extra,
        }
    )


# --- settings ------------------------------------------------------------------------------------


def test_the_stage_defaults_to_run_and_an_empty_one_is_unset() -> None:
    # Given no JOB_STAGE, and one CodeBuild could not drop (empty)
    # When the settings are read
    # Then both are today's single build, and the plan is the job's own
    for extra in ({}, {"JOB_STAGE": "", "PLAN_JOB_ID": ""}):
        read = settings(**extra)
        assert read.stage is JobStage.RUN
        assert read.plan_job_id is None
        assert read.source_plan_job_id == JOB
        assert read.speculative is False


def test_stage_apply_reads_the_plans_job() -> None:
    read = settings(JOB_STAGE="apply", PLAN_JOB_ID=PLAN_JOB)
    assert read.stage is JobStage.APPLY
    assert read.source_plan_job_id == PLAN_JOB
    assert settings(JOB_STAGE="apply").source_plan_job_id == JOB


def test_a_plan_jobs_plan_stage_is_speculative() -> None:
    assert settings(JOB_STAGE="plan", JOB_ACTION="plan", JOB_ID=PLAN_JOB).speculative is True
    assert settings(JOB_STAGE="plan").speculative is False  # a gated deploy's plan
    assert settings(JOB_ACTION="plan", JOB_ID=PLAN_JOB).speculative is False  # stage run: as today


@pytest.mark.parametrize(
    "extra",
    [
        {"JOB_STAGE": "review"},
        {"PLAN_JOB_ID": "not-a-job"},
        {"PLAN_JOB_ID": f"{PLAN_JOB}\n"},
        {"JOB_STAGE": "apply", "JOB_ACTION": "plan", "JOB_ID": PLAN_JOB},
        {"JOB_STAGE": "apply", "JOB_ACTION": "validate", "JOB_ID": "validate-1764166000000-abcdef123"},
        {"JOB_STAGE": "plan", "JOB_ACTION": "validate", "JOB_ID": "validate-1764166000000-abcdef123"},
    ],
)
def test_malformed_or_mismatched_stages_are_refused(extra: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        settings(**extra)


def test_the_session_policy_of_a_split_job_names_its_saved_plans_and_fits_sts() -> None:
    # Given a run's policy, a plan build's and an apply build's of another job's plan
    run, plan, apply = (
        session_policy(settings()),
        session_policy(settings(JOB_STAGE="plan")),
        session_policy(settings(JOB_STAGE="apply", PLAN_JOB_ID=PLAN_JOB)),
    )
    project = "a" * 64

    def objects(policy: dict[str, Any]) -> list[str]:
        return list(next(s for s in policy["Statement"] if "s3:GetObject" in s["Action"])["Resource"])

    def records(policy: dict[str, Any]) -> list[str]:
        statement = next(s for s in policy["Statement"] if "dynamodb:GetItem" in s["Action"])
        return list(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"])

    # Then a run names no saved plan; a plan build its own; an apply build the plan's, and its job
    assert not any("/plans/" in o and o.endswith("/*") for o in objects(run))
    assert objects(plan)[-1] == f"arn:aws:s3:::*/plans/{project}/{JOB}/*"
    assert objects(apply)[-1] == f"arn:aws:s3:::*/plans/{project}/{PLAN_JOB}/*"
    assert PLAN_JOB in records(apply) and PLAN_JOB not in records(plan)
    for policy in (run, plan, apply):
        assert len(packed(policy)) <= MAX_PACKED_POLICY


# --- the stale check -----------------------------------------------------------------------------


def test_a_plan_is_current_while_the_state_is_the_one_it_was_made_against() -> None:
    planned = StateIdentity(3, "lin-1")
    assert stale_reason(planned, StateIdentity(3, "lin-1")) is None
    assert stale_reason(StateIdentity(None, None), StateIdentity(None, None)) is None


@pytest.mark.parametrize(
    ("planned", "current", "named"),
    [
        (
            StateIdentity(3, "lin-1"),
            StateIdentity(5, "lin-1"),
            "the state moved since the plan: serial 3 → 5",
        ),
        (
            StateIdentity(3, "lin-1"),
            StateIdentity(3, "lin-2"),
            "lineage changed since the plan: lin-1 → lin-2",
        ),
        (StateIdentity(None, None), StateIdentity(1, "lin-1"), "the plan expected none"),
        (StateIdentity(3, "lin-1"), StateIdentity(None, None), "the state is gone"),
    ],
)
def test_a_plan_made_against_another_state_is_stale_naming_why(
    planned: StateIdentity, current: StateIdentity, named: str
) -> None:
    reason = stale_reason(planned, current)
    assert reason is not None
    assert reason.startswith("the ")
    assert named in reason


def test_state_identities_from_a_state_a_record_and_nothing() -> None:
    assert StateIdentity.of_state({"serial": 7, "lineage": "abc"}) == StateIdentity(7, "abc")
    # Terraform's prior state when there was none: serial 0, no lineage.
    assert StateIdentity.of_state({"serial": 0, "lineage": ""}) == StateIdentity(None, None)
    assert StateIdentity.of_state(None) == StateIdentity(None, None)
    # DynamoDB gives numbers back as Decimals
    assert StateIdentity.of_record({"stateSerial": Decimal(7), "stateLineage": "abc"}) == StateIdentity(
        7, "abc"
    )
    assert StateIdentity.of_record({"stateSerial": None, "stateLineage": None}) == StateIdentity(None, None)


def test_the_planned_state_is_read_from_the_plan_files_tfstate(tmp_path: Path) -> None:
    # Given a plan file (a zip) whose prior state is serial 4 of a lineage
    plan = tmp_path / "tfplan"
    with zipfile.ZipFile(plan, "w") as archive:
        archive.writestr("tfplan", b"\x00binary")
        archive.writestr("tfstate", json.dumps({"version": 4, "serial": 4, "lineage": "lin-9"}))
    # Then that is the state it was made against; a file that is no plan gives nothing
    assert planned_state(plan) == StateIdentity(4, "lin-9")
    (tmp_path / "junk").write_bytes(b"not a zip")
    assert planned_state(tmp_path / "junk") is None
    assert planned_state(tmp_path / "missing") is None


# --- what is recorded ----------------------------------------------------------------------------


def test_the_code_hash_covers_paths_and_contents_in_any_order(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "main.tf").write_text("a")
    (tmp_path / "m" / "x.tf").write_text("b")
    first = code_hash(tmp_path, ["main.tf", "m/x.tf"])
    assert first == code_hash(tmp_path, ["m/x.tf", "main.tf"])
    assert len(first) == 64
    (tmp_path / "m" / "x.tf").write_text("c")
    assert code_hash(tmp_path, ["main.tf", "m/x.tf"]) != first
    # the runner's own files are not in the list it is given, so never in the hash
    assert code_hash(tmp_path, ["main.tf"]) != code_hash(tmp_path, ["main.tf", "m/x.tf"])
    # and it is the API's job field codeHash of the same files
    assert code_hash(tmp_path, ["main.tf", "m/x.tf"]) == api_code_hash({"main.tf": "a", "m/x.tf": "c"})


def test_changes_are_resources_or_outputs() -> None:
    none = {"add": 0, "change": 0, "destroy": 0}
    assert has_changes({**none, "destroy": 1}, {}) is True
    assert has_changes(none, {"output_changes": {"a": {"actions": ["no-op"]}}}) is False
    assert has_changes(none, {"output_changes": {"a": {"actions": ["update"]}}}) is True
    assert has_changes(none, {}) is False


def test_the_saved_plan_is_recorded_on_an_active_job_only() -> None:
    record = saved_plan_record(
        key="plans/p/j/",
        state=StateIdentity(2, "lin"),
        terraform_version="1.11.4",
        created_at="2026-01-01T00:00:00.000Z",
        changes=True,
        workspace_hash="0" * 64,
    )
    assert set(record) == {
        "key",
        "stateSerial",
        "stateLineage",
        "terraformVersion",
        "createdAt",
        "hasChanges",
        "codeHash",
    }
    update = job_plan_saved(JOB, "now", record)
    arguments = update.arguments()
    assert arguments["Key"] == {"jobId": JOB}
    assert update.fields == {"savedPlan", "updatedAt"}
    assert "status" in json.dumps(arguments["ExpressionAttributeNames"])
