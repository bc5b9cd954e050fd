"""The provisioning state machine: the ASL in ``statemachine/``, with this install's names put in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from cdk import constants
from cdk.data_construct import DataConstruct
from cdk.iam_helpers import KMS_WRITE, allow, allow_items, allow_key
from cdk.nag import XRAY_FINDING, acknowledge_wildcards
from cdk.utils import scoped_name
from functions.dal.build_slots import POOL_KEY


def state_machine_name(scope: IConstruct) -> str:
    return scoped_name(scope, constants.STATE_MACHINE_NAME_SUFFIX)


def state_machine_arn(scope: IConstruct) -> str:
    """The machine's ARN from its name alone: no reference to the machine, so the function its
    definition invokes can hold it without a circular dependency."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=state_machine_name(scope),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def executions_arn(scope: IConstruct) -> str:
    """Every execution of the machine (each is named after its job)."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine_name(scope)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def allow_build_slots(principal: iam.IGrantable, lock_table: dynamodb.ITable) -> None:
    """The build slots' one item in the lock table (functions/dal/build_slots.py): read and replaced
    whole, and nothing else there; terraform's state locks stay out of reach."""
    allow(
        principal,
        ["dynamodb:GetItem", "dynamodb:PutItem"],
        [lock_table.table_arn],
        {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [POOL_KEY]}},
    )


def _task_states(states: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in states.values():
        if state.get("Type") == "Task":
            yield state
        for branch in state.get("Branches", []):
            yield from _task_states(branch["States"])
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _task_states(processor["States"])


def steps_timeout_seconds(definition: dict[str, Any] | None = None) -> int:
    """The workflow steps function's timeout: a little below the shortest ``TimeoutSeconds`` of the
    states that invoke it. The approval wait (``TimeoutSecondsPath``: hours) bounds a person's
    decision, not the invocation, and is left out."""
    asl = definition if definition is not None else json.loads(constants.ASL_FILE.read_text())
    placeholder = "${" + constants.WORKFLOW_STEPS_PLACEHOLDER + "}"
    limits = [
        int(state["TimeoutSeconds"])
        for state in _task_states(asl["States"])
        if state.get("Parameters", {}).get("FunctionName") == placeholder and "TimeoutSeconds" in state
    ]
    if not limits:
        raise ValueError(f"no state of {constants.ASL_FILE.name} invokes {placeholder} with TimeoutSeconds")
    timeout = min(limits) - constants.WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS
    if timeout < 1:
        raise ValueError(f"the steps' state timeouts ({min(limits)} s) leave the function no time")
    return timeout


class WorkflowConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        data: DataConstruct,
        runner: codebuild.IProject,
        steps: lambda_.IFunction,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=constants.STATE_MACHINE_LOG_GROUP.format(name=state_machine_name(self)),
            retention=log_retention,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Provisioning",
            # The name state_machine_arn() is built from: the steps function holds that ARN.
            state_machine_name=state_machine_name(self),
            definition_body=sfn.DefinitionBody.from_file(str(constants.ASL_FILE)),
            definition_substitutions={
                "JobsTable": data.jobs_table.table_name,
                "ProjectsTable": data.projects_table.table_name,
                "RunnerProject": runner.project_name,
                constants.WORKFLOW_STEPS_PLACEHOLDER: steps.function_arn,
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
        # The steps are invoked unqualified: the function's own ARN, no version or alias.
        allow(machine, ["lambda:InvokeFunction"], [steps.function_arn])
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
