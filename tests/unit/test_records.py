"""Typed records and their transitions: the ASL, the API, the runner and recovery write one vocabulary."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

import functions.models.exceptions as domain
from core.items import JobRecord, ProjectRecord, WorkflowInput
from core.records import DeploymentStatus, JobAction, JobStatus, Phase, state_lock_ids
from core.state_locks import lockfile_lock, state_lock
from core.transitions import (
    Update,
    cancel_requested,
    job_completed,
    job_failed,
    job_planned,
    job_progressed,
    job_started,
    lockfile_removed,
    project_deployment_recorded,
    project_locked,
    project_released,
    project_updated,
    state_lock_removed,
)
from functions.utils.rest_api_resolver import DOMAIN_ERRORS, http_error
from runner.settings import RunnerSettings

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "provisioning.asl.json"
NOW = "2026-12-02T00:00:00.000Z"
JOB = "deploy-1796179203327-kxtz8lan7"


def asl_states() -> dict[str, Any]:
    states: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, state in node.get("States", {}).items():
                states[name] = state
                walk(state)
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(ASL.read_text()))
    return states


def expression_fields(parameters: dict[str, Any]) -> set[str]:
    """Attribute names an UpdateItem's expressions write or test, placeholders resolved."""
    names = parameters.get("ExpressionAttributeNames", {})
    text = f"{parameters.get('UpdateExpression', '')} {parameters.get('ConditionExpression', '')}"
    text = re.sub(r":\w+", " ", text)  # values
    found = set()
    for token in re.findall(r"#?[A-Za-z_]\w*", text):
        if token.upper() in {"SET", "REMOVE", "AND", "OR", "IN", "NOT"} or token in {
            "attribute_exists",
            "attribute_not_exists",
            "if_not_exists",
        }:
            continue
        found.add(names.get(token, token))
    return found


def dynamodb_updates() -> dict[str, dict[str, Any]]:
    return {
        name: state["Parameters"]
        for name, state in asl_states().items()
        if state.get("Resource", "").endswith("dynamodb:updateItem")
    }


def test_the_asl_updates_jobs_and_projects() -> None:
    tables = {str(p.get("TableName", p.get("TableName.$", ""))) for p in dynamodb_updates().values()}
    assert len(dynamodb_updates()) >= 4 and len(tables) == 2


@pytest.mark.parametrize("state", sorted(dynamodb_updates()))
def test_every_field_the_asl_writes_is_on_the_record_model(state: str) -> None:
    parameters = dynamodb_updates()[state]
    key = set(parameters["Key"])
    model = JobRecord if key == {"jobId"} else ProjectRecord
    assert key <= set(model.model_fields)
    unknown = expression_fields(parameters) - set(model.model_fields)
    assert not unknown, f"{state} writes {sorted(unknown)}, which {model.__name__} does not know"


def test_the_check_would_see_an_unknown_field() -> None:
    # The parser the test above relies on really extracts names, placeholders resolved.
    found = expression_fields(
        {
            "UpdateExpression": "SET #s = :x, bogusField = :y REMOVE activeJobId",
            "ConditionExpression": "attribute_exists(jobId) AND #s IN (:a, :b)",
            "ExpressionAttributeNames": {"#s": "status"},
        }
    )
    assert found == {"status", "bogusField", "activeJobId", "jobId"}


def test_the_workflow_input_is_what_the_asl_reads_and_the_runner_is_given() -> None:
    paths: set[str] = set()
    overrides: dict[str, str] = {}
    written: set[str] = set()
    for state in asl_states().values():
        for entry in state.get("Parameters", {}).get("EnvironmentVariablesOverride", []):
            if "Value.$" in entry:
                overrides[entry["Name"]] = entry["Value.$"]
        # ResultSelector reads the task's own result, not the execution's data.
        text = json.dumps({k: v for k, v in state.items() if k != "ResultSelector"})
        paths |= set(re.findall(r'"\$\.(\w+)', text))
        for catch in [state, *state.get("Catch", [])]:
            if isinstance(catch.get("ResultPath"), str):
                written.add(catch["ResultPath"].removeprefix("$."))
    fields = set(WorkflowInput.model_fields)
    # The runner's identity comes from the input's fields, under the names its settings read.
    aliases = {field.alias for field in RunnerSettings.model_fields.values()}
    assert {"JOB_ID", "PROJECT_ID", "JOB_ACTION", "PLAN_JOB_ID"} <= set(overrides) <= aliases
    assert "JOB_STAGE" in aliases
    assert {value.removeprefix("$.") for value in overrides.values()} <= fields
    # Every path the states read is the input's or a result an earlier state wrote.
    assert paths <= fields | written, paths - fields - written
    assert {"jobId", "projectId", "action", "runTimeoutSeconds", "mode", "queued", "planJobId"} <= fields


def test_the_workflow_input_refuses_what_no_job_has() -> None:
    good = {"jobId": JOB, "projectId": "p", "action": "deploy", "runTimeoutSeconds": 60, "planJobId": JOB}
    assert WorkflowInput.model_validate(good).model_dump()["action"] == "deploy"
    for bad in ({"jobId": "x"}, {"projectId": "../p"}, {"runTimeoutSeconds": 0}, {"extra": 1}):
        with pytest.raises(ValidationError):
            WorkflowInput.model_validate(good | bad)


def test_records_round_trip_through_a_dynamodb_item() -> None:
    item = {
        "jobId": JOB,
        "projectId": "p1",
        "action": "deploy",
        "status": "processing",
        "kind": "job",
        "createdAt": Decimal(1796179203327),
        "startTime": NOW,
        "updatedAt": NOW,
        "progress": Decimal(40),
        "planSummary": {"add": Decimal(2), "change": Decimal(0), "destroy": Decimal(0)},
        "variablesRef": {"secretId": "arn:x", "versionId": "v1"},
        "someFutureField": "kept out",
    }
    record = JobRecord.from_item(item)
    assert (
        record.progress == 40
        and record.active
        and record.planSummary == {"add": 2, "change": 0, "destroy": 0}
    )
    assert record.status == JobStatus.PROCESSING
    out = record.to_item()
    assert "someFutureField" not in out and "endTime" not in out  # no nulls written
    assert JobRecord.from_item(out) == record
    with pytest.raises(ValidationError):
        JobRecord.from_item(item | {"status": "paused"})


def test_job_transitions_only_touch_an_active_job() -> None:
    changes = [
        job_started(JOB, NOW, "build:1"),
        job_progressed(JOB, NOW, Phase.PLAN, 30, "tail"),
        job_planned(JOB, NOW, {"add": 1}, "plans/p/x.json"),
        job_completed(JOB, NOW, "done", "tail", "{}"),
        job_failed(JOB, NOW, "boom"),
    ]
    for change in changes:
        arguments = change.arguments()
        names = arguments["ExpressionAttributeNames"]
        values = arguments["ExpressionAttributeValues"]
        condition = arguments["ConditionExpression"]
        status = next(k for k, v in names.items() if v == "status")
        assert f"{status} IN (" in condition and "attribute_exists(" in condition
        assert "pending" in values.values() and "processing" in values.values()
        assert change.fields <= set(JobRecord.model_fields)


def test_a_failure_without_a_log_tail_leaves_the_tail_alone() -> None:
    arguments = job_failed(JOB, NOW, "boom").arguments()
    assert "REMOVE" not in arguments["UpdateExpression"]
    assert "logTail" not in arguments["ExpressionAttributeNames"].values()
    with_tail = job_failed(JOB, NOW, "boom", log_tail="last lines").arguments()
    assert "logTail" in with_tail["ExpressionAttributeNames"].values()


def test_the_project_lock_is_taken_only_where_free_and_released_only_by_its_holder() -> None:
    taken = project_locked("p", JOB, NOW, {"activeAction": "deploy"}).arguments()
    assert taken["ConditionExpression"].startswith("attribute_not_exists(")
    assert "if_not_exists(" in taken["UpdateExpression"]
    released = project_released("p", JOB, NOW, {"deploymentStatus": "deployed", "planKey": None}).arguments()
    names = released["ExpressionAttributeNames"]
    removed = released["UpdateExpression"].split("REMOVE ", 1)[1]
    assert {names[n.strip()] for n in removed.split(",")} == {"activeJobId", "activeAction", "planKey"}
    assert JOB in released["ExpressionAttributeValues"].values()
    assert "deployed" in released["ExpressionAttributeValues"].values()


def test_project_transitions_write_only_project_fields() -> None:
    changes: list[Update] = [
        project_locked("p", JOB, NOW, {"activeAction": "deploy", "deploymentStatus": "pending"}),
        project_released("p", JOB, NOW),
        project_deployment_recorded(
            "p",
            JOB,
            NOW,
            DeploymentStatus.DEPLOYED,
            outputs_json="{}",
            state_summary={},
            sensitive_paths_json="{}",
        ),
        project_updated("p", {"validationJson": "{}"}),
    ]
    for change in changes:
        assert change.fields <= set(ProjectRecord.model_fields), change
    assert cancel_requested(JOB, NOW, "me").fields <= set(JobRecord.model_fields)


def test_a_state_lock_is_removed_only_as_it_was_read() -> None:
    lock = state_lock({"LockID": "b/projects/p/terraform.tfstate", "Info": '{"ID": "abc", "Created": "x"}'})
    assert lock is not None and lock.id == "abc"
    arguments = state_lock_removed(lock.lock_id, lock.raw_info).arguments()
    assert arguments["ExpressionAttributeValues"] == {":v0": lock.raw_info}
    assert state_lock({"LockID": "b/projects/p/terraform.tfstate-md5", "Digest": "d"}) is None


def test_a_lock_file_is_removed_only_while_its_etag_is_the_one_read() -> None:
    # Given the lock file terraform 1.10+ wrote, read with its ETag
    body = b'{"ID": "abc", "Created": "2026-12-02T18:28:11.456221711Z"}'
    lock = lockfile_lock("b", "projects/p/terraform.tfstate.tflock", body, '"e1"')
    assert (lock.kind, lock.id, lock.lock_id) == ("lockfile", "abc", "b/projects/p/terraform.tfstate.tflock")
    # Then its delete names it and is conditional on that ETag
    removed = lockfile_removed(*lock.location, lock.etag or "")
    assert removed.arguments() == {
        "Bucket": "b",
        "Key": "projects/p/terraform.tfstate.tflock",
        "IfMatch": '"e1"',
    }
    assert state_lock_ids("b", "p") == (
        "b/projects/p/terraform.tfstate",
        "b/projects/p/terraform.tfstate.tflock",
    )


def test_every_domain_error_has_its_status() -> None:
    kinds = {
        value
        for value in vars(domain).values()
        if isinstance(value, type)
        and issubclass(value, domain.ProvisionerError)
        and value is not domain.ProvisionerError
    }
    assert kinds == set(DOMAIN_ERRORS)
    assert http_error(domain.ProjectBusy("busy", JOB)) == (409, "conflict")
    assert http_error(domain.StoreUnavailable("down")) == (503, "service_unavailable")
    assert http_error(domain.ProvisionerError("unmapped")) == (500, "internal_error")
    assert domain.ProjectBusy("busy", JOB).details() == {"activeJobId": JOB}


def test_the_enums_the_models_accept_are_the_seeds() -> None:
    assert {s.value for s in JobStatus} == {"pending", "processing", "completed", "failed"}
    assert JobRecord.model_fields["action"].annotation is JobAction
