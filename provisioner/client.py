"""A Python client for the provisioner's HTTP API: one typed method per route, plus waiting for a job
and following its log.

    client = ProvisionerClient("http://127.0.0.1:8080")
    accepted = client.deploy("demo", {"main.tf": code}, {"name": "x"})
    job = client.wait(accepted.jobId, on_update=lambda job: print(job.phase, job.progress))

Responses are the API's own models (``core.responses``); ``client.raw`` has the same calls
returning the JSON exactly as the API sent it. Errors are ``ApiError`` (the API answered with an
error body) or ``ServiceUnreachable`` (no answer at all). Installs behind IAM authorization get
SigV4-signed requests (service ``execute-api``), with botocore's signer and credential chain.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPException, RemoteDisconnected
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode, urlsplit

from core.records import TERMINAL_JOB_STATUSES
from core.responses import (
    CancelOut,
    CostsOut,
    DeployAccepted,
    HealthOut,
    InfrastructureOut,
    JobListOut,
    JobOut,
    LogOut,
    OutputsOut,
    StateOut,
    ValidationOut,
)

if TYPE_CHECKING:
    from botocore.credentials import Credentials

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT: Final = 30.0
SIGNING_SERVICE: Final = "execute-api"
USER_AGENT: Final = "terraform-provisioner-client/1.0"
# Answers worth another try: throttling and a gateway that lost its backend for a moment.
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com$")


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


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


def region_from_host(host: str) -> str | None:
    """``abc123.execute-api.eu-west-1.amazonaws.com`` -> ``eu-west-1``."""
    match = _EXECUTE_API_HOST.search(host.lower())
    return match.group(1) if match else None


def is_aws_host(host: str) -> bool:
    return host.lower().rstrip(".").endswith(".amazonaws.com")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SigV4Signer:
    """Signs requests the way API Gateway's IAM authorization checks them, with botocore's signer.

    Credentials come from botocore's default chain (environment, profiles, SSO, container and
    instance roles) unless given; refreshable ones are frozen per request, so they never expire
    mid-signature.
    """

    def __init__(
        self,
        region: str | None = None,
        credentials: Credentials | None = None,
        service: str = SIGNING_SERVICE,
    ) -> None:
        import botocore.session  # noqa: PLC0415 - only installs behind IAM auth need botocore's session

        session = botocore.session.get_session()
        self.region = region or session.get_config_variable("region") or "us-east-1"
        self.service = service
        self._credentials = credentials if credentials is not None else session.get_credentials()

    def sign(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        """The headers to send: the given ones plus X-Amz-Date, the session token and Authorization."""
        from botocore.auth import SigV4Auth  # noqa: PLC0415 - see __init__
        from botocore.awsrequest import AWSRequest  # noqa: PLC0415

        if self._credentials is None:
            raise SigningError(
                "the endpoint needs SigV4-signed requests but no AWS credentials were found "
                "(set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run aws sso login)"
            )
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(self._credentials.get_frozen_credentials(), self.service, self.region).add_auth(request)
        return {str(name): str(value) for name, value in request.headers.items()}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the API key and the signature to another URL, and turn a POST into a
    GET: report it instead (the 3xx comes back as an HTTPError)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _Transport:
    """One HTTP exchange at a time over urllib, with signing, the API key and a few retries."""

    def __init__(
        self,
        endpoint: str,
        *,
        signer: SigV4Signer | None,
        api_key: str | None,
        timeout: float,
        retries: int,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint {endpoint!r} must be an http:// or https:// URL")
        self.endpoint = endpoint.rstrip("/")
        self.signer = signer
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        # Proxies from the environment are for the outside world, never for this machine's own server.
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if _is_loopback(parts.hostname):
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | int | None] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> Any:
        """The answer's JSON; an ``ApiError`` for any status from 300 up."""
        url = self.endpoint + path
        pairs = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if pairs:
            # quote, not quote_plus: SigV4's canonical query string encodes spaces as %20.
            url += "?" + urlencode(sorted(pairs.items()), quote_via=quote)
        data = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        if self.api_key:
            all_headers["x-api-key"] = self.api_key
        attempts = 1 + (self.retries if retry else 0)
        for attempt in range(attempts):
            reply = self._exchange(method, url, all_headers, data, last=attempt == attempts - 1)
            if reply is not None and (reply.status not in RETRY_STATUSES or attempt == attempts - 1):
                break
            time.sleep(min(4.0, 0.5 * 2**attempt))
        assert reply is not None
        try:
            document = reply.json()
        except ValueError:
            document = None
        if 300 <= reply.status < 400:
            location = reply.headers.get("Location") or reply.headers.get("location") or "elsewhere"
            message = f"the endpoint redirects to {location}: use that URL as the endpoint"
            raise ApiError(reply.status, {"error": f"http_{reply.status}", "message": message})
        if reply.status >= 400:
            if not isinstance(document, dict):
                text = reply.body.decode("utf-8", "replace").strip()[:500]
                document = {"error": f"http_{reply.status}", "message": text or "no message"}
            raise ApiError(reply.status, document)
        if document is None and reply.body.strip():
            raise ServiceUnreachable(self.endpoint, "the answer is not JSON: is this the provisioner's API?")
        return document

    def _exchange(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None, *, last: bool
    ) -> Reply | None:
        """One try; None when the connection broke in a way that is worth trying again."""
        sent = self.signer.sign(method, url, headers, data) if self.signer else headers
        # The scheme was checked in __init__: http or https, never file: or custom ones.
        request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Reply(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as error:
            with error:
                return Reply(error.code, dict(error.headers.items()), error.read())
        except (RemoteDisconnected, ConnectionResetError) as exc:
            if last:
                raise ServiceUnreachable(self.endpoint, f"the connection was closed ({exc})") from exc
            return None
        except urllib.error.URLError as exc:
            raise ServiceUnreachable(self.endpoint, _describe(exc.reason)) from exc
        except TimeoutError as exc:
            raise ServiceUnreachable(self.endpoint, f"no answer within {self.timeout:g}s") from exc
        except (HTTPException, OSError) as exc:
            raise ServiceUnreachable(self.endpoint, _describe(exc)) from exc


def _describe(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    if isinstance(reason, socket.gaierror):
        return f"the host name does not resolve ({reason.strerror})"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return str(reason)


def _segment(value: str) -> str:
    """A path parameter, escaped so that an id can never name another route."""
    return quote(value, safe="")


class RawApi:
    """Every route, answering the JSON exactly as the API sent it (what ``--json`` prints)."""

    def __init__(self, transport: _Transport) -> None:
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
    ) -> Any:
        body: dict[str, Any] = {"projectId": project_id, "files": dict(files)}
        if variables:
            body["variables"] = dict(variables)
        # A key per call makes a retried POST safe: the API answers the first response again.
        key = idempotency_key or str(uuid.uuid4())
        return self._http.send("POST", "/api/deploy", body=body, headers={"Idempotency-Key": key})

    def destroy(self, project_id: str, *, idempotency_key: str | None = None) -> Any:
        key = idempotency_key or str(uuid.uuid4())
        return self._http.send(
            "POST", "/api/deploy/destroy", body={"projectId": project_id}, headers={"Idempotency-Key": key}
        )

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
        self._transport = _Transport(
            endpoint, signer=signer, api_key=api_key, timeout=timeout, retries=retries
        )
        self.raw = RawApi(self._transport)

    @property
    def endpoint(self) -> str:
        return self._transport.endpoint

    def health(self) -> HealthOut:
        return HealthOut.model_validate(self.raw.health())

    def deploy(
        self,
        project_id: str,
        files: Mapping[str, str],
        variables: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> DeployAccepted:
        """Send a configuration (relative path -> text) and start a deploy job."""
        answer = self.raw.deploy(project_id, files, variables, idempotency_key=idempotency_key)
        return DeployAccepted.model_validate(answer)

    def destroy(self, project_id: str, *, idempotency_key: str | None = None) -> DeployAccepted:
        return DeployAccepted.model_validate(self.raw.destroy(project_id, idempotency_key=idempotency_key))

    def cancel(self, job_id: str) -> CancelOut:
        return CancelOut.model_validate(self.raw.cancel(job_id))

    def status(self, job_id: str) -> JobOut:
        return JobOut.model_validate(self.raw.status(job_id))

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
        on_update: Callable[[JobOut], None] | None = None,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
    ) -> JobOut:
        """Poll the job until it has completed or failed and return its last status.

        ``on_update`` sees every status read, the last one included. ``WaitTimeout`` after
        ``timeout`` seconds; the job itself keeps running.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.status(job_id)
            if on_update is not None:
                on_update(job)
            if job.status in TERMINAL_JOB_STATUSES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(job)
            time.sleep(poll)
