"""Outputs, alarms and the alarm topic."""

from __future__ import annotations

import pytest

from tests.infrastructure.conftest import Synth, statements

OUTPUTS = (
    "ApiUrl",
    "StateMachineArn",
    "RunnerProjectName",
    "JobsTableName",
    "ProjectsTableName",
    "PoliciesTableName",
    "LockTableName",
    "IdempotencyTableName",
    "WorkspacesBucketName",
    "StateBucketName",
    "LogsBucketName",
    "KmsKeyArn",
    "AlarmTopicArn",
    "NotificationsTableName",
    "NotificationTopicArn",
    "JobRoleArn",
    "DeployRoleArn",
)


@pytest.mark.parametrize("name", OUTPUTS)
def test_outputs_have_stable_logical_ids(synth: Synth, name: str) -> None:
    synth.template.has_output(name, {})
    assert name in synth.document["Outputs"]


def test_alarm_and_notification_topics_are_encrypted_and_tls_only(synth: Synth) -> None:
    topics = synth.resources("AWS::SNS::Topic")
    assert {t["Properties"]["DisplayName"] for t in topics.values()} == {
        "Terraform provisioner alarms",
        "Terraform provisioner notifications",
    }
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0].startswith("EncryptionKey")
    policies = synth.resources("AWS::SNS::TopicPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        [deny] = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alarms_cover_failures_errors_and_throttles(synth: Synth) -> None:
    alarms = synth.resources("AWS::CloudWatch::Alarm").values()
    watched = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert {
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsTimedOut"),
        ("AWS/ApiGateway", "5XXError"),
        ("TerraformProvisioner", "ApiThrottled"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Errors"),
        ("AWS/CodeBuild", "FailedBuilds"),
    } <= watched
    assert all(a["Properties"]["AlarmActions"] for a in alarms)
    synth.template.has_resource_properties(
        "AWS::Logs::MetricFilter",
        {
            "FilterPattern": '{ $.status = "429" }',
            "MetricTransformations": [
                {
                    "MetricName": "ApiThrottled",
                    "MetricNamespace": "TerraformProvisioner",
                    "MetricValue": "1",
                    "DefaultValue": 0,
                }
            ],
        },
    )


def test_the_key_rotates(synth: Synth) -> None:
    [key] = synth.resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
