"""Tables and buckets: the service's records, submitted code, logs and terraform state."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk import constants
from cdk.nag import suppress


class DataConstruct(Construct):
    """Keys and indexes match ``localmode/emulator.py``, which local mode and the tests use."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        log_retention_days: int,
        state_version_retention_days: int = constants.STATE_NONCURRENT_VERSION_DAYS,
    ) -> None:
        super().__init__(scope, id_)
        self.key = key
        # Both streams feed the notifier (functions/handlers/notifier_handler.py): it derives the
        # events from each write's old and new images.
        self.jobs_table = self._table(
            "JobsTable",
            "jobId",
            removal_policy=RemovalPolicy.RETAIN,  # the audit trail of what was deployed, by whom
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        for name, partition in (
            (constants.JOBS_BY_PROJECT_INDEX, "projectId"),
            (constants.JOBS_BY_CREATION_INDEX, "kind"),
        ):
            self.jobs_table.add_global_secondary_index(
                index_name=name,
                partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name="createdAt", type=dynamodb.AttributeType.NUMBER),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        self.projects_table = self._table(
            "ProjectsTable",
            "projectId",
            removal_policy=RemovalPolicy.RETAIN,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
        )
        # Webhook subscriptions and their delivery log (functions/dal/notifications.py); the sparse
        # index holds the deliveries still to be tried.
        self.notifications_table = self._table(
            "NotificationsTable", "pk", sort_key="sk", removal_policy=RemovalPolicy.RETAIN
        )
        self.notifications_table.add_global_secondary_index(
            index_name=constants.NOTIFICATIONS_PENDING_INDEX,
            partition_key=dynamodb.Attribute(name="pending", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="nextAttemptAt", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # Every version of every policy is kept beside its head (functions/dal/policies.py): the
        # record of which rules a job was checked against, so it outlives the stack like the jobs.
        self.policies_table = self._table(
            "PoliciesTable", "scope", sort_key="policyKey", removal_policy=RemovalPolicy.RETAIN
        )
        self.lock_table = self._table("LockTable", "LockID", removal_policy=RemovalPolicy.RETAIN)
        # Idempotency records live for minutes; nothing is lost with the table.
        self.idempotency_table = self._table(
            "IdempotencyTable",
            "id",
            removal_policy=RemovalPolicy.DESTROY,
            time_to_live_attribute=constants.IDEMPOTENCY_TTL_ATTRIBUTE,
        )

        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            # S3 server access logs can only be delivered to a bucket with SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(constants.ACCESS_LOG_EXPIRY_DAYS),
                    noncurrent_version_expiration=Duration.days(constants.NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        suppress(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This is the access-log destination; logging its own access would loop.",
        )

        # Submitted code. A project's latest code is needed for its destroy, however old, so only
        # superseded versions expire.
        self.workspaces_bucket = self._bucket(
            "WorkspacesBucket",
            "workspaces/",
            [
                s3.LifecycleRule(
                    id="ExpireOldWorkspaceVersions",
                    noncurrent_version_expiration=Duration.days(constants.NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # Job logs and plans follow the log retention option; the build cache is refreshed by use. The
        # runner rewrites a job's log while it runs, so superseded versions go after a day.
        self.logs_bucket = self._bucket(
            "LogsBucket",
            "logs/",
            [
                *(
                    s3.LifecycleRule(
                        id=f"Expire{name}",
                        prefix=prefix,
                        expiration=Duration.days(log_retention_days),
                        noncurrent_version_expiration=Duration.days(1),
                    )
                    for name, prefix in (
                        ("JobLogs", constants.LOGS_PREFIX),
                        ("Plans", constants.PLANS_PREFIX),
                    )
                ),
                s3.LifecycleRule(
                    id="ExpireBuildCache",
                    prefix=constants.CACHE_PREFIX,
                    expiration=Duration.days(constants.CACHE_EXPIRY_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
            ],
        )
        # Terraform state: current versions never expire; old ones (the state history) are kept for
        # the install's retention, long enough to roll back.
        self.state_bucket = self._bucket(
            "StateBucket",
            "state/",
            [
                s3.LifecycleRule(
                    id="ExpireOldStateVersions",
                    noncurrent_version_expiration=Duration.days(state_version_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    # Terraform 1.10+ writes a lock file beside the state and deletes it at every
                    # run: its delete markers go once the versions under them have expired.
                    expired_object_delete_marker=True,
                )
            ],
        )

    def _table(
        self,
        id_: str,
        partition_key: str,
        *,
        sort_key: str | None = None,
        removal_policy: RemovalPolicy,
        time_to_live_attribute: str | None = None,
        stream: dynamodb.StreamViewType | None = None,
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            id_,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=(
                dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING) if sort_key else None
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            time_to_live_attribute=time_to_live_attribute,
            removal_policy=removal_policy,
            stream=stream,
        )

    def _bucket(self, id_: str, access_log_prefix: str, lifecycle_rules: list[s3.LifecycleRule]) -> s3.Bucket:
        return s3.Bucket(
            self,
            id_,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix=access_log_prefix,
            lifecycle_rules=lifecycle_rules,
            removal_policy=RemovalPolicy.RETAIN,
        )
