"""A Python client for the provisioner's HTTP API: one typed method per route, plus waiting for a job
and following its log.

    client = ProvisionerClient("http://127.0.0.1:8080")
    accepted = client.deploy("demo", {"main.tf": code}, {"name": "x"})
    job = client.wait(accepted.jobId, on_update=lambda job: print(job.phase, job.progress))

Responses are the API's own models (``core.responses``); ``client.raw`` has the same calls
returning the JSON exactly as the API sent it. Errors are ``ApiError`` (the API answered with an
error body) or ``ServiceUnreachable`` (no answer at all). Installs behind IAM authorization get
SigV4-signed requests (service ``execute-api``), with botocore's signer and credential chain.

The exchange itself (httpx, retries, redirects, proxies) is ``provisioner.transport``; signing is
``provisioner.signing``; the errors are ``provisioner.errors``, all re-exported here.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, urlsplit

from core.records import TERMINAL_JOB_STATUSES
from core.responses import (
    CancelOut,
    CostsOut,
    HealthOut,
    InfrastructureOut,
    JobListOut,
    LogOut,
    OutputsOut,
    StateOut,
    ValidationOut,
)
from provisioner.errors import (
    ApiError,
    InvalidPolicy,
    NotAwaitingApproval,
    PlanNotReady,
    ProvisionerError,
    SecondIdentityRequired,
    ServiceUnreachable,
    SigningError,
    StalePlan,
    WaitTimeout,
)
from provisioner.models import (
    Accepted,
    Decision,
    DryRunOut,
    JobDetail,
    PlanOut,
    PolicyListOut,
    PolicyOut,
    PolicyVersionsOut,
)
from provisioner.signing import SIGNING_SERVICE, SigV4Signer, is_aws_host, region_from_host
from provisioner.transport import DEFAULT_TIMEOUT, RETRY_STATUSES, USER_AGENT, Reply, Transport

if TYPE_CHECKING:
    from botocore.credentials import Credentials

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_TIMEOUT",
    "RETRY_STATUSES",
    "SIGNING_SERVICE",
    "USER_AGENT",
    "Accepted",
    "ApiError",
    "Approval",
    "Decision",
    "DryRunOut",
    "InvalidPolicy",
    "JobDetail",
    "NotAwaitingApproval",
    "PlanNotReady",
    "PlanOut",
    "PolicyLevel",
    "PolicyListOut",
    "PolicyOut",
    "PolicyVersionsOut",
    "ProvisionerClient",
    "ProvisionerError",
    "RawApi",
    "RegoSyntax",
    "Reply",
    "SecondIdentityRequired",
    "ServiceUnreachable",
    "SigV4Signer",
    "SigningError",
    "StalePlan",
    "WaitTimeout",
    "WhenBusy",
    "is_aws_host",
    "region_from_host",
]

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8080"
# Whether a person must approve the job's plan before it is applied (the project's default otherwise).
Approval = Literal["required", "auto"]
# When the project is busy with another job: wait in its queue (the API's default), or be refused.
WhenBusy = Literal["queue", "reject"]
# What a failing policy does: nothing, warn, stop until someone else overrides it, or stop the job.
PolicyLevel = Literal["off", "advisory", "soft-mandatory", "mandatory"]
# OPA 1.x syntax, or the pre-1.0 one.
RegoSyntax = Literal["v1", "v0"]


def _segment(value: str) -> str:
    """A path parameter, escaped so that an id can never name another route."""
    return quote(value, safe="")


def _options(
    *,
    approval: Approval | None = None,
    when_busy: WhenBusy | None = None,
    supersede: bool | None = None,
    allow_destroy: bool | None = None,
) -> dict[str, Any]:
    """A job's options as the API spells them; those not given are left to the service's defaults."""
    given = {
        "approval": approval,
        "whenBusy": when_busy,
        "supersede": supersede,
        "allowDestroy": allow_destroy,
    }
    return {name: value for name, value in given.items() if value is not None}


def _policy(name: str) -> str:
    return f"/api/deploy/policies/{_segment(name)}"


class RawApi:
    """Every route, answering the JSON exactly as the API sent it (what ``--json`` prints)."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport

    def health(self) -> Any:
        return self._http.send("GET", "/api/health")

    def deploy(
        self,
        project_id: str,
        files: Mapping[str, str],
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        approval: Approval | None = None,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Any:
        body: dict[str, Any] = {"projectId": project_id, "files": dict(files)}
        if variables:
            body["variables"] = dict(variables)
        body.update(
            _options(approval=approval, when_busy=when_busy, supersede=supersede, allow_destroy=allow_destroy)
        )
        # A key per call makes a retried POST safe: the API answers the first response again.
        key = idempotency_key or str(uuid.uuid4())
        return self._http.send("POST", "/api/deploy", body=body, headers={"Idempotency-Key": key})

    def destroy(
        self,
        project_id: str,
        *,
        idempotency_key: str | None = None,
        approval: Approval | None = None,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Any:
        body = {
            "projectId": project_id,
            **_options(
                approval=approval, when_busy=when_busy, supersede=supersede, allow_destroy=allow_destroy
            ),
        }
        key = idempotency_key or str(uuid.uuid4())
        return self._http.send("POST", "/api/deploy/destroy", body=body, headers={"Idempotency-Key": key})

    def plan(
        self,
        project_id: str,
        files: Mapping[str, str],
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        body: dict[str, Any] = {"projectId": project_id, "files": dict(files)}
        if variables:
            body["variables"] = dict(variables)
        key = idempotency_key or str(uuid.uuid4())
        return self._http.send("POST", "/api/deploy/plan", body=body, headers={"Idempotency-Key": key})

    def get_plan(self, job_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/plan/{_segment(job_id)}")

    def apply(
        self,
        plan_job_id: str,
        *,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Any:
        # Never retried: a second apply of the same plan would be refused as stale, hiding the first.
        body = _options(when_busy=when_busy, supersede=supersede, allow_destroy=allow_destroy)
        return self._http.send("POST", f"/api/deploy/apply/{_segment(plan_job_id)}", body=body, retry=False)

    def approve(self, job_id: str, comment: str | None = None) -> Any:
        # A decision is never retried: the second answer would be a confusing 409, as for a cancel.
        body = {"comment": comment} if comment else {}
        return self._http.send("POST", f"/api/deploy/approve/{_segment(job_id)}", body=body, retry=False)

    def discard(self, job_id: str, comment: str | None = None) -> Any:
        body = {"comment": comment} if comment else {}
        return self._http.send("POST", f"/api/deploy/discard/{_segment(job_id)}", body=body, retry=False)

    def override(self, job_id: str, reason: str) -> Any:
        # A decision: never retried, as approve and discard.
        return self._http.send(
            "POST", f"/api/deploy/override/{_segment(job_id)}", body={"reason": reason}, retry=False
        )

    def state_versions(self, project_id: str, limit: int = 20, next_token: str | None = None) -> Any:
        return self._http.send(
            "GET",
            f"/api/deploy/state/{_segment(project_id)}/versions",
            query={"limit": limit, "next": next_token},
        )

    def state_version(self, project_id: str, serial: int) -> Any:
        return self._http.send("GET", f"/api/deploy/state/{_segment(project_id)}/versions/{serial}")

    def rollback(self, project_id: str, serial: int, reason: str) -> Any:
        # Never retried: a retry after a lost answer would write yet another version.
        return self._http.send(
            "POST",
            f"/api/deploy/state/{_segment(project_id)}/rollback",
            body={"serial": serial, "reason": reason},
            retry=False,
        )

    def backup(self, project_id: str, passphrase: str) -> Any:
        return self._http.send(
            "GET", f"/api/deploy/backup/{_segment(project_id)}", headers={"X-Backup-Passphrase": passphrase}
        )

    def restore(self, project_id: str, bundle: Mapping[str, Any], passphrase: str) -> Any:
        return self._http.send(
            "POST",
            f"/api/deploy/restore/{_segment(project_id)}",
            body={"bundle": dict(bundle)},
            headers={"X-Backup-Passphrase": passphrase},
            retry=False,
        )

    def settings(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/settings/{_segment(project_id)}")

    def update_settings(
        self, project_id: str, approval: str | None = None, drift_schedule: str | None = None
    ) -> Any:
        # Setting the same value twice is harmless: a PUT may be retried.
        body = {"approval": approval, "driftSchedule": drift_schedule}
        return self._http.send(
            "PUT",
            f"/api/deploy/settings/{_segment(project_id)}",
            body={k: v for k, v in body.items() if v is not None},
        )

    def drift(self, project_id: str, limit: int | None = None, next: str | None = None) -> Any:
        return self._http.send(
            "GET", f"/api/deploy/drift/{_segment(project_id)}", query={"limit": limit, "next": next}
        )

    def drift_fleet(self) -> Any:
        return self._http.send("GET", "/api/deploy/drift")

    def check_drift(self, project_id: str) -> Any:
        # Not retried: a second check would only be a second (harmless) job, but say so once.
        return self._http.send("POST", f"/api/deploy/drift/{_segment(project_id)}", body={}, retry=False)

    def remediate(self, project_id: str, mode: str) -> Any:
        return self._http.send(
            "POST", f"/api/deploy/drift/{_segment(project_id)}/remediate", body={"mode": mode}, retry=False
        )

    def policies(self, project_id: str | None = None) -> Any:
        return self._http.send("GET", "/api/deploy/policies", query={"projectId": project_id})

    def policy(self, name: str, project_id: str | None = None, version: int | None = None) -> Any:
        return self._http.send("GET", _policy(name), query={"projectId": project_id, "version": version})

    def policy_versions(self, name: str, project_id: str | None = None) -> Any:
        return self._http.send("GET", _policy(name) + "/versions", query={"projectId": project_id})

    def put_policy(
        self,
        name: str,
        level: PolicyLevel,
        *,
        project_id: str | None = None,
        rego: str | None = None,
        syntax: RegoSyntax = "v1",
        settings: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Any:
        body: dict[str, Any] = {"level": level, "syntax": syntax, "description": description}
        given = {"projectId": project_id, "rego": rego, "settings": dict(settings) if settings else None}
        body.update({key: value for key, value in given.items() if value is not None})
        # Never retried: each PUT stores a version, so a retry after a lost answer would store two.
        return self._http.send("PUT", _policy(name), body=body, retry=False)

    def delete_policy(self, name: str, project_id: str | None = None) -> Any:
        # A delete stores a (deleting) version too: never retried.
        return self._http.send("DELETE", _policy(name), query={"projectId": project_id}, retry=False)

    def dry_run(self, plan_job_id: str, **fields: Any) -> Any:
        """``fields``: the rest of the request as the API spells them (name, version, scope, level,
        rego, syntax, settings, caller); those that are None are left out."""
        body = {"planJobId": plan_job_id, **{k: v for k, v in fields.items() if v is not None}}
        # Nothing is stored: safe to retry.
        return self._http.send("POST", "/api/deploy/policies/dry-run", body=body)

    def notifications(self, project_id: str | None = None) -> Any:
        return self._http.send("GET", "/api/deploy/notifications", query={"projectId": project_id})

    def add_notification(
        self, url: str, events: Sequence[str], *, project_id: str | None = None, description: str = ""
    ) -> Any:
        body: dict[str, Any] = {"url": url, "events": list(events)}
        if project_id:
            body["projectId"] = project_id
        if description:
            body["description"] = description
        # Never retried: a retry after a lost answer would make a second subscription, and the
        # first one's secret would be lost with that answer.
        return self._http.send("POST", "/api/deploy/notifications", body=body, retry=False)

    def remove_notification(self, subscription_id: str) -> Any:
        return self._http.send(
            "DELETE", f"/api/deploy/notifications/{_segment(subscription_id)}", retry=False
        )

    def notification_deliveries(self, subscription_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/notifications/{_segment(subscription_id)}/deliveries")

    def cancel(self, job_id: str) -> Any:
        # Cancelling twice is harmless, but the second answer would be a confusing 409: never retried.
        return self._http.send("POST", f"/api/deploy/cancel/{_segment(job_id)}", retry=False)

    def status(self, job_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/status/{_segment(job_id)}")

    def jobs(self, project_id: str | None = None, limit: int | None = None, next: str | None = None) -> Any:
        return self._http.send(
            "GET", "/api/deploy/jobs", query={"projectId": project_id, "limit": limit, "next": next}
        )

    def logs(self, job_id: str, offset: int = 0) -> Any:
        return self._http.send("GET", f"/api/deploy/logs/{_segment(job_id)}", query={"offset": offset})

    def infrastructure(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/infrastructure/{_segment(project_id)}")

    def outputs(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/outputs/{_segment(project_id)}")

    def state(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/state/{_segment(project_id)}")

    def validate(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/validate/{_segment(project_id)}")

    def costs(self, project_id: str) -> Any:
        return self._http.send("GET", f"/api/deploy/costs/{_segment(project_id)}")

    def openapi(self) -> Any:
        return self._http.send("GET", "/api/openapi.json")


class ProvisionerClient:
    """Typed calls for every route of the API.

    ``sign``: SigV4-sign every request (service ``execute-api``); ``None`` signs when the endpoint
    is an ``*.amazonaws.com`` host. ``region`` defaults to the one in the host name, then botocore's
    configuration. ``api_key`` is sent as ``x-api-key``. ``timeout`` is per HTTP request; GETs and
    POSTs (with an Idempotency-Key) are retried ``retries`` times on 429/502/503/504.
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        sign: bool | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        region: str | None = None,
        credentials: Credentials | None = None,
        retries: int = 2,
    ) -> None:
        host = urlsplit(endpoint).hostname or ""
        self.signed = is_aws_host(host) if sign is None else sign
        signer = SigV4Signer(region or region_from_host(host), credentials) if self.signed else None
        self._transport = Transport(
            endpoint, signer=signer, api_key=api_key, timeout=timeout, retries=retries
        )
        self.raw = RawApi(self._transport)

    @property
    def endpoint(self) -> str:
        return self._transport.endpoint

    def close(self) -> None:
        """Close the HTTP client (also done on leaving a ``with`` block)."""
        self._transport.close()

    def __enter__(self) -> ProvisionerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def health(self) -> HealthOut:
        return HealthOut.model_validate(self.raw.health())

    def deploy(
        self,
        project_id: str,
        files: Mapping[str, str],
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        approval: Approval | None = None,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Accepted:
        """Send a configuration (relative path -> text) and start a deploy job.

        ``approval="required"``: the job plans, then waits for ``approve`` (or ``discard``).
        ``when_busy="reject"``: refused (409) instead of queued when the project has a job running;
        ``supersede``: a queued job of the project that has not started is replaced by this one.
        ``allow_destroy``: deletes a destroy-protection policy guards may go ahead, once someone
        other than the submitter approves the plan.
        """
        answer = self.raw.deploy(
            project_id,
            files,
            variables,
            idempotency_key=idempotency_key,
            approval=approval,
            when_busy=when_busy,
            supersede=supersede,
            allow_destroy=allow_destroy,
        )
        return Accepted.model_validate(answer)

    def destroy(
        self,
        project_id: str,
        *,
        idempotency_key: str | None = None,
        approval: Approval | None = None,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Accepted:
        answer = self.raw.destroy(
            project_id,
            idempotency_key=idempotency_key,
            approval=approval,
            when_busy=when_busy,
            supersede=supersede,
            allow_destroy=allow_destroy,
        )
        return Accepted.model_validate(answer)

    def plan(
        self,
        project_id: str,
        files: Mapping[str, str],
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Start a plan job (``plan-...``): the changes the code would make, kept for ``apply``."""
        answer = self.raw.plan(project_id, files, variables, idempotency_key=idempotency_key)
        return Accepted.model_validate(answer)

    def get_plan(self, job_id: str) -> PlanOut:
        """The plan a job made (a plan job, or a gated deploy or destroy once planned).
        ``PlanNotReady`` while it is still planning."""
        return PlanOut.model_validate(self.raw.get_plan(job_id))

    def apply(
        self,
        plan_job_id: str,
        *,
        when_busy: WhenBusy | None = None,
        supersede: bool | None = None,
        allow_destroy: bool | None = None,
    ) -> Accepted:
        """Start a deploy job that applies exactly this plan. ``StalePlan`` (its ``reasons``) when the
        state or the code moved since; ``PlanNotReady`` while it is still planning."""
        answer = self.raw.apply(
            plan_job_id, when_busy=when_busy, supersede=supersede, allow_destroy=allow_destroy
        )
        return Accepted.model_validate(answer)

    def approve(self, job_id: str, comment: str | None = None) -> Decision:
        """Apply a job's plan, which waits for a person. ``NotAwaitingApproval`` when it does not;
        ``SecondIdentityRequired`` when it deletes protected resources and the caller submitted it.
        The plan may still wait for an override after it (the decision's message says so)."""
        return Decision.model_validate(self.raw.approve(job_id, comment))

    def override(self, job_id: str, reason: str) -> Decision:
        """Let a plan through the soft-mandatory policies it failed, saying why. Someone other than
        the submitter only (``SecondIdentityRequired``); ``NotAwaitingApproval`` when nothing is to
        be overridden."""
        return Decision.model_validate(self.raw.override(job_id, reason))

    def discard(self, job_id: str, comment: str | None = None) -> Decision:
        """Refuse a job's plan: the job ends, failed, with nothing applied."""
        return Decision.model_validate(self.raw.discard(job_id, comment))

    def policies(self, project_id: str | None = None) -> PolicyListOut:
        """The install's policies (and the project's, with ``project_id``) and the built-ins."""
        return PolicyListOut.model_validate(self.raw.policies(project_id))

    def policy(self, name: str, project_id: str | None = None, version: int | None = None) -> PolicyOut:
        """A policy's latest version (or ``version``), its Rego source or settings included."""
        return PolicyOut.model_validate(self.raw.policy(name, project_id, version))

    def policy_versions(self, name: str, project_id: str | None = None) -> PolicyVersionsOut:
        return PolicyVersionsOut.model_validate(self.raw.policy_versions(name, project_id))

    def put_policy(
        self,
        name: str,
        level: PolicyLevel,
        *,
        project_id: str | None = None,
        rego: str | None = None,
        syntax: RegoSyntax = "v1",
        settings: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> PolicyOut:
        """Store a policy's new version: a built-in's ``settings`` or a Rego module. The install's,
        or the project's with ``project_id``. ``InvalidPolicy`` (``line``, ``column``) for Rego that
        does not compile."""
        answer = self.raw.put_policy(
            name,
            level,
            project_id=project_id,
            rego=rego,
            syntax=syntax,
            settings=settings,
            description=description,
        )
        return PolicyOut.model_validate(answer)

    def delete_policy(self, name: str, project_id: str | None = None) -> PolicyOut:
        """Turn a policy off for good: its deleting version (the history stays)."""
        return PolicyOut.model_validate(self.raw.delete_policy(name, project_id))

    def dry_run(self, plan_job_id: str, **fields: Any) -> DryRunOut:
        """What policies say of a stored plan, nothing recorded: a Rego module (``rego=``), a stored
        policy (``name=``, ``version=``, ``scope=``), a built-in's ``settings``, or the whole set."""
        return DryRunOut.model_validate(self.raw.dry_run(plan_job_id, **fields))

    def cancel(self, job_id: str) -> CancelOut:
        return CancelOut.model_validate(self.raw.cancel(job_id))

    def status(self, job_id: str) -> JobDetail:
        return JobDetail.model_validate(self.raw.status(job_id))

    def jobs(
        self, project_id: str | None = None, limit: int | None = None, next: str | None = None
    ) -> JobListOut:
        return JobListOut.model_validate(self.raw.jobs(project_id, limit, next))

    def logs(self, job_id: str, offset: int = 0) -> LogOut:
        return LogOut.model_validate(self.raw.logs(job_id, offset))

    def follow_logs(self, job_id: str, offset: int = 0, *, poll: float = 1.0) -> Iterator[str]:
        """The log from ``offset`` on, chunk by chunk as it is written, until the job has ended."""
        while True:
            chunk = self.logs(job_id, offset)
            if chunk.content:
                yield chunk.content
            if chunk.complete:
                return
            if chunk.nextOffset == offset:
                time.sleep(poll)
            offset = chunk.nextOffset

    def infrastructure(self, project_id: str) -> InfrastructureOut:
        return InfrastructureOut.model_validate(self.raw.infrastructure(project_id))

    def outputs(self, project_id: str) -> OutputsOut:
        return OutputsOut.model_validate(self.raw.outputs(project_id))

    def state(self, project_id: str) -> StateOut:
        return StateOut.model_validate(self.raw.state(project_id))

    def validate(self, project_id: str) -> ValidationOut:
        return ValidationOut.model_validate(self.raw.validate(project_id))

    def costs(self, project_id: str) -> CostsOut:
        return CostsOut.model_validate(self.raw.costs(project_id))

    def wait(
        self,
        job_id: str,
        on_update: Callable[[JobDetail], None] | None = None,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        until: Callable[[JobDetail], bool] | None = None,
    ) -> JobDetail:
        """Poll the job until it has completed or failed (or ``until`` holds) and return its last
        status, e.g. ``until=lambda job: job.awaiting_approval`` to stop where a person decides.

        ``on_update`` sees every status read, the last one included. ``WaitTimeout`` after
        ``timeout`` seconds; the job itself keeps running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.status(job_id)
            if on_update is not None:
                on_update(job)
            if job.status in TERMINAL_JOB_STATUSES or (until is not None and until(job)):
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job)
            time.sleep(poll)
