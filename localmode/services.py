"""The service's AWS side in an emulator: tables, buckets, the runner's CodeBuild project, the
workflow from the same ASL, and the runner environment a build gets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from localmode import compat
from localmode.codebuild import LocalBuilds, max_builds_from_environment
from localmode.emulator import (
    DRIFT_FUNCTION,
    EMULATOR_ACCESS_KEY,
    EMULATOR_ACCOUNT,
    EMULATOR_SECRET_KEY,
    RUNNER_PROJECT_NAME,
    WORKFLOW_STEPS_FUNCTION,
    ServiceResources,
    create_service_resources,
    create_state_machine,
    emulator_session,
    workflow_definition,
)
from localmode.gateway import LocalContext

# Target "aws": the keys make local was started with become the providers' (the user's own).
TARGET_CREDENTIAL_VARIABLES = {
    "AWS_ACCESS_KEY_ID": "TARGET_AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "TARGET_AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN": "TARGET_AWS_SESSION_TOKEN",
    "DEPLOY_ROLE_ARN": "DEPLOY_ROLE_ARN",
}
RUNNER_TIMEOUT_MINUTES = 120
# Install options that pass through as they are set (else the handlers' defaults: the build cap
# is maxConcurrentBuilds' 20, as in AWS).
REVIEW_OPTIONS = ("APPROVAL_TIMEOUT_SECONDS", "PLAN_EXPIRY_SECONDS", "MAX_CONCURRENT_BUILDS")


def _workflow_steps(event: dict[str, Any]) -> Any:
    """The workflow's steps Lambda, run by compat in this process with the handlers' environment."""
    from functions.handlers.workflow_handler import lambda_handler  # noqa: PLC0415 - needs the environment set

    return lambda_handler(event, LocalContext(WORKFLOW_STEPS_FUNCTION))


def _drift(event: dict[str, Any]) -> Any:
    """The drift function (a rollback's check), run by compat in this process, as the workflow
    steps are; the schedules' checks come from localmode/scheduler.py."""
    from functions.handlers.drift_handler import run_scheduled  # noqa: PLC0415 - needs the environment set

    return run_scheduled(event)


@dataclass
class LocalServices:
    endpoint_url: str
    resources: ServiceResources
    builds: LocalBuilds
    state_machine_arn: str
    runner_environment: dict[str, str] = field(default_factory=dict)

    def api_environment(self) -> dict[str, str]:
        """What the Lambda handlers get as environment in local mode."""
        return {
            **self.resources.environment(),
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
            "STATE_MACHINE_ARN": self.state_machine_arn,
            "DEFAULT_REGION": self.resources.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "TerraformProvisionerLocal",
            # CloudWatch reads metrics from Lambda's stdout; locally they would only clutter the terminal.
            "POWERTOOLS_METRICS_DISABLED": "true",
            "ALLOW_EXEC_CONSTRUCTS": self.runner_environment.get("ALLOW_EXEC_CONSTRUCTS", "false"),
            # A queued job looks for its turn every second here (every few in AWS, where each
            # look is a Lambda invocation); the review options pass through as they are set.
            "QUEUE_POLL_SECONDS": os.environ.get("QUEUE_POLL_SECONDS", "1"),
            # Notifications are the handlers' and the notifier's alone: the runner's environment
            # (runner_environment) never names the table.
            "NOTIFICATIONS_TABLE": self.resources.notifications_table,
            "NOTIFY_ALLOW_LOOPBACK_HTTP": "true",
            **{name: os.environ[name] for name in REVIEW_OPTIONS if name in os.environ},
        }


def start_local_services(
    endpoint_url: str,
    port: int,
    resources: ServiceResources,
    log_dir: Path,
    *,
    target: Literal["sandbox", "aws"] = "sandbox",
    sandbox_endpoint_url: str | None = None,
    allow_exec: bool = False,
    extra_runner_environment: Mapping[str, str] | None = None,
) -> LocalServices:
    """Create everything in the emulator (idempotently) and turn on the workflow's execution."""
    # moto's interpreter calls AWS at localhost:$MOTO_PORT; point it at this emulator.
    os.environ["MOTO_PORT"] = str(port)
    builds = LocalBuilds(
        log_dir, resources.region, EMULATOR_ACCOUNT, max_running=max_builds_from_environment()
    )
    compat.install(builds)
    compat.register_function(WORKFLOW_STEPS_FUNCTION, _workflow_steps)
    compat.register_function(DRIFT_FUNCTION, _drift)
    create_service_resources(endpoint_url, resources)
    runner_environment = {
        **resources.environment(),
        "AWS_ENDPOINT_URL": endpoint_url,
        "PROVISIONER_TARGET": target,
        "ALLOW_EXEC_CONSTRUCTS": "true" if allow_exec else "false",
        "PROGRESS_INTERVAL_SECONDS": "1",
    }
    # The runner's own keys reach only the service's emulator; terraform never holds them.
    runner_environment |= {
        "AWS_ACCESS_KEY_ID": EMULATOR_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMULATOR_SECRET_KEY,
    }
    if target == "sandbox":
        if not sandbox_endpoint_url:
            raise ValueError("target sandbox needs the sandbox emulator's endpoint")
        runner_environment["SANDBOX_ENDPOINT_URL"] = sandbox_endpoint_url
    else:
        for name, runner_name in TARGET_CREDENTIAL_VARIABLES.items():
            if os.environ.get(name):
                runner_environment[runner_name] = os.environ[name]
    runner_environment.update(extra_runner_environment or {})
    _create_runner_project(endpoint_url, resources, runner_environment)
    builds.register_project(RUNNER_PROJECT_NAME, runner_environment, RUNNER_TIMEOUT_MINUTES)
    arn = create_state_machine(endpoint_url, resources)
    # Parsed now, not by the first job's execution (the emulator keeps the definition as sent).
    compat.parse_tree(workflow_definition(resources))
    return LocalServices(endpoint_url, resources, builds, arn, runner_environment)


def _create_runner_project(
    endpoint_url: str, resources: ServiceResources, environment: Mapping[str, str]
) -> None:
    client = emulator_session(resources.region).client("codebuild", endpoint_url=endpoint_url)
    existing = client.batch_get_projects(names=[RUNNER_PROJECT_NAME])["projects"]
    if existing:
        client.delete_project(name=RUNNER_PROJECT_NAME)
    client.create_project(
        name=RUNNER_PROJECT_NAME,
        description="Runs python -m runner for one job (local stand-in: a subprocess)",
        # Locally the source is this checkout; in AWS it is an S3 asset of runner/ and provisioner/.
        source={
            "type": "S3",
            "location": f"{resources.logs_bucket}/runner/source.zip",
            "buildspec": "runner/buildspec.yml",
        },
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "local",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in environment.items()
            ],
        },
        serviceRole=f"arn:aws:iam::{EMULATOR_ACCOUNT}:role/provisioner-runner",
        timeoutInMinutes=RUNNER_TIMEOUT_MINUTES,
    )
