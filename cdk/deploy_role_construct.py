"""The role terraform deploys with: an existing role, or one created here behind a permissions boundary.

Submitted terraform is untrusted, and the deploy role must be able to create what it declares. The
boundary is what keeps that power inside the fence: only the allowed regions, never the service's
own resources, never a role without the same boundary, never long-lived IAM users or keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, ArnFormat, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk import constants
from cdk.data_construct import DataConstruct
from cdk.nag import suppress
from cdk.settings import InstallOptions
from cdk.utils import scoped_name

# Never inside the boundary: identities that outlive a deployment, and account-level control.
BOUNDARY_EXCLUDED_ACTIONS = (
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "organizations:*",
    "account:*",
)
# Denied on anything CloudFormation tagged as part of this stack (aws: tags cannot be changed).
SERVICE_RESOURCE_ACTIONS = (
    "apigateway:*",
    "cloudwatch:*",
    "codebuild:*",
    "cognito-idp:*",
    "dynamodb:*",
    "events:*",
    "iam:*",
    "kms:*",
    "lambda:*",
    "logs:*",
    "s3:*",
    "secretsmanager:*",
    "sns:*",
    "states:*",
)
BOUNDARY_POLICY_ACTIONS = (
    "iam:CreatePolicyVersion",
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:SetDefaultPolicyVersion",
)


def region_guard(regions: Sequence[str]) -> iam.PolicyStatement:
    """Deny every regional API outside the allowed regions (global services are left alone)."""
    return iam.PolicyStatement(
        sid="DenyOutsideAllowedRegions",
        effect=iam.Effect.DENY,
        not_actions=list(constants.GLOBAL_SERVICE_ACTIONS),
        resources=["*"],
        conditions={"StringNotEquals": {"aws:RequestedRegion": list(regions)}},
    )


class DeployRoleConstruct(Construct):
    """``role_arn`` is what the runner gets as DEPLOY_ROLE_ARN."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        job_role: iam.IRole,
        data: DataConstruct,
        key: kms.IKey,
        options: InstallOptions,
        regions: Sequence[str],
    ) -> None:
        super().__init__(scope, id_)
        self.boundary_arn: str | None = None
        if options.deploy_role_arn:
            # The operator's role: its trust policy must allow the job role (README, "Install options").
            self.role_arn = options.deploy_role_arn
            return
        stack = Stack.of(self)
        if options.deploy_role_boundary_arn:
            boundary: iam.IManagedPolicy = iam.ManagedPolicy.from_managed_policy_arn(
                self, "Boundary", options.deploy_role_boundary_arn
            )
        else:
            boundary = self._boundary(stack, data, key, regions)
        self.boundary_arn = boundary.managed_policy_arn
        role = iam.Role(
            self,
            "Role",
            description="Terraform deploys submitted code with this role, inside its permissions boundary",
            assumed_by=iam.ArnPrincipal(job_role.role_arn).with_session_tags(),
            managed_policies=[
                iam.ManagedPolicy.from_managed_policy_arn(self, f"Policy{index}", arn)
                for index, arn in enumerate(options.deploy_role_policy_arns)
            ],
            permissions_boundary=boundary,
        )
        role.add_to_principal_policy(region_guard(regions))
        self.role_arn = role.role_arn
        suppress(
            role,
            "AwsSolutions-IAM4",
            "Terraform must create whatever the submitted code declares; the install option "
            "deployRolePolicyArns chooses the policy and the permissions boundary caps it.",
            findings=[f"Policy::{arn}" for arn in options.deploy_role_policy_arns],
        )

    def _boundary(
        self, stack: Stack, data: DataConstruct, key: kms.IKey, regions: Sequence[str]
    ) -> iam.ManagedPolicy:
        name = scoped_name(self, "deploy-boundary")
        boundary_arn = stack.format_arn(service="iam", region="", resource="policy", resource_name=name)
        own_data = [
            *(bucket.bucket_arn for bucket in self._buckets(data)),
            *(bucket.arn_for_objects("*") for bucket in self._buckets(data)),
            *(table.table_arn for table in self._tables(data)),
            *(f"{table.table_arn}/*" for table in self._tables(data)),
            key.key_arn,
            stack.format_arn(
                service="secretsmanager",
                resource="secret",
                resource_name=f"{constants.SECRET_NAME_PREFIX}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
            stack.format_arn(
                service="secretsmanager",
                resource="secret",
                resource_name=f"{constants.NOTIFY_SECRET_PREFIX}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            ),
        ]
        statements = [
            iam.PolicyStatement(
                sid="CeilingIsEverythingButLongLivedIdentities",
                not_actions=list(BOUNDARY_EXCLUDED_ACTIONS),
                resources=["*"],
            ),
            region_guard(regions),
            iam.PolicyStatement(
                sid="DenyTheServiceItself",
                effect=iam.Effect.DENY,
                actions=list(SERVICE_RESOURCE_ACTIONS),
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-name": stack.stack_name}
                },
            ),
            iam.PolicyStatement(
                sid="DenyTheServiceData",
                effect=iam.Effect.DENY,
                actions=["s3:*", "dynamodb:*", "kms:*", "secretsmanager:*"],
                resources=own_data,
            ),
            iam.PolicyStatement(
                sid="DenyTheServiceRolesAndStack",
                effect=iam.Effect.DENY,
                actions=["iam:*", "cloudformation:*"],
                resources=[
                    stack.format_arn(
                        service="iam", region="", resource="role", resource_name=f"{stack.stack_name}-*"
                    ),
                    boundary_arn,
                    stack.format_arn(
                        service="cloudformation", resource="stack", resource_name=f"{stack.stack_name}/*"
                    ),
                ],
            ),
            iam.PolicyStatement(
                sid="NewRolesCarryThisBoundary",
                effect=iam.Effect.DENY,
                actions=["iam:CreateRole", "iam:PutRolePermissionsBoundary"],
                resources=["*"],
                conditions={"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}},
            ),
            iam.PolicyStatement(
                sid="BoundariesStay",
                effect=iam.Effect.DENY,
                actions=["iam:DeleteRolePermissionsBoundary", *BOUNDARY_POLICY_ACTIONS],
                resources=["*"],
            ),
        ]
        policy = iam.ManagedPolicy(
            self,
            "Boundary",
            managed_policy_name=name,
            description="Permissions boundary of the terraform deploy role and of every role it creates",
            statements=statements,
        )
        # cdk-nag cannot evaluate NotAction and reports its IAM5 check as failed: suppressed whole.
        suppress(
            policy,
            "AwsSolutions-IAM5",
            "A permissions boundary caps, it grants nothing: its ceiling is every resource less the Deny "
            "statements, which must cover every resource to be a fence.",
        )
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::W2512",
                reason="NotAction in a boundary's Allow is its ceiling: all but the listed identity actions.",
            )
        )
        return policy

    @staticmethod
    def _buckets(data: DataConstruct) -> tuple[s3.Bucket, ...]:
        return (data.workspaces_bucket, data.logs_bucket, data.state_bucket, data.access_logs_bucket)

    @staticmethod
    def _tables(data: DataConstruct) -> tuple[dynamodb.Table, ...]:
        return (
            data.jobs_table,
            data.projects_table,
            data.lock_table,
            data.idempotency_table,
            data.notifications_table,
        )
