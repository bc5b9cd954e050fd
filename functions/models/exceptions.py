"""Domain errors. The data access layer raises them from SDK errors; one module maps them to HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ProvisionerError(Exception):
    """Base: carries the message clients see."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Fields the error body carries beside ``error`` and ``message``."""
        return {}


class JobNotFound(ProvisionerError):
    pass


class ProjectNotFound(ProvisionerError):
    pass


class NothingToShow(ProvisionerError):
    """The project exists but has no such artefact yet (state, plan, log)."""


class ProjectBusy(ProvisionerError):
    def __init__(self, message: str, active_job_id: str | None) -> None:
        super().__init__(message)
        self.active_job_id = active_job_id

    def details(self) -> dict[str, Any]:
        return {"activeJobId": self.active_job_id}


class JobAlreadyFinished(ProvisionerError):
    pass


class InvalidRequest(ProvisionerError):
    """A request that parses but cannot be served: names the field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> dict[str, Any]:
        return {"field": self.field}


class InvalidConfiguration(ProvisionerError):
    """Submitted code that the service refuses before any job starts."""

    def __init__(self, message: str, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = list(errors)

    def details(self) -> dict[str, Any]:
        return {"errors": self.errors}


class CodeTooLarge(ProvisionerError):
    pass


class WorkflowUnavailable(ProvisionerError):
    """Step Functions refused to start (or stop) an execution."""


class StoreUnavailable(ProvisionerError):
    """DynamoDB, S3 or Secrets Manager failed after retries."""


class NotAwaitingApproval(ProvisionerError):
    """An approve or discard of a job that is not (or no longer) waiting for one."""


class PlanNotReady(ProvisionerError):
    """A plan asked for (or applied) before it exists: still running, failed, or not a plan."""


class StalePlan(ProvisionerError):
    """A saved plan that can no longer be applied as it was reviewed."""

    def __init__(self, message: str, reasons: Sequence[str]) -> None:
        super().__init__(message)
        self.reasons = list(reasons)

    def details(self) -> dict[str, Any]:
        return {"reasons": self.reasons}


class ApprovalWaitEnded(ProvisionerError):
    """The workflow no longer waits on the task token (expired, stopped)."""


class InvalidPolicy(ProvisionerError):
    """A policy that cannot be stored: bad Rego (with its line and column) or bad settings."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column

    def details(self) -> dict[str, Any]:
        return {
            "field": "rego" if self.line is not None else "settings",
            "line": self.line,
            "column": self.column,
        }


class PolicyNotFound(ProvisionerError):
    pass


class PolicyConflict(ProvisionerError):
    """Another upload of the same policy won the race: read it and try again."""


class SecondIdentityRequired(ProvisionerError):
    """An override, or the approval of a protected destroy, by the very person who submitted it."""


class NotDeployed(ProvisionerError):
    """A drift check (or its remediation) of a project with nothing deployed to compare."""


class NotDrifted(ProvisionerError):
    """A remediation asked of a project whose latest drift check found nothing to repair."""


class StaleDriftCheck(ProvisionerError):
    """The state or code moved since the drift check: what it found may no longer hold."""


class StateVersionNotFound(ProvisionerError):
    """No version of the project's state has that serial (never written, or expired)."""


class LineageMismatch(ProvisionerError):
    """A rollback to a version of another lineage: a state terraform would refuse as foreign."""


class RestoreRefused(ProvisionerError):
    """The target of a restore already has state (or a job): a restore never overwrites one."""


class WrongPassphrase(ProvisionerError):
    """A sealed bundle that does not open with the passphrase given (or was altered)."""


class SubscriptionNotFound(ProvisionerError):
    pass
