"""Request models. Limits are the service's contract: the API Gateway body limit matches them."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from core.records import JOB_ID_PATTERN, PROJECT_ID_PATTERN

MAX_REQUEST_BYTES = 6 * 1024 * 1024
# Parsing and preflight take about 5 s a MiB on these machines (python-hcl2 is the limit): 2 MiB
# answers well within API Gateway's 29 s, and is far above what real configurations hold.
MAX_CODE_BYTES = 2 * 1024 * 1024
MAX_FILES = 500
MAX_PATH_LENGTH = 255
MAX_PATH_DEPTH = 12
MAX_VARIABLES_BYTES = 256 * 1024
MAX_VARIABLE_DEPTH = 16
RESERVED_FILE_PREFIX = "_provisioner_"
CODE_TOO_LARGE = "code_too_large"
DEFAULT_FILE = "main.tf"

_PATH_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
# Terraform code and the text it reads (templates, policies, scripts); archives and binaries have no
# place in a JSON body of text.
TEXT_SUFFIXES = (
    ".tf",
    ".tf.json",
    ".tfvars",
    ".tfvars.json",
    ".tftpl",
    ".tpl",
    ".json",
    ".yaml",
    ".yml",
    ".txt",
    ".md",
    ".sh",
    ".ps1",
    ".py",
    ".js",
    ".ts",
    ".html",
    ".css",
    ".cfg",
    ".conf",
    ".ini",
    ".xml",
    ".csv",
    ".sql",
    ".toml",
    ".pem",
    ".pub",
    ".hcl",
    ".j2",
    ".env",
    ".properties",
)
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
# Text files only: tabs and line breaks are fine, other control characters mean binary content.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

ProjectId = Annotated[
    str,
    Field(
        pattern=PROJECT_ID_PATTERN,
        description="Letters, digits, '-' and '_', 1 to 64 characters.",
        examples=["project-123"],
    ),
]
JobId = Annotated[
    str,
    Field(
        pattern=JOB_ID_PATTERN,
        description="As returned by a deploy or destroy.",
        examples=["deploy-1700000000000-abc123def"],
    ),
]


def check_relative_path(path: str) -> str:
    """A path inside the workspace: relative, plain names, no parent steps, nothing reserved."""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise ValueError(f"file path must be 1 to {MAX_PATH_LENGTH} characters")
    parts = path.split("/")
    if len(parts) > MAX_PATH_DEPTH:
        raise ValueError(f"file path {path!r} is nested deeper than {MAX_PATH_DEPTH} directories")
    for part in parts:
        if part in ("", ".", "..") or not _PATH_PART.fullmatch(part):
            raise ValueError(
                f"file path {path!r} must be relative and made of letters, digits, '.', '_' and '-' "
                "(no '..', no leading '/', no backslashes)"
            )
    if parts[-1].startswith(RESERVED_FILE_PREFIX) or parts[0] == ".terraform":
        raise ValueError(f"file path {path!r} is reserved for the service")
    if not parts[-1].lower().endswith(TEXT_SUFFIXES):
        raise ValueError(f"file {path!r} is not a text file the service accepts (code, templates, configs)")
    return path


def _depth(value: Any, limit: int) -> int:
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(current, dict):
            stack.extend((inner, level + 1) for inner in current.values())
        elif isinstance(current, list):
            stack.extend((inner, level + 1) for inner in current)
    return deepest


class CodeRequest(BaseModel):
    """The seed's body (``projectId`` + ``iacCode``), plus multi-file configs and variables."""

    # The schema says what JSON Schema can: code as iacCode or files (or both), not blank.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"anyOf": [{"required": ["iacCode"]}, {"required": ["files"]}]},
    )

    projectId: ProjectId
    iacCode: Annotated[
        Annotated[str, Field(min_length=1, max_length=MAX_CODE_BYTES, pattern=r"\S")] | SkipJsonSchema[None],
        Field(description="Terraform (HCL) for the project's root module, stored as main.tf."),
    ] = None
    files: Annotated[
        Annotated[dict[str, str], Field(min_length=1, max_length=MAX_FILES)] | SkipJsonSchema[None],
        Field(description="More files: relative path -> text. Modules go in sub-directories."),
    ] = None
    variables: Annotated[
        dict[str, JsonValue] | SkipJsonSchema[None],
        Field(description="Values for the configuration's variables, passed to terraform as tfvars."),
    ] = None

    @field_validator("files")
    @classmethod
    def _check_files(cls, files: dict[str, str] | None) -> dict[str, str] | None:
        if files is None:
            return None
        for path, text in files.items():
            check_relative_path(path)
            if _BINARY.search(text):
                raise ValueError(f"file {path!r} is not text: binary content is not accepted")
        return files

    @field_validator("variables")
    @classmethod
    def _check_variables(cls, variables: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if variables is None:
            return None
        for name in variables:
            if not _VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"variable name {name!r} is not a valid terraform identifier")
        if _depth(variables, MAX_VARIABLE_DEPTH) > MAX_VARIABLE_DEPTH:
            raise ValueError(f"variables are nested deeper than {MAX_VARIABLE_DEPTH} levels")
        if len(json.dumps(variables)) > MAX_VARIABLES_BYTES:
            raise ValueError(f"variables are larger than {MAX_VARIABLES_BYTES // 1024} KiB")
        return variables

    @model_validator(mode="after")
    def _check_code(self) -> Self:
        if self.iacCode is not None and _BINARY.search(self.iacCode):
            raise ValueError("iacCode is not text: binary content is not accepted")
        files = self.workspace_files()
        if not any(path.endswith((".tf", ".tf.json")) and "/" not in path for path in files):
            raise ValueError("no Terraform code: give iacCode or at least one top-level .tf file in files")
        if all(not text.strip() for path, text in files.items() if path.endswith((".tf", ".tf.json"))):
            raise ValueError("the Terraform code is empty")
        if self.iacCode is not None and self.files and DEFAULT_FILE in self.files:
            raise ValueError(
                f"iacCode is stored as {DEFAULT_FILE}, which files also holds: give one or the other"
            )
        total = sum(len(text.encode()) for text in files.values())
        if total > MAX_CODE_BYTES:
            raise PydanticCustomError(
                CODE_TOO_LARGE,
                "the code is {total} bytes; the limit is {limit} bytes",
                {"total": total, "limit": MAX_CODE_BYTES},
            )
        return self

    def workspace_files(self) -> dict[str, str]:
        """Every file of the workspace, ``iacCode`` as ``main.tf``."""
        files = dict(self.files or {})
        if self.iacCode is not None:
            files[DEFAULT_FILE] = self.iacCode
        return files


ApprovalChoice = Annotated[
    Literal["required", "auto"] | SkipJsonSchema[None],
    Field(
        description='"required": plan, wait for approval, apply exactly that plan. '
        "Default: the project's setting, else auto."
    ),
]
WhenBusy = Annotated[
    Literal["queue", "reject"],
    Field(description="A busy project: wait in its queue (default) or refuse with 409."),
]
Supersede = Annotated[
    bool, Field(description="Queued: older queued deploys of the project give way to this one.")
]
AllowDestroy = Annotated[
    bool,
    Field(
        description="Deletes a destroy-protection policy guards may go ahead, once a second person "
        "approves the plan."
    ),
]


class DeployRequest(CodeRequest):
    approval: ApprovalChoice = None
    whenBusy: WhenBusy = "queue"
    supersede: Supersede = False
    allowDestroy: AllowDestroy = False


class PlanRequest(CodeRequest):
    """A speculative plan: the same code and variables a deploy takes, and nothing else."""


class DestroyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projectId: ProjectId
    approval: ApprovalChoice = None
    whenBusy: WhenBusy = "queue"
    supersede: Supersede = False
    allowDestroy: AllowDestroy = False


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    whenBusy: WhenBusy = "queue"
    supersede: Supersede = False
    allowDestroy: AllowDestroy = False


# "off" or an EventBridge rate(); functions/dal/schedules.py also checks singular and plural.
DRIFT_SCHEDULE_PATTERN = r"^(off|rate\([1-9][0-9]{0,4} (minutes?|hours?|days?)\))$"


class ProjectSettingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approval: Annotated[
        Literal["required", "auto"] | None,
        Field(
            description=(
                '"required": every deploy and destroy of the project waits for approval, '
                'unless it says "auto".'
            )
        ),
    ] = None
    driftSchedule: Annotated[
        str | None,
        Field(
            max_length=40,
            pattern=DRIFT_SCHEDULE_PATTERN,
            description='How often its drift is checked: "off" or "rate(N minutes|hours|days)".',
        ),
    ] = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.approval is None and self.driftSchedule is None:
            raise ValueError("give approval, driftSchedule or both")
        return self


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Field(max_length=2000, description="Why, for the record.")] = ""


LockKind = Literal["state", "project", "all"]


class UnlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(max_length=500, description="Why, for the record.")] = ""
    force: Annotated[bool, Field(description="Clear even a lock whose owner job still looks alive.")] = False
    lock: Annotated[
        LockKind,
        Field(
            description="What to clear: terraform's state lock (the default), the project's job lock "
            "(activeJobId; its job is marked failed), or both."
        ),
    ] = "state"


POLICY_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
MAX_POLICY_BYTES = 256 * 1024
PolicyLevel = Literal["off", "advisory", "soft-mandatory", "mandatory"]
RegoSyntax = Annotated[
    Literal["v1", "v0"], Field(description="OPA 1.x syntax (v1, the default) or the pre-1.0 syntax (v0).")
]


class PolicyRequest(BaseModel):
    """A policy's new version: a built-in's settings, or a Rego module of one's own."""

    model_config = ConfigDict(extra="forbid")

    level: Annotated[
        PolicyLevel,
        Field(
            description="off; advisory (warns); soft-mandatory (stops until another person overrides); "
            "mandatory (stops the job)."
        ),
    ]
    projectId: Annotated[
        ProjectId | SkipJsonSchema[None],
        Field(description="The project it applies to; absent: every project."),
    ] = None
    rego: Annotated[
        Annotated[str, Field(max_length=MAX_POLICY_BYTES)] | SkipJsonSchema[None],
        Field(description="A Rego module defining deny, violation or warn."),
    ] = None
    syntax: RegoSyntax = "v1"
    settings: Annotated[
        dict[str, JsonValue] | SkipJsonSchema[None], Field(description="A built-in policy's settings.")
    ] = None
    description: Annotated[str, Field(max_length=500)] = ""


class PolicyDryRunRequest(BaseModel):
    """Evaluate against a stored plan: a policy given here, a stored one, or the whole set."""

    model_config = ConfigDict(extra="forbid")

    planJobId: Annotated[str, Field(pattern=JOB_ID_PATTERN, description="A job with a reviewed plan.")]
    name: Annotated[
        Annotated[str, Field(pattern=POLICY_NAME_PATTERN)] | SkipJsonSchema[None],
        Field(description="A stored policy, or a built-in's name with settings."),
    ] = None
    version: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = None
    scope: Annotated[
        Literal["install", "project"], Field(description="Which stored policy of that name.")
    ] = "project"
    level: PolicyLevel = "mandatory"
    rego: Annotated[str, Field(max_length=MAX_POLICY_BYTES)] | SkipJsonSchema[None] = None
    syntax: RegoSyntax = "v1"
    settings: dict[str, JsonValue] | SkipJsonSchema[None] = None
    caller: Annotated[str, Field(max_length=256)] | SkipJsonSchema[None] = None


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why, for the record.")]

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank_reason", "an override needs a reason")
        return value


class RemediateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Annotated[
        Literal["plan", "apply"],
        Field(
            description=(
                '"plan": a speculative plan of the deployed code, to review and apply later; "apply": a '
                "deploy of the deployed code, through the project's approvals and policies."
            )
        ),
    ]
    approval: ApprovalChoice = None
    whenBusy: WhenBusy = "queue"
    allowDestroy: AllowDestroy = False


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    serial: Annotated[int, Field(ge=0, description="The state version to roll back to.")]
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="Why, for the record.")]

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank_reason", "a rollback needs a reason")
        return value


class RestoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bundle: Annotated[dict[str, Any], Field(description="What GET /api/deploy/backup/{projectId} gave.")]
    passphrase: Annotated[
        str | None,
        Field(
            min_length=12,
            max_length=1024,
            description="The backup's passphrase; or the X-Backup-Passphrase header.",
        ),
    ] = None


# The notification event types (functions/logic/notify_events.py): a stable, documented contract.
NotificationEventType = Literal[
    "job_completed",
    "job_failed",
    "approval_needed",
    "policy_failed",
    "lock_cleared",
    "drift_detected",
    "drift_resolved",
]


class SubscriptionRequest(BaseModel):
    """A webhook subscriber: where to POST which events, for one project or the whole install."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[
        str,
        Field(
            min_length=8,
            max_length=2048,
            description="https:// URL the events are POSTed to (http only to loopback, in local mode).",
        ),
    ]
    events: Annotated[
        list[NotificationEventType],
        Field(min_length=1, max_length=7, description="The event types to send."),
    ]
    projectId: Annotated[
        ProjectId | SkipJsonSchema[None],
        Field(description="Only this project's events; absent: every project's."),
    ] = None
    description: Annotated[str, Field(max_length=500)] = ""
