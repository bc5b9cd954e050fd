"""The API's Lambda functions: one per handler module, each with its own least-privilege role."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk import constants
from cdk.bundling import (
    LocalBundler,
    TargetPython,
    group_requirements,
    locked_closure,
    manylinux_platforms,
)
from cdk.data_construct import DataConstruct
from cdk.iam_helpers import (
    ITEM_READ,
    ITEM_WRITE,
    KMS_READ,
    KMS_WRITE,
    allow,
    allow_items,
    allow_key,
    allow_objects,
    secret_arn,
)
from cdk.nag import (
    EXECUTIONS_FINDING,
    LOCKFILES_FINDING,
    NOTIFY_SECRETS_FINDING,
    SCHEDULES_FINDING,
    SECRETS_FINDING,
    XRAY_FINDING,
    acknowledge_wildcards,
    prefix_finding,
    suppress,
)
from cdk.settings import InstallOptions
from cdk.workflow_construct import allow_build_slots, executions_arn, state_machine_arn, steps_timeout_seconds
from core.records import LOCKFILE_SUFFIX

# The Lambda runtime ships these; bundling our own would only shadow them.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
JOB_INDEXES = (constants.JOBS_BY_PROJECT_INDEX, constants.JOBS_BY_CREATION_INDEX)
# The policy store (functions/dal/policies.py): Query lists a scope's heads or a policy's versions,
# GetItem reads one head or version; an upload is a TransactWriteItems of two conditional Puts,
# which IAM authorises as dynamodb:PutItem on the table (no ConditionCheck item is used).
POLICY_READ = ("dynamodb:GetItem", "dynamodb:Query")
POLICY_WRITE = ("dynamodb:PutItem",)
LOCKFILE_NAME = f"terraform.tfstate{LOCKFILE_SUFFIX}"
SEND_TASK_REASON = (
    "states:SendTaskSuccess and SendTaskFailure have no resource type in IAM (the task token names "
    "no ARN), so they take Resource '*'; the function sends only the token its job record holds."
)


def lambda_code() -> lambda_.Code:
    """``functions/``, ``core/``, ``cost/`` and ``policy/`` with the lambda group's dependencies, for
    Python 3.12 on arm64 (Amazon Linux 2023); built without Docker."""
    dependencies = locked_closure(
        group_requirements(constants.LAMBDA_GROUP),
        TargetPython(constants.LAMBDA_PYTHON_VERSION, constants.LAMBDA_MACHINE),
        provided=RUNTIME_PROVIDED,
    )
    bundler = LocalBundler(
        constants.LAMBDA_PACKAGES,
        dependencies=dependencies,
        pip_platforms=manylinux_platforms(constants.LAMBDA_MACHINE, constants.LAMBDA_GLIBC),
        python_version=constants.LAMBDA_PYTHON_VERSION,
    )
    return lambda_.Code.from_asset(str(constants.REPO_ROOT), **bundler.bundling_options())


def allow_state_locks(
    function: lambda_.Function, data: DataConstruct, *, clear: bool, sweep: bool = False
) -> None:
    """Terraform's state locks of both kinds (functions/dal/locks.py): the lock table's items and
    the lock files beside the states (``projects/<id>/terraform.tfstate.tflock``); ``clear``
    deletes a stale one (conditional: an item on its Info, a file on its ETag), ``sweep`` finds
    every held one (the reaper)."""
    item_actions = ["dynamodb:GetItem", *(["dynamodb:DeleteItem"] if clear else [])]
    allow_items(function, data.lock_table, [*(["dynamodb:Scan"] if sweep else []), *item_actions])
    # A conditional delete (If-Match) needs GetObject as well as DeleteObject.
    allow(
        function,
        ["s3:GetObject", *(["s3:DeleteObject"] if clear else [])],
        [data.state_bucket.arn_for_objects(f"{constants.STATE_PREFIX}*/{LOCKFILE_NAME}")],
    )
    # Listing: the sweep's, and a missing lock file read as NoSuchKey rather than AccessDenied.
    allow(
        function,
        ["s3:ListBucket"],
        [data.state_bucket.bucket_arn],
        {"StringLike": {"s3:prefix": [f"{constants.STATE_PREFIX}*"]}},
    )


class FunctionsConstruct(Construct):
    RUNTIME = lambda_.Runtime.PYTHON_3_12
    ARCHITECTURE = lambda_.Architecture.ARM_64
    LOGGING_FORMAT = lambda_.LoggingFormat.JSON
    TRACING = lambda_.Tracing.ACTIVE
    LOG_LEVEL = "INFO"

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        data: DataConstruct,
        key: kms.IKey,
        runner_project_arn: str,
        run_timeout_seconds: int,
        options: InstallOptions,
        default_region: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        self.log_retention = log_retention
        self.key = key
        self.code = lambda_code()
        stack = Stack.of(self)
        secrets = secret_arn(stack, constants.SECRET_NAME_PREFIX)
        allow_exec_constructs = options.allow_exec_constructs
        # The machine's ARN and its executions', from its name: the workflow steps function, which
        # the machine's definition invokes, holds them without a circular dependency.
        machine_arn = state_machine_arn(self)
        executions = executions_arn(self)
        review = {
            "APPROVAL_TIMEOUT_SECONDS": str(options.approval_timeout_seconds),
            "PLAN_EXPIRY_SECONDS": str(options.plan_expiry_seconds),
            "QUEUE_POLL_SECONDS": str(options.queue_poll_seconds),
        }

        # The drift schedules (one per project) live in a group of their own and invoke the drift
        # function as a role only the scheduler can assume; their names are the group's prefix.
        schedule_group, schedules_arn = self._drift_scheduling(stack)
        drift_defaults = {"DRIFT_SCHEDULE_DEFAULT": options.drift_schedule}
        deploy_environment = {
            "JOBS_TABLE": data.jobs_table.table_name,
            "PROJECTS_TABLE": data.projects_table.table_name,
            "POLICIES_TABLE": data.policies_table.table_name,
            "IDEMPOTENCY_TABLE": data.idempotency_table.table_name,
            "LOCK_TABLE": data.lock_table.table_name,
            "WORKSPACES_BUCKET": data.workspaces_bucket.bucket_name,
            # Names only: a stale state lock's LockID is "<state bucket>/projects/<id>/terraform.tfstate".
            "STATE_BUCKET": data.state_bucket.bucket_name,
            "STATE_MACHINE_ARN": machine_arn,
            "RUN_TIMEOUT_SECONDS": str(run_timeout_seconds),
            "SECRETS_KMS_KEY_ID": key.key_arn,
            # The same policy the runner enforces, so a refused construct is refused at once.
            "ALLOW_EXEC_CONSTRUCTS": str(allow_exec_constructs).lower(),
            **review,
            **drift_defaults,
            "DRIFT_SCHEDULE_GROUP": self.schedule_group_name,
            "DRIFT_SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
        }
        # Scheduled checks: the deploy function's work (a drift check is started as any job is).
        self.drift = self._function(
            "Drift",
            "drift_handler",
            "Starts a project's scheduled drift check (invoked by EventBridge Scheduler)",
            {
                name: deploy_environment[name]
                for name in (
                    "JOBS_TABLE",
                    "PROJECTS_TABLE",
                    "LOCK_TABLE",
                    "WORKSPACES_BUCKET",
                    "STATE_BUCKET",
                    "STATE_MACHINE_ARN",
                    "RUN_TIMEOUT_SECONDS",
                    "DRIFT_SCHEDULE_DEFAULT",
                    "DRIFT_SCHEDULE_GROUP",
                    "DRIFT_SCHEDULER_ROLE_ARN",
                )
            },
        )
        self._grant_drift_start(
            self.drift,
            data=data,
            key=key,
            machine_arn=machine_arn,
            executions=executions,
            runner_project_arn=runner_project_arn,
        )
        allow(self.drift, ["scheduler:DeleteSchedule"], [schedules_arn])
        # The function itself, not its versions (grant_invoke would add "<arn>:*").
        allow(self.scheduler_role, ["lambda:InvokeFunction"], [self.drift.function_arn])
        self.drift.node.add_dependency(schedule_group)

        self.deploy = self._function(
            "Deploy",
            "deploy_handler",
            "Accepts deploy, destroy, plan and apply requests and starts the workflow",
            {
                **deploy_environment,
                "DRIFT_FUNCTION_ARN": self.drift.function_arn,
            },
        )
        self._grant_schedules(self.deploy, schedules_arn)
        allow_items(self.deploy, data.jobs_table, [*ITEM_READ, *ITEM_WRITE], JOB_INDEXES)
        allow_items(self.deploy, data.projects_table, [*ITEM_READ, *ITEM_WRITE])
        allow_items(self.deploy, data.idempotency_table, ["dynamodb:GetItem", *ITEM_WRITE])
        # A job records the policy set in force at submit: the heads of two scopes, by Query.
        allow_items(self.deploy, data.policies_table, ["dynamodb:Query"])
        # A destroy and a saved plan's apply copy code (GetObject + PutObject); DeleteObject
        # undoes the code of a job that could not start.
        allow_objects(
            self.deploy,
            data.workspaces_bucket,
            [
                "s3:PutObject",
                "s3:GetObject",
                "s3:GetObjectTagging",
                "s3:PutObjectTagging",
                "s3:DeleteObject",
            ],
            [constants.WORKSPACES_PREFIX],
            list_prefixes=True,
        )
        # A saved plan's apply is refused when the state's serial or lineage moved since the plan.
        allow_objects(
            self.deploy, data.state_bucket, ["s3:GetObject"], [constants.STATE_PREFIX], list_prefixes=True
        )
        allow(
            self.deploy,
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                # CreateSecret with Tags needs it; the secret is tagged ManagedBy.
                "secretsmanager:TagResource",
            ],
            [secrets],
        )
        allow(self.deploy, ["states:StartExecution"], [machine_arn])
        # A busy project whose holder's workflow has ended is freed at submit (functions/logic/locks.py);
        # a deploy with supersede stops the executions of the older deploys it replaces in the queue.
        allow(self.deploy, ["states:DescribeExecution", "states:StopExecution"], [executions])
        # Before a job: clear a state lock whose owner build has ended (see functions/logic/locks.py).
        allow_state_locks(self.deploy, data, clear=True)
        allow(self.deploy, ["codebuild:BatchGetBuilds"], [runner_project_arn])
        allow_key(self.deploy, key, KMS_WRITE, via=["dynamodb", "s3", "secretsmanager"])

        self.cancel = self._cancel(
            data,
            key,
            executions=executions,
            runner_project_arn=runner_project_arn,
            default_region=default_region,
            machine_arn=machine_arn,
            drift={
                **drift_defaults,
                "DRIFT_SCHEDULE_GROUP": self.schedule_group_name,
                "DRIFT_SCHEDULER_ROLE_ARN": self.scheduler_role.role_arn,
                "DRIFT_FUNCTION_ARN": self.drift.function_arn,
            },
            schedules_arn=schedules_arn,
        )

        self.jobs = self._function(
            "Jobs",
            "jobs_handler",
            "Job status (with a queued job's place), job lists, job logs, plan reviews and drift checks",
            {
                "JOBS_TABLE": data.jobs_table.table_name,
                "PROJECTS_TABLE": data.projects_table.table_name,
                "LOGS_BUCKET": data.logs_bucket.bucket_name,
                **drift_defaults,
            },
        )
        allow_items(self.jobs, data.jobs_table, ITEM_READ, JOB_INDEXES)
        # The project's queue says where a queued job stands; the drift fleet view scans projects.
        allow_items(self.jobs, data.projects_table, ["dynamodb:GetItem", "dynamodb:Scan"])
        # Logs, and a plan's review document (plans/<project>/<job>.review.json).
        allow_objects(
            self.jobs,
            data.logs_bucket,
            ["s3:GetObject"],
            [constants.LOGS_PREFIX, constants.PLANS_PREFIX],
            list_prefixes=True,
        )
        allow_key(self.jobs, key, KMS_READ, via=["dynamodb", "s3"])

        self.projects = self._projects(
            data, key, secrets=secrets, default_region=default_region, allow_exec=allow_exec_constructs
        )
        # A rollback is followed by a drift check: the drift function, invoked asynchronously.
        self.projects.add_environment("DRIFT_FUNCTION_ARN", self.drift.function_arn)
        allow(self.projects, ["lambda:InvokeFunction"], [self.drift.function_arn])

        # Health and the OpenAPI document: no AWS access at all.
        self.openapi = self._function(
            "OpenApi", "openapi_handler", "Health check and the OpenAPI document", {}
        )

        self.reaper = self._reaper(
            data, key, machine_arn=machine_arn, executions=executions, runner_project_arn=runner_project_arn
        )
        self.workflow_steps = self._workflow_steps(
            data,
            key,
            machine_arn=machine_arn,
            executions=executions,
            runner_project_arn=runner_project_arn,
            default_region=default_region,
            review=review,
            max_concurrent_builds=options.max_concurrent_builds,
        )

        self.notifications = self._notifications(data, key)
        # Events for other AWS consumers (a chat bridge, a ticketing queue): apart from the alarm
        # topic, whose subscribers are the operators on call, not every job's audience.
        self.notification_topic = sns.Topic(
            self,
            "NotificationTopic",
            display_name="Terraform provisioner notifications",
            master_key=key,
            enforce_ssl=True,
        )
        self.notifier = self._notifier(data, key, self.notification_topic)

        self.all = (
            self.deploy,
            self.cancel,
            self.jobs,
            self.projects,
            self.openapi,
            self.reaper,
            self.workflow_steps,
            self.drift,
            self.notifications,
            self.notifier,
        )

    def _projects(
        self, data: DataConstruct, key: kms.IKey, *, secrets: str, default_region: str, allow_exec: bool
    ) -> lambda_.Function:
        """A project's infrastructure, outputs, state and its history, rollback, backup and restore."""
        function = self._function(
            "Projects",
            "projects_handler",
            "A project's infrastructure, outputs, state (history, rollback), validation and costs",
            {
                "PROJECTS_TABLE": data.projects_table.table_name,
                "JOBS_TABLE": data.jobs_table.table_name,
                "LOCK_TABLE": data.lock_table.table_name,
                "STATE_BUCKET": data.state_bucket.bucket_name,
                "WORKSPACES_BUCKET": data.workspaces_bucket.bucket_name,
                "LOGS_BUCKET": data.logs_bucket.bucket_name,
                "DEFAULT_REGION": default_region,
                "ALLOW_EXEC_CONSTRUCTS": str(allow_exec).lower(),
            },
        )
        # UpdateItem: a rollback takes and frees the project lock, and records itself.
        allow_items(function, data.projects_table, [*ITEM_READ, "dynamodb:UpdateItem"])
        allow_items(function, data.jobs_table, ITEM_READ, JOB_INDEXES)
        # The state history reads every version; a rollback writes a new one.
        allow_objects(
            function,
            data.state_bucket,
            ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            [constants.STATE_PREFIX],
            list_prefixes=True,
        )
        allow(
            function,
            ["s3:ListBucketVersions"],
            [data.state_bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [f"{constants.STATE_PREFIX}*"]}},
        )
        # The lock table: only a project's state lock (is terraform running?) and its digest item,
        # which a rollback rewrites with the state (terraform refuses a state that does not match it).
        lock_path = f"{data.state_bucket.bucket_name}/{constants.STATE_PREFIX}*/terraform.tfstate"
        allow(
            function,
            ["dynamodb:GetItem"],
            [data.lock_table.table_arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [lock_path]}},
        )
        allow(
            function,
            ["dynamodb:PutItem"],
            [data.lock_table.table_arn],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{lock_path}-md5"]}},
        )
        # PutObject: a restore stores the bundle's code as the project's current code.
        allow_objects(
            function,
            data.workspaces_bucket,
            ["s3:GetObject", "s3:PutObject"],
            [constants.WORKSPACES_PREFIX],
            list_prefixes=True,
        )
        allow_objects(
            function, data.logs_bucket, ["s3:GetObject"], [constants.PLANS_PREFIX], list_prefixes=True
        )
        allow(function, ["secretsmanager:GetSecretValue"], [secrets])
        allow_key(function, key, KMS_READ, via=["secretsmanager"])
        allow_key(function, key, KMS_WRITE, via=["dynamodb", "s3"])
        return function

    def _drift_scheduling(self, stack: Stack) -> tuple[scheduler.CfnScheduleGroup, str]:
        """The schedule group, the ARN of its drift schedules, and the role the scheduler invokes as."""
        self.schedule_group_name = f"{stack.stack_name}-drift"[:64]
        schedule_group = scheduler.CfnScheduleGroup(self, "DriftSchedules", name=self.schedule_group_name)
        schedules_arn = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{self.schedule_group_name}/drift-*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.scheduler_role = iam.Role(
            self,
            "DriftSchedulerRole",
            description="EventBridge Scheduler: invokes the drift function for a project's scheduled check",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        return schedule_group, schedules_arn

    def _grant_drift_start(
        self,
        function: lambda_.Function,
        *,
        data: DataConstruct,
        key: kms.IKey,
        machine_arn: str,
        executions: str,
        runner_project_arn: str,
    ) -> None:
        """What starting a drift check takes: the job written, the project read (and its drift
        summary written for a skipped check), the deployed code copied, the workflow started; a
        project held by a dead job is freed as at any submit."""
        allow_items(function, data.jobs_table, [*ITEM_READ, "dynamodb:PutItem", "dynamodb:UpdateItem"])
        allow_items(function, data.projects_table, [*ITEM_READ, "dynamodb:UpdateItem"])
        allow_objects(
            function,
            data.workspaces_bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [constants.WORKSPACES_PREFIX],
            list_prefixes=True,
        )
        allow(function, ["states:StartExecution"], [machine_arn])
        allow(function, ["states:DescribeExecution", "states:StopExecution"], [executions])
        allow_state_locks(function, data, clear=True)
        allow(function, ["codebuild:BatchGetBuilds"], [runner_project_arn])
        allow_key(function, key, KMS_WRITE, via=["dynamodb", "s3"])

    def _grant_schedules(self, function: lambda_.Function, schedules_arn: str) -> None:
        """A project's drift schedule set or removed; the scheduler's role passed to it, no other."""
        allow(
            function,
            [
                "scheduler:GetSchedule",
                "scheduler:CreateSchedule",
                "scheduler:UpdateSchedule",
                "scheduler:DeleteSchedule",
            ],
            [schedules_arn],
        )
        allow(
            function,
            ["iam:PassRole"],
            [self.scheduler_role.role_arn],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        )

    def _cancel(
        self,
        data: DataConstruct,
        key: kms.IKey,
        *,
        machine_arn: str,
        executions: str,
        runner_project_arn: str,
        default_region: str,
        drift: Mapping[str, str],
        schedules_arn: str,
    ) -> lambda_.Function:
        """Cancel, approve, discard and override; project settings; policies; the admin unlock."""
        cancel = self._function(
            "Cancel",
            "cancel_handler",
            "Cancels a job, approves, discards or overrides a plan, manages policies, releases a stuck "
            "terraform state lock",
            {
                "JOBS_TABLE": data.jobs_table.table_name,
                "PROJECTS_TABLE": data.projects_table.table_name,
                "POLICIES_TABLE": data.policies_table.table_name,
                "LOCK_TABLE": data.lock_table.table_name,
                "IDEMPOTENCY_TABLE": data.idempotency_table.table_name,
                # Names only: the lock's LockID is "<state bucket>/projects/<projectId>/terraform.tfstate".
                "STATE_BUCKET": data.state_bucket.bucket_name,
                # A policy's dry run reads a stored plan and prices it as the review does.
                "LOGS_BUCKET": data.logs_bucket.bucket_name,
                "DEFAULT_REGION": default_region,
                "STATE_MACHINE_ARN": machine_arn,
                # Project settings set its drift schedule.
                **drift,
            },
            wildcard_reason=SEND_TASK_REASON,
        )
        self._grant_schedules(cancel, schedules_arn)
        allow_items(cancel, data.jobs_table, [*ITEM_READ, *ITEM_WRITE], JOB_INDEXES)
        allow_items(cancel, data.projects_table, [*ITEM_READ, *ITEM_WRITE])
        allow_state_locks(cancel, data, clear=True)
        allow_items(cancel, data.idempotency_table, ["dynamodb:GetItem", *ITEM_WRITE])
        # Policies: list, read and version (GetItem, Query); an upload or a delete writes a new
        # version and the head in one transaction (PutItem). Nothing is ever deleted.
        allow_items(cancel, data.policies_table, [*POLICY_READ, *POLICY_WRITE])
        # The dry run reads a stored plan (plans/<p>/<j>.json), never a log, never a write.
        allow_objects(
            cancel, data.logs_bucket, ["s3:GetObject"], [constants.PLANS_PREFIX], list_prefixes=True
        )
        allow(cancel, ["states:StopExecution", "states:DescribeExecution"], [executions])
        allow(cancel, ["codebuild:BatchGetBuilds"], [runner_project_arn])
        # Approve, discard and override answer the approval wait's task token. These have no resource
        # type in IAM (a token names no ARN): Resource '*' is the only one that matches.
        allow(cancel, ["states:SendTaskSuccess", "states:SendTaskFailure"], ["*"])
        allow_key(cancel, key, KMS_WRITE, via=["dynamodb", "s3"])
        return cancel

    def _reaper(
        self,
        data: DataConstruct,
        key: kms.IKey,
        *,
        machine_arn: str,
        executions: str,
        runner_project_arn: str,
    ) -> lambda_.Function:
        """Not behind the API: runs every few minutes."""
        reaper = self._function(
            "Reaper",
            "reaper_handler",
            "Fails jobs whose workflow ended unrecorded and clears state locks of dead runners",
            {
                "JOBS_TABLE": data.jobs_table.table_name,
                "PROJECTS_TABLE": data.projects_table.table_name,
                "LOCK_TABLE": data.lock_table.table_name,
                "STATE_BUCKET": data.state_bucket.bucket_name,
                "STATE_MACHINE_ARN": machine_arn,
            },
        )
        allow_items(
            reaper, data.jobs_table, ["dynamodb:Scan", *ITEM_READ, "dynamodb:UpdateItem"], JOB_INDEXES
        )
        # Scan: the sweep of project locks whose job has ended or is gone.
        allow_items(reaper, data.projects_table, ["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:UpdateItem"])
        allow_state_locks(reaper, data, clear=True, sweep=True)
        allow_build_slots(reaper, data.lock_table)
        allow(reaper, ["states:DescribeExecution"], [executions])
        allow(reaper, ["codebuild:BatchGetBuilds"], [runner_project_arn])
        # s3: a lock file is encrypted with the service key, as the state is.
        allow_key(reaper, key, KMS_WRITE, via=["dynamodb", "s3"])
        events.Rule(
            self,
            "ReaperSchedule",
            description="Fail stuck jobs and clear stale terraform state locks",
            schedule=events.Schedule.rate(Duration.minutes(constants.REAPER_INTERVAL_MINUTES)),
            targets=[targets.LambdaFunction(reaper, retry_attempts=2)],
        )
        return reaper

    def _notify_secrets(self) -> str:
        return secret_arn(Stack.of(self), constants.NOTIFY_SECRET_PREFIX)

    def _notifications(self, data: DataConstruct, key: kms.IKey) -> lambda_.Function:
        """Webhook subscriptions: each one's signing secret is made here, returned once."""
        function = self._function(
            "Notifications",
            "notifications_handler",
            "Webhook subscriptions to the service's events, and their delivery logs",
            {
                "NOTIFICATIONS_TABLE": data.notifications_table.table_name,
                "SECRETS_KMS_KEY_ID": key.key_arn,
            },
        )
        allow_items(
            function,
            data.notifications_table,
            ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"],
        )
        allow(
            function,
            ["secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:DeleteSecret"],
            [self._notify_secrets()],
        )
        allow_key(function, key, KMS_WRITE, via=["dynamodb", "secretsmanager"])
        return function

    def _notifier(self, data: DataConstruct, key: kms.IKey, topic: sns.ITopic) -> lambda_.Function:
        """Not behind the API: the jobs and projects streams in, webhooks and the topic out, and
        every minute the pass over retries that are due."""
        function = self._function(
            "Notifier",
            "notifier_handler",
            "Derives events from the jobs and projects streams and delivers them to subscribers",
            {
                # Names only: they tell a stream record's table; the function reads neither table.
                "JOBS_TABLE": data.jobs_table.table_name,
                "PROJECTS_TABLE": data.projects_table.table_name,
                "NOTIFICATIONS_TABLE": data.notifications_table.table_name,
                "SECRETS_KMS_KEY_ID": key.key_arn,
                "NOTIFICATIONS_TOPIC_ARN": topic.topic_arn,
            },
            timeout_seconds=constants.NOTIFIER_TIMEOUT_SECONDS,
        )
        allow_items(
            function,
            data.notifications_table,
            [
                "dynamodb:GetItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
            [constants.NOTIFICATIONS_PENDING_INDEX],
        )
        allow(function, ["secretsmanager:GetSecretValue"], [self._notify_secrets()])
        allow(function, ["sns:Publish"], [topic.topic_arn])
        allow_key(function, key, KMS_WRITE, via=["dynamodb", "secretsmanager", "sns"])
        for table in (data.jobs_table, data.projects_table):
            # A failed record is retried from where it failed (ReportBatchItemFailures); the
            # delivery records keep a retried batch from sending anything twice.
            function.add_event_source(
                event_sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.LATEST,
                    batch_size=50,
                    max_batching_window=Duration.seconds(1),
                    retry_attempts=10,
                    max_record_age=Duration.hours(24),
                    bisect_batch_on_error=False,
                    report_batch_item_failures=True,
                )
            )
        events.Rule(
            self,
            "NotifierRetrySchedule",
            description="Retry webhook deliveries that are due",
            schedule=events.Schedule.rate(Duration.minutes(constants.NOTIFY_RETRY_INTERVAL_MINUTES)),
            targets=[targets.LambdaFunction(function, retry_attempts=2)],
        )
        return function

    def _workflow_steps(
        self,
        data: DataConstruct,
        key: kms.IKey,
        *,
        machine_arn: str,
        executions: str,
        runner_project_arn: str,
        default_region: str,
        review: Mapping[str, str],
        max_concurrent_builds: int,
    ) -> lambda_.Function:
        """Not behind the API: the state machine invokes it for a queued job's turn, a plan's review
        (with its cost estimate), its policy check (``python -m policy`` in a resource-limited
        subprocess), the approval wait, and a discard or expiry."""
        function = self._function(
            "WorkflowSteps",
            "workflow_handler",
            "The workflow's own steps: a queued job's turn, a plan's review, the approval wait",
            {
                "JOBS_TABLE": data.jobs_table.table_name,
                "PROJECTS_TABLE": data.projects_table.table_name,
                "POLICIES_TABLE": data.policies_table.table_name,
                "LOCK_TABLE": data.lock_table.table_name,
                "WORKSPACES_BUCKET": data.workspaces_bucket.bucket_name,
                # Names only: a stale state lock's LockID is "<state bucket>/projects/<id>/terraform.tfstate".
                "STATE_BUCKET": data.state_bucket.bucket_name,
                "LOGS_BUCKET": data.logs_bucket.bucket_name,
                # Built from the machine's name, not referenced: the machine's definition names this
                # function, so a reference back would be a circular dependency.
                "STATE_MACHINE_ARN": machine_arn,
                "DEFAULT_REGION": default_region,
                **review,
                "MAX_CONCURRENT_BUILDS": str(max_concurrent_builds),
            },
            memory_mb=constants.WORKFLOW_STEPS_MEMORY_MB,
            timeout_seconds=steps_timeout_seconds(),
        )
        allow_items(function, data.jobs_table, ["dynamodb:GetItem", "dynamodb:UpdateItem"])
        allow_items(function, data.projects_table, ["dynamodb:GetItem", "dynamodb:UpdateItem"])
        # The policy check loads the versions the job was submitted under; read only.
        allow_items(function, data.policies_table, POLICY_READ)
        # A queued job's turn frees a project whose holder is dead: its state lock, its execution.
        allow_state_locks(function, data, clear=True)
        allow_build_slots(function, data.lock_table)
        allow(function, ["states:DescribeExecution", "states:StopExecution"], [executions])
        allow(function, ["codebuild:BatchGetBuilds"], [runner_project_arn])
        # A queued destroy copies the project's latest code into its own workspace when its turn comes.
        allow_objects(
            function,
            data.workspaces_bucket,
            ["s3:GetObject", "s3:PutObject"],
            [constants.WORKSPACES_PREFIX],
            list_prefixes=True,
        )
        # The review reads the redacted plan (plans/<p>/<j>.json) and writes plans/<p>/<j>.review.json.
        allow_objects(
            function,
            data.logs_bucket,
            ["s3:GetObject", "s3:PutObject"],
            [constants.PLANS_PREFIX],
            list_prefixes=True,
        )
        allow_key(function, key, KMS_WRITE, via=["dynamodb", "s3"])
        return function

    def _function(
        self,
        id_: str,
        module: str,
        description: str,
        environment: Mapping[str, str],
        *,
        memory_mb: int = constants.FUNCTION_MEMORY_MB,
        timeout_seconds: int = constants.API_TIMEOUT_SECONDS,
        wildcard_reason: str = "",
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{id_}Logs",
            retention=self.log_retention,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{id_}Role",
            description=f"{id_} handler: {description}",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        allow(role, ["logs:CreateLogStream", "logs:PutLogEvents"], [log_group.log_group_arn])
        function = lambda_.Function(
            self,
            id_,
            description=description,
            runtime=self.RUNTIME,
            architecture=self.ARCHITECTURE,
            handler=constants.HANDLER_MODULE.format(name=module),
            code=self.code,
            role=role,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            tracing=self.TRACING,
            logging_format=self.LOGGING_FORMAT,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=log_group,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": constants.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": constants.METRICS_NAMESPACE,
                "LOG_LEVEL": self.LOG_LEVEL,
            },
        )
        suppress(
            function,
            "AwsSolutions-L1",
            "Python 3.12 is what the handlers and their locked dependencies are tested on.",
        )
        acknowledge_wildcards(
            role,
            "X-Ray accepts only Resource '*'; objects, secrets, executions and drift schedules are named "
            "per project and job, so access is granted on their prefixes (and terraform's lock files "
            "on their name, in every project)." + (f" {wildcard_reason}" if wildcard_reason else ""),
            [
                XRAY_FINDING,
                LOCKFILES_FINDING,
                SECRETS_FINDING,
                NOTIFY_SECRETS_FINDING,
                EXECUTIONS_FINDING,
                SCHEDULES_FINDING,
                prefix_finding(
                    constants.WORKSPACES_PREFIX,
                    constants.LOGS_PREFIX,
                    constants.PLANS_PREFIX,
                    constants.STATE_PREFIX,
                ),
            ],
        )
        return function
