"""The runner: a CodeBuild project that runs ``python -m runner`` for one job, and its three roles.

- The **build role** is CodeBuild's service role. It writes the build's logs, reads the source,
  reads and fills the toolchain prefix (``runner/bootstrap.py``, before any job code runs) and may
  assume the job role; nothing else.
- The **job role** holds the widest access any job needs to the service's own records, always on
  the job-shaped prefixes. The runner assumes it at start with a session policy that narrows it
  to one job's objects and items (the runner's code, not this stack, writes that policy).
- The **deploy role** (``deploy_role_construct.py``) is what terraform deploys with.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from cdk import constants
from cdk.bundling import LocalBundler, TargetPython, group_requirements, locked_closure, requirements_text
from cdk.data_construct import DataConstruct
from cdk.deploy_role_construct import DeployRoleConstruct
from cdk.iam_helpers import (
    ITEM_WRITE,
    KMS_WRITE,
    allow,
    allow_items,
    allow_key,
    allow_objects,
    secret_arn,
)
from cdk.nag import SECRETS_FINDING, acknowledge_wildcards, prefix_finding
from cdk.settings import InstallOptions
from cdk.utils import scoped_name

IMAGES = {
    "amd64": (codebuild.LinuxBuildImage.AMAZON_LINUX_2_5, codebuild.ComputeType.SMALL, "x86_64"),
    "arm64": (
        codebuild.LinuxArmBuildImage.AMAZON_LINUX_2_STANDARD_3_0,
        codebuild.ComputeType.SMALL,
        "aarch64",
    ),
}


class RunnerConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        data: DataConstruct,
        key: kms.IKey,
        options: InstallOptions,
        regions: Sequence[str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        image, compute_type, machine = IMAGES[options.runner_architecture]

        dependencies = locked_closure(
            group_requirements(constants.RUNNER_GROUP), TargetPython(constants.RUNNER_PYTHON_VERSION, machine)
        )
        bundler = LocalBundler(
            constants.RUNNER_PACKAGES, extra_files={"requirements.txt": requirements_text(dependencies)}
        )
        self.source = s3_assets.Asset(
            self, "Source", path=str(constants.REPO_ROOT), **bundler.bundling_options()
        )

        self.log_group = logs.LogGroup(self, "BuildLogs", retention=log_retention, encryption_key=key)

        self.build_role = iam.Role(
            self,
            "BuildRole",
            description="CodeBuild service role of the terraform runner: logs, toolchain, source, job role",
            assumed_by=iam.ServicePrincipal(
                "codebuild.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
        )
        self.job_role = iam.Role(
            self,
            "JobRole",
            description="Assumed by the runner with a session policy that narrows it to one job",
            # Assumed with the build's own credentials: role chaining caps each session at one hour,
            # so the runner refreshes it for longer builds.
            assumed_by=iam.ArnPrincipal(self.build_role.role_arn).with_session_tags(),
        )
        self._grant_job_role(data, key)
        self.deploy_role = DeployRoleConstruct(
            self, "DeployRole", job_role=self.job_role, data=data, key=key, options=options, regions=regions
        )
        allow(self.job_role, ["sts:AssumeRole", "sts:TagSession"], [self.deploy_role.role_arn])
        # The workflow waits as long as a build may take: queued, then running.
        self.timeout_seconds = (options.runner_timeout_minutes + constants.RUNNER_QUEUED_TIMEOUT_MINUTES) * 60

        self.project = codebuild.Project(
            self,
            "Project",
            project_name=scoped_name(self, "runner"),
            description="Runs terraform for one provisioning job (python -m runner)",
            source=codebuild.Source.s3(bucket=self.source.bucket, path=self.source.s3_object_key),
            build_spec=codebuild.BuildSpec.from_source_filename(constants.BUILDSPEC_PATH),
            environment=codebuild.BuildEnvironment(
                build_image=image, compute_type=compute_type, privileged=False
            ),
            timeout=Duration.minutes(options.runner_timeout_minutes),
            queued_timeout=Duration.minutes(constants.RUNNER_QUEUED_TIMEOUT_MINUTES),
            # No CodeBuild cache: what builds reuse is the toolchain prefix, read and verified by
            # runner/bootstrap.py (CodeBuild's cache would restore files without checking them).
            encryption_key=key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)
            ),
            # The build role's policy is written below, in full; CDK's automatic grants would add
            # report groups and wildcard S3 actions it does not need.
            role=self.build_role.without_policy_updates(),
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value)
                for name, value in self._environment(data, key, options, regions).items()
            },
        )
        self._grant_build_role(data, key)
        self._guard_toolchain_prefix(data)

    def _environment(
        self, data: DataConstruct, key: kms.IKey, options: InstallOptions, regions: Sequence[str]
    ) -> dict[str, str]:
        """What ``runner/settings.py`` reads; JOB_ID, PROJECT_ID, JOB_ACTION, JOB_STAGE and
        PLAN_JOB_ID come per build, from the state machine's overrides."""
        return {
            "PROVISIONER_TARGET": "aws",
            "JOBS_TABLE": data.jobs_table.table_name,
            "PROJECTS_TABLE": data.projects_table.table_name,
            "LOCK_TABLE": data.lock_table.table_name,
            "WORKSPACES_BUCKET": data.workspaces_bucket.bucket_name,
            "STATE_BUCKET": data.state_bucket.bucket_name,
            "LOGS_BUCKET": data.logs_bucket.bucket_name,
            "STATE_KMS_KEY_ID": key.key_arn,
            "RUNNER_JOB_ROLE_ARN": self.job_role.role_arn,
            "DEPLOY_ROLE_ARN": self.deploy_role.role_arn,
            "ALLOWED_REGIONS": ",".join(regions),
            "TAG_JOB_ID": str(options.tag_job_id).lower(),
            "ALLOW_EXEC_CONSTRUCTS": str(options.allow_exec_constructs).lower(),
            "ALLOWED_PROVIDERS": ",".join(options.allowed_providers),
            "TERRAFORM_VERSION": options.terraform_version,
            "TERRAFORM_SHA256": options.terraform_sha256,
            "PROVISIONER_TOOLCHAIN_DIR": constants.RUNNER_TOOLCHAIN_DIR,
            "TERRAFORM_BIN": f"{constants.TERRAFORM_INSTALL_DIR}/terraform",
            # runner/bootstrap.py: the verified toolchain copies, and the providers it unpacks.
            "TOOLCHAIN_BUCKET": data.logs_bucket.bucket_name,
            "TOOLCHAIN_PREFIX": constants.TOOLCHAIN_PREFIX,
            "WARM_PROVIDERS": ",".join(constants.WARM_PROVIDERS),
        }

    def _grant_build_role(self, data: DataConstruct, key: kms.IKey) -> None:
        role = self.build_role
        allow(role, ["logs:CreateLogStream", "logs:PutLogEvents"], [self.log_group.log_group_arn])
        allow(
            role,
            ["s3:GetObject", "s3:GetObjectVersion"],
            [self.source.bucket.arn_for_objects(self.source.s3_object_key)],
        )
        allow(role, ["s3:GetBucketAcl", "s3:GetBucketLocation"], [self.source.bucket.bucket_arn])
        # The bootstrap (install phase, before any job code) is the toolchain prefix's only writer.
        allow(
            role,
            ["s3:GetObject", "s3:PutObject"],
            [data.logs_bucket.arn_for_objects(f"{constants.TOOLCHAIN_PREFIX}*")],
        )
        # Listing makes a missing copy NoSuchKey (fetch and fill) rather than AccessDenied.
        allow(
            role,
            ["s3:ListBucket"],
            [data.logs_bucket.bucket_arn],
            {"StringLike": {"s3:prefix": [f"{constants.TOOLCHAIN_PREFIX}*"]}},
        )
        allow_key(role, key, KMS_WRITE, via=["s3"])
        allow(role, ["sts:AssumeRole", "sts:TagSession"], [self.job_role.role_arn])
        # The runner reads its own build's phases: where the job's start-up time went.
        allow(role, ["codebuild:BatchGetBuilds"], [self.project.project_arn])
        acknowledge_wildcards(
            role,
            "The bootstrap names its objects by release, under the toolchain prefix of the logs bucket.",
            [prefix_finding(constants.TOOLCHAIN_PREFIX)],
        )

    def _guard_toolchain_prefix(self, data: DataConstruct) -> None:
        """Nobody but the build role writes the toolchain copies, whatever their own policies say
        (an operator's deploy role, say): the bootstrap refuses a tampered copy anyway; this keeps
        anyone from making every build download again."""
        data.logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheBuildRoleWritesTheToolchain",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:RestoreObject"],
                resources=[data.logs_bucket.arn_for_objects(f"{constants.TOOLCHAIN_PREFIX}*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": self.build_role.role_arn}},
            )
        )

    def _grant_job_role(self, data: DataConstruct, key: kms.IKey) -> None:
        role = self.job_role
        allow_objects(
            role, data.workspaces_bucket, ["s3:GetObject"], [constants.WORKSPACES_PREFIX], list_prefixes=True
        )
        allow_objects(
            role, data.logs_bucket, ["s3:PutObject"], [constants.LOGS_PREFIX, constants.PLANS_PREFIX]
        )
        # A job split across builds: stage apply reads the log stage plan wrote, and continues it.
        allow_objects(role, data.logs_bucket, ["s3:GetObject"], [constants.LOGS_PREFIX], list_prefixes=True)
        # Terraform's S3 backend: the state object (and a lock file on newer terraform); init also
        # lists the workspace prefix "env:/".
        allow_objects(
            role,
            data.state_bucket,
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [constants.STATE_PREFIX],
        )
        # Stage plan keeps the binary plan and its lock file beside the state, under
        # plans/<project>/<job>/ (SSE-KMS with the service key); stage apply reads them back.
        allow_objects(role, data.state_bucket, ["s3:GetObject", "s3:PutObject"], [constants.PLANS_PREFIX])
        # Listing makes a missing object (a plan made without a lock file) NoSuchKey, not AccessDenied.
        allow(
            role,
            ["s3:ListBucket"],
            [data.state_bucket.bucket_arn],
            {
                "StringLike": {
                    "s3:prefix": [f"{constants.STATE_PREFIX}*", "env:/*", f"{constants.PLANS_PREFIX}*"]
                }
            },
        )
        allow_items(role, data.jobs_table, ["dynamodb:GetItem", "dynamodb:UpdateItem"])
        allow_items(role, data.projects_table, ["dynamodb:GetItem", "dynamodb:UpdateItem"])
        allow_items(role, data.lock_table, ["dynamodb:GetItem", *ITEM_WRITE])
        allow(
            role,
            ["secretsmanager:GetSecretValue"],
            [secret_arn(Stack.of(self), constants.SECRET_NAME_PREFIX)],
        )
        allow_key(role, key, KMS_WRITE, via=["s3", "dynamodb", "secretsmanager"])
        acknowledge_wildcards(
            role,
            "Job-shaped prefixes, the widest any job needs; the runner's session policy narrows them.",
            [
                SECRETS_FINDING,
                prefix_finding(
                    constants.WORKSPACES_PREFIX,
                    constants.LOGS_PREFIX,
                    constants.PLANS_PREFIX,
                    constants.STATE_PREFIX,
                ),
            ],
        )
