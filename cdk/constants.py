"""Names, sizes and limits of the installed service, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from core import records

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
ASL_FILE: Final = REPO_ROOT / "statemachine" / "provisioning.asl.json"
BUILDSPEC_PATH: Final = "runner/buildspec.yml"
UV_LOCK: Final = REPO_ROOT / "uv.lock"
PYPROJECT: Final = REPO_ROOT / "pyproject.toml"
BUNDLE_CACHE_DIR: Final = REPO_ROOT / ".cache" / "cdk-bundles"

STACK_NAME: Final = "TerraformProvisioner"
SERVICE_NAME: Final = "terraform-provisioner"
METRICS_NAMESPACE: Final = "TerraformProvisioner"
CONTEXT_PREFIX: Final = "provisioner:"

# --- the API -------------------------------------------------------------------------------------
API_TIMEOUT_SECONDS: Final = 29  # API Gateway's integration timeout

# --- the functions -------------------------------------------------------------------------------
HANDLER_MODULE: Final = "functions.handlers.{name}.lambda_handler"
FUNCTION_MEMORY_MB: Final = 512
REAPER_INTERVAL_MINUTES: Final = 5
# The workflow's own steps (functions/handlers/workflow_handler.py): the review estimates costs.
WORKFLOW_STEPS_MEMORY_MB: Final = 1024
# Its timeout stays this far below the shortest TimeoutSeconds of the states that invoke it, so
# the function's own timeout ends a slow step before the state gives up and retries it alongside.
WORKFLOW_STEPS_TIMEOUT_MARGIN_SECONDS: Final = 5
# What each bundle ships: its own packages, and its dependency group of pyproject.toml (versions
# and hashes from uv.lock).
LAMBDA_GROUP: Final = "lambda"
LAMBDA_PACKAGES: Final = ("functions", "core", "cost", "policy")
LAMBDA_PYTHON_VERSION: Final = "3.12"
LAMBDA_MACHINE: Final = "aarch64"  # the functions' arm64 architecture
# The python3.12 runtime runs on Amazon Linux 2023, whose glibc is 2.34: wheels built for any
# manylinux up to 2_34 run there (regorus ships only manylinux_2_34 wheels).
LAMBDA_GLIBC: Final = (2, 34)
# Never shipped: caches (the packages listed are the whole of what ships).
BUNDLE_EXCLUDES: Final = (
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".mypy_cache",
)

# --- the runner ----------------------------------------------------------------------------------
RUNNER_GROUP: Final = "runner"
RUNNER_PACKAGES: Final = ("runner", "core")
RUNNER_PYTHON_VERSION: Final = "3.12"  # runtime-versions in the buildspec
# The build's toolchain directory (fresh each build; the buildspec names the same one). Outside
# /root (mode 0700): terraform's own user must reach the jobs' directories in it.
RUNNER_TOOLCHAIN_DIR: Final = "/opt/provisioner-toolchain"
TERRAFORM_INSTALL_DIR: Final = "/opt/terraform"
RUNNER_QUEUED_TIMEOUT_MINUTES: Final = 30
CACHE_PREFIX: Final = "cache/"
# Terraform releases and provider packages, verified, that builds fetch instead of the internet
# (runner/bootstrap.py): under the cache prefix of the logs bucket, so its 30-day expiry renews
# them from the internet now and then. Only the build role writes here.
TOOLCHAIN_PREFIX: Final = f"{CACHE_PREFIX}toolchain/"
# Provider releases each build unpacks into its local mirror before any job code arrives. A job
# whose lock file or constraints select another version installs that one from the registry.
WARM_PROVIDERS: Final = ("hashicorp/aws=6.0.0",)

# --- records -------------------------------------------------------------------------------------
# Key layout and index names: the service's own (core/records.py), re-exported for the stack.
JOBS_BY_PROJECT_INDEX: Final = records.JOBS_BY_PROJECT_INDEX
JOBS_BY_CREATION_INDEX: Final = records.JOBS_BY_CREATION_INDEX
IDEMPOTENCY_TTL_ATTRIBUTE: Final = "expiration"
WORKSPACES_PREFIX: Final = records.WORKSPACES_PREFIX
STATE_PREFIX: Final = records.STATE_PREFIX
LOGS_PREFIX: Final = records.LOGS_PREFIX
PLANS_PREFIX: Final = records.PLANS_PREFIX
SECRET_NAME_PREFIX: Final = records.SECRET_NAME_PREFIX
# Webhook signing secrets: outside SECRET_NAME_PREFIX, so outside the runner's grant.
NOTIFY_SECRET_PREFIX: Final = "provisioner-notify/"  # noqa: S105 - a name prefix, not a secret
NOTIFICATIONS_PENDING_INDEX: Final = "pending-deliveries"
# The periodic pass over webhook deliveries whose retry is due.
NOTIFY_RETRY_INTERVAL_MINUTES: Final = 1
NOTIFIER_TIMEOUT_SECONDS: Final = 300
NONCURRENT_VERSION_DAYS: Final = 30
STATE_NONCURRENT_VERSION_DAYS: Final = 90
CACHE_EXPIRY_DAYS: Final = 30
ACCESS_LOG_EXPIRY_DAYS: Final = 365

# --- the workflow --------------------------------------------------------------------------------
STATE_MACHINE_LOG_GROUP: Final = "/aws/vendedlogs/states/{name}"
# The machine's name after the stack's: its ARN is known before the machine exists (no cycle with
# the function its definition invokes, which reads that ARN).
STATE_MACHINE_NAME_SUFFIX: Final = "provisioning"
# The ASL's placeholder for the workflow steps function.
WORKFLOW_STEPS_PLACEHOLDER: Final = "WorkflowStepsFunction"
# Step Functions' managed rule for the CodeBuild .sync integration.
CODEBUILD_SYNC_RULE: Final = "StepFunctionsGetEventForCodeBuildStartBuildRule"

# Services whose APIs are global (or answer only in us-east-1): the region guard must not block them.
GLOBAL_SERVICE_ACTIONS: Final = (
    "iam:*",
    "sts:*",
    "organizations:*",
    "route53:*",
    "route53domains:*",
    "cloudfront:*",
    "globalaccelerator:*",
    "waf:*",
    "shield:*",
    "support:*",
    "budgets:*",
    "ce:*",
    "health:*",
    "trustedadvisor:*",
    "account:*",
    "pricing:*",
)
