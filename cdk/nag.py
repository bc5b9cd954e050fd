"""cdk-nag suppressions: each names its rule, the exact findings it covers and why."""

from __future__ import annotations

from collections.abc import Sequence

from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

Finding = str | RegexAppliesTo

# AwsSolutions-IAM5 findings for the wildcards the stack writes on purpose.
XRAY_FINDING = "Resource::*"
SECRETS_FINDING = (
    "Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:provisioner/*"
)
NOTIFY_SECRETS_FINDING = (
    "Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:provisioner-notify/*"
)
# Every execution of the state machine, by the machine's literal name (workflow_construct.py).
EXECUTIONS_FINDING = RegexAppliesTo(
    regex=r"/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
    r"[A-Za-z0-9_-]+:\*$/g"
)

# A project's drift schedule, by name in the install's schedule group (functions/dal/schedules.py).
SCHEDULES_FINDING = RegexAppliesTo(
    regex=r"/^Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule\/"
    r"[A-Za-z0-9_.-]+\/drift-\*$/g"
)

# Terraform 1.10+'s lock file beside each project's state (functions/dal/locks.py), any project.
LOCKFILES_FINDING = RegexAppliesTo(
    regex=r"/^Resource::<\w+\.Arn>\/projects\/\*\/terraform\.tfstate\.tflock$/g"
)


def prefix_finding(*prefixes: str) -> RegexAppliesTo:
    """Objects under a key prefix of one of the service's buckets."""
    names = "|".join(prefix.rstrip("/") for prefix in prefixes)
    return RegexAppliesTo(regex=rf"/^Resource::<\w+\.Arn>\/({names})\/\*$/g")


def suppress(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    findings: Sequence[Finding] = (),
    children: bool = False,
) -> None:
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=list(findings) or None)],
        apply_to_children=children,
    )


def acknowledge_wildcards(construct: IConstruct, reason: str, findings: Sequence[Finding]) -> None:
    """Suppress exactly the listed IAM5 findings on a role (and its default policy)."""
    suppress(construct, "AwsSolutions-IAM5", reason, findings=findings, children=True)
