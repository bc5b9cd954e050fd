"""The state machine: the repo's ASL, every placeholder filled with this stack's resources."""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from cdk.constants import ASL_FILE, CODEBUILD_SYNC_RULE, WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS
from cdk.workflow_construct import steps_timeout_seconds
from tests.infrastructure.conftest import Synth, as_list, statements

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def _machine(synth: Synth) -> dict[str, Any]:
    [machine] = synth.resources("AWS::StepFunctions::StateMachine").values()
    properties: dict[str, Any] = machine["Properties"]
    return properties


def _definition(synth: Synth) -> str:
    """The definition as deployed: CDK stages the ASL file as an asset next to the template."""
    key = _machine(synth)["DefinitionS3Location"]["Key"]
    return (synth.outdir / f"asset.{key}").read_text()


def test_the_deployed_definition_is_the_repo_file(synth: Synth) -> None:
    assert json.loads(_definition(synth)) == json.loads(ASL_FILE.read_text())


def test_no_placeholder_is_left_after_substitution(synth: Synth) -> None:
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    rendered = PLACEHOLDER.sub(lambda m: "RESOLVED" if m[1] in substitutions else m[0], _definition(synth))
    assert "${" not in rendered
    assert set(PLACEHOLDER.findall(_definition(synth))) == set(substitutions)


def test_substitutions_name_this_stacks_resources(synth: Synth) -> None:
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    resources = synth.document["Resources"]
    expected = {
        "JobsTable": ("AWS::DynamoDB::Table", "jobId"),
        "ProjectsTable": ("AWS::DynamoDB::Table", "projectId"),
    }
    for name, (kind, key) in expected.items():
        resource = resources[substitutions[name]["Ref"]]
        assert resource["Type"] == kind
        assert resource["Properties"]["KeySchema"][0]["AttributeName"] == key
    assert resources[substitutions["RunnerProject"]["Ref"]]["Type"] == "AWS::CodeBuild::Project"
    steps_id, attribute = substitutions["WorkflowStepsFunction"]["Fn::GetAtt"]
    assert attribute == "Arn"
    assert (
        resources[steps_id]["Properties"]["Handler"] == "functions.handlers.workflow_handler.lambda_handler"
    )


def _steps_function(synth: Synth) -> tuple[str, dict[str, Any]]:
    steps_id = _machine(synth)["DefinitionSubstitutions"]["WorkflowStepsFunction"]["Fn::GetAtt"][0]
    return steps_id, synth.document["Resources"][steps_id]["Properties"]


def _steps_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in definition["States"].items()
        if state.get("Parameters", {}).get("FunctionName") == "${WorkflowStepsFunction}"
    }


def test_the_steps_function_stops_before_any_state_that_invokes_it_gives_up(synth: Synth) -> None:
    # Given every state that invokes the steps function / Then the function's own timeout comes first,
    # so a slow step fails once instead of timing out in the state and running again beside itself
    definition = json.loads(_definition(synth))
    states = _steps_states(definition)
    assert {"Take the project's turn", "Review the plan", "Wait for approval"} <= set(states)
    timeout = _steps_function(synth)[1]["Timeout"]
    for name, state in states.items():
        if "TimeoutSeconds" in state:
            assert timeout + WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS <= state["TimeoutSeconds"], name
        else:
            # The approval wait: its timeout is the approval's, hours at least
            assert state["TimeoutSecondsPath"] == "$.approvalTimeoutSeconds", name
    assert timeout == min(s["TimeoutSeconds"] for s in states.values() if "TimeoutSeconds" in s) - 5


def test_the_steps_timeout_follows_the_shortest_invoking_state() -> None:
    def task(timeout: int, function: str = "${WorkflowStepsFunction}") -> dict[str, Any]:
        return {"Type": "Task", "Parameters": {"FunctionName": function}, "TimeoutSeconds": timeout}

    # Given states at 120 s and, in a Parallel branch, 90 s (and another function at 10 s)
    definition = {
        "States": {
            "A": task(120),
            "B": {"Type": "Parallel", "Branches": [{"States": {"C": task(90)}}]},
            "D": task(10, "other"),
        }
    }
    # Then the function gets a little less than 90 s
    assert steps_timeout_seconds(definition) == 90 - WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS
    with pytest.raises(ValueError, match="no state"):
        steps_timeout_seconds({"States": {"D": task(10, "other")}})
    with pytest.raises(ValueError, match="no time"):
        steps_timeout_seconds({"States": {"A": task(WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS)}})


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            yield value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            yield target[0] if isinstance(target, list) else str(target).split(".")[0]
        for inner in value.values():
            yield from _references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _references(inner)


def test_no_circular_dependency(synth: Synth) -> None:
    # Given every Ref, GetAtt and DependsOn between resources / Then CloudFormation can order them
    resources = synth.document["Resources"]
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        edges = set(_references(resource.get("Properties", {}))) | set(as_list(depends))
        graph[logical_id] = {edge for edge in edges if edge in resources}
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    # The machine needs the steps function; the function knows the machine only by its name
    steps_id, steps = _steps_function(synth)
    [machine_id] = synth.resources("AWS::StepFunctions::StateMachine")
    assert steps_id in graph[machine_id]
    assert machine_id not in set(_references(steps))


def test_logs_everything_to_a_vended_log_group_and_traces(synth: Synth) -> None:
    machine = _machine(synth)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    group = synth.resources("AWS::Logs::LogGroup")[group_id]["Properties"]
    assert group["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert group["RetentionInDays"] == 90


def test_role_is_granted_what_the_states_call(synth: Synth) -> None:
    role_id = _machine(synth)["RoleArn"]["Fn::GetAtt"][0]
    granted: dict[str, list[Any]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                for action in as_list(statement["Action"]):
                    granted.setdefault(action, []).extend(as_list(statement["Resource"]))
    substitutions = _machine(synth)["DefinitionSubstitutions"]
    table_arns = [{"Fn::GetAtt": [substitutions[n]["Ref"], "Arn"]} for n in ("JobsTable", "ProjectsTable")]
    assert all(arn in granted["dynamodb:UpdateItem"] for arn in table_arns)
    project_arn = {"Fn::GetAtt": [substitutions["RunnerProject"]["Ref"], "Arn"]}
    for action in ("codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"):
        assert granted[action] == [project_arn], action
    for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
        [rule] = granted[action]
        assert CODEBUILD_SYNC_RULE in json.dumps(rule), action
    # Lambda: invoke the steps function, unqualified, and nothing else
    steps_id, _ = _steps_function(synth)
    assert [a for a in granted if a.startswith("lambda:")] == ["lambda:InvokeFunction"]
    assert granted["lambda:InvokeFunction"] == [{"Fn::GetAtt": [steps_id, "Arn"]}]
    assert not any(a.startswith(("s3:", "secretsmanager:", "states:")) for a in granted)


def test_only_the_machine_may_invoke_the_steps_function(synth: Synth) -> None:
    steps_id, _ = _steps_function(synth)
    target = {"Fn::GetAtt": [steps_id, "Arn"]}
    invokers = [
        role
        for policy in synth.resources("AWS::IAM::Policy").values()
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if "lambda:InvokeFunction" in as_list(statement.get("Action", []))
        and target in as_list(statement["Resource"])
        for role in policy["Properties"]["Roles"]
    ]
    assert invokers == [{"Ref": _machine(synth)["RoleArn"]["Fn::GetAtt"][0]}]
    # No resource policy opens it to anything else (API Gateway, EventBridge)
    permissions = synth.resources("AWS::Lambda::Permission").values()
    assert not [p for p in permissions if json.dumps(p["Properties"]["FunctionName"]).count(steps_id)]
