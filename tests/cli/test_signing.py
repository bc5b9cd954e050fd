"""SigV4 for installs behind IAM authorization, and the API key, checked on the bytes that arrive.

A loopback server records each request as received. The check is botocore's own: ``SigV4Auth``
signs an identical ``AWSRequest`` (the signed headers, the body) with the same credentials at the
same ``X-Amz-Date``, and its ``Authorization`` header must be the one that arrived. A request
changed after signing (body, a signed header, another secret) must not match.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from provisioner.client import ApiError, ProvisionerClient, SigningError, region_from_host
from tests.cli.helpers import invoke

REGION = "eu-west-1"
CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-1")
JOB = "deploy-1700000000000-abcdef123"


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]  # names lower-cased
    body: bytes


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[Received]] = []
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.received.append(Received(self.command, self.path, headers, body))
        path = self.path.partition("?")[0]
        if path.startswith("/moved/"):
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.example" + path.removeprefix("/moved"))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer: dict[str, Any] = {"status": "ok", "version": "1.0.0"}
        status = 200
        if path == "/api/deploy":
            answer, status = {"jobId": JOB, "status": "accepted", "message": "started"}, 202
        elif path == "/api/deploy/jobs":
            answer = {"jobs": [], "next": None}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the recorded requests instead."""


@pytest.fixture(scope="module")
def recorder() -> Iterator[tuple[str, list[Received]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.received
    server.shutdown()
    server.server_close()


@pytest.fixture
def received(recorder: tuple[str, list[Received]]) -> list[Received]:
    recorder[1].clear()
    return recorder[1]


def expected_authorization(
    request: Received, credentials: Credentials, region: str, monkeypatch: pytest.MonkeyPatch
) -> str:
    """What botocore's SigV4Auth puts in Authorization for this request at its X-Amz-Date."""
    authorization = request.headers["authorization"]
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    # The identical request: what arrived, restricted to the headers the signature claims to cover.
    headers = {name: request.headers[name] for name in signed if name not in ("x-amz-date",)}
    when = datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, **__: when.replace(tzinfo=None))
    url = f"http://{request.headers['host']}{request.path}"
    rebuilt = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(rebuilt)
    return str(rebuilt.headers["Authorization"])


def verifies(
    request: Received,
    monkeypatch: pytest.MonkeyPatch,
    credentials: Credentials = CREDENTIALS,
    region: str = REGION,
) -> bool:
    return (
        expected_authorization(request, credentials, region, monkeypatch) == request.headers["authorization"]
    )


def signed_client(endpoint: str) -> ProvisionerClient:
    return ProvisionerClient(endpoint, sign=True, region=REGION, credentials=CREDENTIALS)


def test_a_signed_post_verifies_and_a_tampered_one_does_not(
    recorder: tuple[str, list[Received]], received: list[Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deploy sent by a signing client
    accepted = signed_client(recorder[0]).deploy("demo", {"main.tf": 'resource "x" "y" {}\n'}, {"n": 1})
    assert accepted.jobId == JOB
    [request] = received

    # Then what arrived carries botocore's signature over it, for execute-api in the region
    authorization = request.headers["authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{request.headers['x-amz-date'][:8]}/{REGION}/execute-api/aws4_request, "
    )
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-security-token", "content-type", "idempotency-key"} <= set(signed)
    assert request.headers["x-amz-security-token"] == "session-token-1"
    assert verifies(request, monkeypatch)

    # And the same request changed after signing does not verify
    tampered_body = replace(request, body=request.body.replace(b'"n":1', b'"n":2'))
    assert tampered_body.body != request.body and not verifies(tampered_body, monkeypatch)
    tampered_header = replace(request, headers={**request.headers, "idempotency-key": "another-key"})
    assert not verifies(tampered_header, monkeypatch)
    later = replace(request, headers={**request.headers, "x-amz-date": "20300101T000000Z"})
    assert not verifies(later, monkeypatch)
    other_path = replace(request, path="/api/deploy/destroy")
    assert not verifies(other_path, monkeypatch)
    # nor with another secret, or for another region
    stolen_id = Credentials(CREDENTIALS.access_key, "not-the-secret", CREDENTIALS.token)
    assert not verifies(request, monkeypatch, credentials=stolen_id)
    assert not verifies(request, monkeypatch, region="us-east-1")


def test_a_signed_get_with_a_query_verifies(
    recorder: tuple[str, list[Received]], received: list[Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page token holds characters that need escaping; the canonical query string must agree
    signed_client(recorder[0]).jobs("demo", 5, "eyJhIjogMX0=/+ x")
    [request] = received
    assert request.path.startswith("/api/deploy/jobs?")
    assert verifies(request, monkeypatch)
    assert not verifies(replace(request, path=request.path.replace("limit=5", "limit=50")), monkeypatch)


def test_the_command_line_signs_with_the_default_credential_chain(
    recorder: tuple[str, list[Received]], received: list[Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given credentials in the environment (the test session's fake ones), and --sign
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-env")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    run = invoke("health", "--sign", "--region", REGION, endpoint=recorder[0])
    assert run.code == 0, run.err
    [request] = received
    assert "x-amz-security-token" not in request.headers
    assert verifies(request, monkeypatch, credentials=Credentials("AKIDFROMENV", "secret-from-env"))


def test_unsigned_by_default_on_this_machine_and_signed_for_execute_api_hosts(
    recorder: tuple[str, list[Received]], received: list[Received]
) -> None:
    assert invoke("health", endpoint=recorder[0]).code == 0
    assert "authorization" not in received[0].headers
    # An API Gateway URL is signed for the region in its name; nothing is sent here
    client = ProvisionerClient(
        "https://abc123.execute-api.eu-central-1.amazonaws.com/v1", credentials=CREDENTIALS
    )
    assert client.signed
    assert region_from_host("abc123.execute-api.eu-central-1.amazonaws.com") == "eu-central-1"
    assert region_from_host("abc-vpce-1.execute-api.ap-south-1.vpce.amazonaws.com") == "ap-south-1"
    assert region_from_host("api.example.com") is None
    assert not ProvisionerClient("https://api.example.com").signed


def test_the_api_key_goes_in_x_api_key(
    recorder: tuple[str, list[Received]], received: list[Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("health", "--api-key", "key-from-flag", endpoint=recorder[0]).code == 0
    monkeypatch.setenv("PROVISIONER_API_KEY", "key-from-env")
    assert invoke("health", endpoint=recorder[0]).code == 0
    assert [r.headers.get("x-api-key") for r in received] == ["key-from-flag", "key-from-env"]


def test_signing_without_credentials_is_a_usage_error(
    recorder: tuple[str, list[Received]], received: list[Received], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    # Never ask an instance metadata service: this machine talks to loopback only.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    run = invoke("health", "--sign", endpoint=recorder[0])
    assert run.code == 2 and "no AWS credentials" in run.err
    assert received == []
    with pytest.raises(SigningError):
        ProvisionerClient(recorder[0], sign=True).health()


def test_a_redirect_is_reported_not_followed(
    recorder: tuple[str, list[Received]], received: list[Received]
) -> None:
    # Following it would hand the API key to another host, and turn a POST into a GET
    client = ProvisionerClient(recorder[0] + "/moved", api_key="secret-key")
    with pytest.raises(ApiError) as raised:
        client.deploy("demo", {"main.tf": "#"})
    assert raised.value.status == 301
    assert "redirects to https://elsewhere.example/api/deploy" in raised.value.message
    assert [(r.method, r.path) for r in received] == [("POST", "/moved/api/deploy")]
    run = invoke("health", endpoint=recorder[0] + "/moved")
    assert run.code == 1 and "use that URL as the endpoint" in run.err
