"""One JSON exchange with the API over httpx: signing, the API key, bounded retries (tenacity), no
redirects, and never a proxy for this machine's own server.

httpx is imported when the first transport is made, not with the module: ``provisioner --help`` and
the offline ``estimate`` never pay for it.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode, urlsplit

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)

from provisioner.errors import ApiError, ServiceUnreachable, api_error

if TYPE_CHECKING:
    import httpx

    from provisioner.signing import SigV4Signer

DEFAULT_TIMEOUT: Final = 30.0
USER_AGENT: Final = "terraform-provisioner-client/1.0"
# Answers worth another try: throttling and a gateway that lost its backend for a moment.
RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
# Waits between tries: 0.5 s, 1 s, 2 s, then 4 s at most.
BACKOFF_FIRST: Final = 0.5
BACKOFF_MAX: Final = 4.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body.strip() else None


class ConnectionClosed(ServiceUnreachable):
    """The server closed the connection without an answer: worth another try."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _last_outcome(state: RetryCallState) -> Reply:
    """Tries used up: the last answer (a 429 or 50x, reported as such), or the last error raised."""
    assert state.outcome is not None
    reply: Reply = state.outcome.result()
    return reply


class Transport:
    """One HTTP exchange at a time over an httpx client, with signing, the API key and a few retries."""

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
        import httpx  # noqa: PLC0415 - see the module's docstring

        self.endpoint = endpoint.rstrip("/")
        self.signer = signer
        self.api_key = api_key
        self.timeout = timeout
        self.retries = retries
        loopback = is_loopback(parts.hostname)
        self._client: httpx.Client = httpx.Client(
            # A redirect would carry the API key and the signature to another URL, and turn a POST
            # into a GET: the 3xx is reported instead.
            follow_redirects=False,
            # Proxies from the environment are for the outside world, never for this machine's own
            # server; trust_env=False ignores HTTP(S)_PROXY and ALL_PROXY altogether.
            trust_env=not loopback,
            # Plain HTTP to this machine, with no proxy and no redirect, never opens a TLS
            # connection: skip loading the CA bundle (a quarter of a second per command).
            verify=not (loopback and parts.scheme == "http"),
            timeout=timeout,
            # One connection per exchange, as each request is a short call: none left half-open
            # between polls for a server (or a worker behind it) to close under the next request.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

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
        retrying = Retrying(
            stop=stop_after_attempt(1 + (self.retries if retry else 0)),
            wait=wait_exponential(multiplier=BACKOFF_FIRST, max=BACKOFF_MAX),
            retry=retry_if_exception_type(ConnectionClosed)
            | retry_if_result(lambda reply: reply.status in RETRY_STATUSES),
            retry_error_callback=_last_outcome,
        )
        reply: Reply = retrying(self._exchange, method, url, all_headers, data)
        return self._document(reply)

    def _document(self, reply: Reply) -> Any:
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
            raise api_error(reply.status, document)
        if document is None and reply.body.strip():
            raise ServiceUnreachable(self.endpoint, "the answer is not JSON: is this the provisioner's API?")
        return document

    def _exchange(self, method: str, url: str, headers: dict[str, str], data: bytes | None) -> Reply:
        """One try; ``ConnectionClosed`` when the connection broke in a way worth trying again."""
        import httpx  # noqa: PLC0415 - already loaded by __init__

        # Signed over the exact URL and bytes that go out: httpx sends an already-escaped URL as is.
        sent = self.signer.sign(method, url, headers, data) if self.signer else headers
        request = self._client.build_request(method, url, content=data, headers=sent)
        try:
            response = self._client.send(request)
        except httpx.ConnectTimeout as exc:
            raise ServiceUnreachable(self.endpoint, "timed out") from exc
        except httpx.TimeoutException as exc:
            raise ServiceUnreachable(self.endpoint, f"no answer within {self.timeout:g}s") from exc
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            if isinstance(exc, httpx.RemoteProtocolError) and "disconnected" not in str(exc):
                raise ServiceUnreachable(self.endpoint, str(exc)) from exc  # not speaking HTTP
            raise ConnectionClosed(self.endpoint, f"the connection was closed ({exc})") from exc
        except httpx.TransportError as exc:
            raise ServiceUnreachable(self.endpoint, _describe(exc)) from exc
        return Reply(response.status_code, dict(response.headers.items()), response.content)


def _describe(error: BaseException) -> str:
    """The cause httpx wraps (refused, unresolvable) in words; the error itself otherwise."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (nothing listens there)"
        if isinstance(cause, socket.gaierror):
            return f"the host name does not resolve ({cause.strerror})"
        cause = cause.__cause__ or cause.__context__
    return str(error) or type(error).__name__
