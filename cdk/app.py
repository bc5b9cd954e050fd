"""The CDK app: ``cdk synth`` / ``cdk deploy`` run ``python -m cdk.app`` (see cdk.json)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Aspects, Environment
from cdk_nag import AwsSolutionsChecks

from cdk.constants import STACK_NAME
from cdk.service_stack import ServiceStack
from cdk.settings import InstallOptions, InstallOptionsError


def build(app: App, context: Mapping[str, Any] | None = None) -> ServiceStack:
    """The stack with cdk-nag's AwsSolutions checks; tests call this with their own context."""
    values = {**app.node.get_all_context(), **(context or {})}
    options = InstallOptions.from_context(values)
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = ServiceStack(app, STACK_NAME, options=options, env=env)
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return stack


def main() -> None:
    app = App()
    try:
        build(app)
    except InstallOptionsError as exc:
        raise SystemExit(f"cdk: {exc}") from None
    app.synth()


if __name__ == "__main__":
    main()
