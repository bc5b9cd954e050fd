"""The state machine: the repo's ASL, every placeholder filled with this stack's resources."""

from __future__ import annotations

import json
import re
from typing import Any

from cdk.constants import ASL_FILE, CODEBUILD_SYNC_RULE
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
    assert not any(a.startswith(("s3:", "lambda:", "secretsmanager:")) for a in granted)
