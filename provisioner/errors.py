"""What the client raises: the API's error answers, no answer at all, and signing without credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.responses import JobOut


class ProvisionerError(Exception):
    """Base of everything this client raises."""


class ApiError(ProvisionerError):
    """The API answered with an error: ``{"error", "message", ...}`` and its HTTP status."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        # API Gateway's own refusals (403 from IAM auth, say) carry only "message".
        self.error = str(body.get("error") or f"http_{status}")
        self.message = str(body.get("message") or body.get("Message") or "no message")
        super().__init__(f"{status} {self.error}: {self.message}")

    @property
    def field(self) -> str | None:
        value = self.body.get("field")
        return str(value) if value is not None else None

    @property
    def active_job_id(self) -> str | None:
        value = self.body.get("activeJobId")
        return str(value) if value is not None else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        value = self.body.get("errors")
        return [dict(item) for item in value if isinstance(item, dict)] if isinstance(value, list) else []

    @property
    def line(self) -> int | None:
        """Where a policy's Rego is wrong (a 400 invalid_policy), 1-based; None when not said."""
        return _number(self.body.get("line"))

    @property
    def column(self) -> int | None:
        return _number(self.body.get("column"))

    @property
    def reasons(self) -> list[str]:
        """Why the API refused, one sentence each (a stale plan's: what moved since it was made)."""
        value = self.body.get("reasons")
        return [str(item) for item in value] if isinstance(value, list) else []


class StalePlan(ApiError):
    """409 ``stale_plan``: the state or the code moved since the plan was made; ``reasons`` says how.
    Plan again, review, then apply the new plan."""


class PlanNotReady(ApiError):
    """409 ``plan_not_ready``: the plan job has not finished planning (or failed before a plan)."""


class NotAwaitingApproval(ApiError):
    """409 ``not_awaiting_approval``: the job is not waiting for a decision (any more)."""


class SecondIdentityRequired(ApiError):
    """403 ``second_identity_required``: the job's submitter may not decide this (a policy override,
    or the approval of deletes a destroy-protection policy guards); someone else must."""


class InvalidPolicy(ApiError):
    """400 ``invalid_policy``: the Rego does not compile; ``line`` and ``column`` say where."""


_BY_CODE: dict[str, type[ApiError]] = {
    "stale_plan": StalePlan,
    "plan_not_ready": PlanNotReady,
    "not_awaiting_approval": NotAwaitingApproval,
    "second_identity_required": SecondIdentityRequired,
    "invalid_policy": InvalidPolicy,
}


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def api_error(status: int, body: Mapping[str, Any]) -> ApiError:
    """The error answer as its most specific class (all of them ``ApiError``s)."""
    kind = _BY_CODE.get(str(body.get("error") or ""), ApiError)
    return kind(status, body)


class ServiceUnreachable(ProvisionerError):
    """No answer from the endpoint: refused, unresolvable, timed out, or not speaking HTTP."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach {endpoint}: {reason}")


class SigningError(ProvisionerError):
    """A request must be signed but there are no AWS credentials to sign it with."""


class WaitTimeout(ProvisionerError):
    def __init__(self, job: JobOut) -> None:
        self.job = job
        super().__init__(f"job {job.jobId} is still {job.status.value} ({job.phase}, {job.progress}%)")
