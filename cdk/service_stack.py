"""The stack: composes the constructs, then handles what cuts across them (tags, outputs)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk import constants
from cdk.api_construct import ApiConstruct
from cdk.data_construct import DataConstruct
from cdk.encryption_construct import EncryptionConstruct
from cdk.functions_construct import FunctionsConstruct
from cdk.monitoring_construct import MonitoringConstruct
from cdk.runner_construct import RunnerConstruct
from cdk.settings import InstallOptions
from cdk.workflow_construct import WorkflowConstruct


class ServiceStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, options: InstallOptions, **kwargs: Any) -> None:
        super().__init__(scope, id_, description="Terraform provisioner: API, workflow and runner", **kwargs)
        self.options = options
        Tags.of(self).add("Service", constants.SERVICE_NAME)
        retention = logs.RetentionDays[options.log_retention_name]
        # Default: the install's own region. A token until deploy time for an env-agnostic synth.
        regions = list(options.allowed_regions) or [self.region]

        self.encryption = EncryptionConstruct(self, "Encryption")
        key = self.encryption.key
        self.data = DataConstruct(
            self,
            "Data",
            key=key,
            log_retention_days=options.log_retention_days,
            state_version_retention_days=options.state_version_retention_days,
        )
        self.runner = RunnerConstruct(
            self, "Runner", data=self.data, key=key, options=options, regions=regions, log_retention=retention
        )
        # The functions first: the machine's definition invokes the workflow steps function, and
        # every function knows the machine by the ARN its name gives (no reference, no cycle).
        self.functions = FunctionsConstruct(
            self,
            "Functions",
            data=self.data,
            key=key,
            runner_project_arn=self.runner.project.project_arn,
            run_timeout_seconds=self.runner.timeout_seconds,
            options=options,
            default_region=regions[0],
            log_retention=retention,
        )
        self.workflow = WorkflowConstruct(
            self,
            "Workflow",
            data=self.data,
            runner=self.runner.project,
            steps=self.functions.workflow_steps,
            key=key,
            log_retention=retention,
        )
        # The API's functions start, stop and read executions: created after the machine.
        for function in (self.functions.deploy, self.functions.cancel, self.functions.reaper):
            function.node.add_dependency(self.workflow.state_machine)
        self.api = ApiConstruct(
            self, "Api", functions=self.functions, options=options, key=key, log_retention=retention
        )
        self.monitoring = MonitoringConstruct(
            self,
            "Monitoring",
            key=key,
            api=self.api.api,
            access_logs=self.api.access_logs,
            functions=self.functions.all,
            state_machine=self.workflow.state_machine,
            runner=self.runner.project,
            alarm_email=options.alarm_email,
        )
        self._outputs()

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": (self.api.api.url, "Base URL of the API (append api/...)"),
            "StateMachineArn": (self.workflow.state_machine.state_machine_arn, "The provisioning workflow"),
            "RunnerProjectName": (self.runner.project.project_name, "CodeBuild project that runs terraform"),
            "JobsTableName": (self.data.jobs_table.table_name, "Job records"),
            "ProjectsTableName": (self.data.projects_table.table_name, "Project records"),
            "PoliciesTableName": (self.data.policies_table.table_name, "Policies and their versions"),
            "LockTableName": (self.data.lock_table.table_name, "Terraform state locks"),
            "IdempotencyTableName": (self.data.idempotency_table.table_name, "Idempotency records"),
            "WorkspacesBucketName": (self.data.workspaces_bucket.bucket_name, "Submitted code"),
            "StateBucketName": (self.data.state_bucket.bucket_name, "Terraform state"),
            "LogsBucketName": (self.data.logs_bucket.bucket_name, "Job logs and plans"),
            "KmsKeyArn": (self.encryption.key.key_arn, "Key that encrypts the service's data"),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "Subscribe here for alarms"),
            "NotificationsTableName": (
                self.data.notifications_table.table_name,
                "Webhook subscriptions and deliveries",
            ),
            "NotificationTopicArn": (
                self.functions.notification_topic.topic_arn,
                "Every notification event (attributes: type, projectId)",
            ),
            "JobRoleArn": (self.runner.job_role.role_arn, "An existing deploy role must trust this role"),
            "DeployRoleArn": (self.runner.deploy_role.role_arn, "Terraform deploys with this role"),
        }
        if self.runner.deploy_role.boundary_arn:
            outputs["DeployRoleBoundaryArn"] = (
                self.runner.deploy_role.boundary_arn,
                "Roles that submitted terraform creates must carry this permissions boundary",
            )
        if self.api.user_pool is not None and self.api.user_pool_client is not None:
            outputs["UserPoolId"] = (self.api.user_pool.user_pool_id, "Cognito user pool of the API's users")
            outputs["UserPoolClientId"] = (
                self.api.user_pool_client.user_pool_client_id,
                "App client for the CLI",
            )
        if self.api.api_key is not None:
            outputs["ApiKeyId"] = (
                self.api.api_key.key_id,
                "aws apigateway get-api-key --include-value --api-key <id>",
            )
        for name, (value, description) in outputs.items():
            output = CfnOutput(self, name, value=value, description=description)
            output.override_logical_id(name)
