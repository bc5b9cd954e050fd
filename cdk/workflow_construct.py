"""The provisioning state machine: the ASL in ``statemachine/``, with this install's names put in."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk import constants
from cdk.data_construct import DataConstruct
from cdk.iam_helpers import KMS_WRITE, allow, allow_items, allow_key
from cdk.nag import XRAY_FINDING, acknowledge_wildcards
from cdk.utils import scoped_name


class WorkflowConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        data: DataConstruct,
        runner: codebuild.IProject,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=constants.STATE_MACHINE_LOG_GROUP.format(name=scoped_name(self, "provisioning")),
            retention=log_retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Provisioning",
            state_machine_name=scoped_name(self, "provisioning"),
            definition_body=sfn.DefinitionBody.from_file(str(constants.ASL_FILE)),
            definition_substitutions={
                "JobsTable": data.jobs_table.table_name,
                "ProjectsTable": data.projects_table.table_name,
                "RunnerProject": runner.project_name,
            },
            state_machine_type=sfn.StateMachineType.STANDARD,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        # From a file, CDK cannot see which services the states call: every grant is written here.
        machine = self.state_machine
        allow_items(machine, data.jobs_table, ["dynamodb:UpdateItem"])
        allow_items(machine, data.projects_table, ["dynamodb:UpdateItem"])
        allow_key(machine, key, KMS_WRITE, via=["dynamodb"])
        allow(
            machine,
            ["codebuild:StartBuild", "codebuild:StopBuild", "codebuild:BatchGetBuilds"],
            [runner.project_arn],
        )
        # The .sync integration waits on a Step Functions-managed EventBridge rule.
        allow(
            machine,
            ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            [
                stack.format_arn(
                    service="events",
                    resource="rule",
                    resource_name=constants.CODEBUILD_SYNC_RULE,
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
        acknowledge_wildcards(
            machine,
            "CDK's grants for log delivery and X-Ray: those APIs accept only Resource '*'.",
            [XRAY_FINDING],
        )
