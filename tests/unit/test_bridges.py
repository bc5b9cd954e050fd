"""The job's bridges: what each policy lets through, and the relay itself over real sockets."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from runner.bridges import Bridge, EgressProxy, Refused, Request, SandboxPolicy, StatePolicy

LOCK = "state/projects/shop/terraform.tfstate"
STATE = StatePolicy(
    bucket="state",
    key="projects/shop/terraform.tfstate",
    lock_table="locks",
    lock_ids=frozenset({LOCK, f"{LOCK}-md5"}),
)
SIGNED = (
    "AWS4-HMAC-SHA256 Credential=ANYKEY/20261201/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"
)


def request(method: str, target: str, body: bytes = b"", **headers: str) -> Request:
    return Request(method, target, [(k.replace("_", "-"), v) for k, v in headers.items()], body)


def dynamodb(operation: str, document: dict[str, Any]) -> Request:
    return request("POST", "/", json.dumps(document).encode(), X_Amz_Target=f"DynamoDB_20120810.{operation}")


@pytest.mark.parametrize(
    "allowed",
    [
        request("GET", "/state/projects/shop/terraform.tfstate"),
        request("PUT", "/state/projects/shop/terraform.tfstate?x-id=PutObject", b"{}"),
        request("HEAD", "/state/projects/shop/terraform.tfstate"),
        request("DELETE", "/state/projects/shop/terraform.tfstate.tflock"),
        # terraform 1.10+'s lock file: written only where none is, read back, deleted
        request(
            "PUT", "/state/projects/shop/terraform.tfstate.tflock?x-id=PutObject", b"{}", If_None_Match="*"
        ),
        request("GET", "/state/projects/shop/terraform.tfstate.tflock?x-id=GetObject"),
        request("GET", "/state?list-type=2&prefix=env%3A%2F"),
        dynamodb("PutItem", {"TableName": "locks", "Item": {"LockID": {"S": LOCK}, "Info": {"S": "{}"}}}),
        dynamodb("GetItem", {"TableName": "locks", "Key": {"LockID": {"S": f"{LOCK}-md5"}}}),
        dynamodb("DeleteItem", {"TableName": "locks", "Key": {"LockID": {"S": LOCK}}}),
        request("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15"),
    ],
)
def test_the_state_policy_lets_the_backend_do_its_work(allowed: Request) -> None:
    STATE(allowed)


@pytest.mark.parametrize(
    "refused",
    [
        # another project's state, plainly and through encodings and dot segments
        request("GET", "/state/projects/other/terraform.tfstate"),
        request("GET", "/state/projects/%6Fther/terraform.tfstate"),
        request("GET", "/state/projects/shop/../other/terraform.tfstate"),
        request("GET", "/state/projects/shop/terraform.tfstate/../../other/terraform.tfstate"),
        # the service's other buckets
        request("GET", "/workspaces/workspaces/victim/deploy-1/main.tf"),
        request("PUT", "/workspaces/workspaces/victim/deploy-1/main.tf", b"x"),
        # listing the bucket, or the state's sub-resources
        request("GET", "/state?list-type=2&prefix=projects%2F"),
        request("GET", "/state"),
        request("PUT", "/state/projects/shop/terraform.tfstate?acl", b""),
        request("GET", "/state/projects/shop/terraform.tfstate?versions"),
        request("DELETE", "/state/projects/shop/terraform.tfstate"),
        # a lock file written over a held one (no If-None-Match: *), and other projects' lock files
        request("PUT", "/state/projects/shop/terraform.tfstate.tflock?x-id=PutObject", b"{}"),
        request("PUT", "/state/projects/shop/terraform.tfstate.tflock", b"{}", If_None_Match='"abc"'),
        request("DELETE", "/state/projects/other/terraform.tfstate.tflock"),
        request("GET", "/state/projects/shop/terraform.tfstate.tflock.old"),
        # other tables, other items, other operations
        dynamodb("GetItem", {"TableName": "jobs", "Key": {"jobId": {"S": "deploy-1"}}}),
        dynamodb(
            "PutItem",
            {"TableName": "locks", "Item": {"LockID": {"S": "state/projects/other/terraform.tfstate"}}},
        ),
        dynamodb("Scan", {"TableName": "locks"}),
        dynamodb("Query", {"TableName": "locks"}),
        dynamodb("BatchGetItem", {"RequestItems": {}}),
        dynamodb("GetItem", {"TableName": "locks", "Key": {"LockID": {"N": "1"}}}),
        request("POST", "/", b"{not json", X_Amz_Target="DynamoDB_20120810.GetItem"),
        # other services reached through the same endpoint, and the emulator's own API
        request("POST", "/", b"Action=AssumeRole&RoleArn=arn:aws:iam::123456789012:role/x"),
        request("POST", "/", b"Action=ListSecrets", X_Amz_Target="secretsmanager.ListSecrets"),
        request("GET", "/moto-api/data.json"),
        request("POST", "/moto-api/reset"),
    ],
)
def test_the_state_policy_refuses_everything_else(refused: Request) -> None:
    with pytest.raises(Refused):
        STATE(refused)


def test_dot_segments_cannot_reach_a_key_the_policy_did_not_judge() -> None:
    # Given a path the policy would read literally, the upstream never sees it normalised elsewhere
    sneaky = request("GET", "/state/projects/shop/./terraform.tfstate")
    with pytest.raises(Refused):
        STATE(sneaky)


SANDBOX = SandboxPolicy(access_key_id="PROJECTKEY0000000001", account_id="100000000001")


def test_the_sandbox_policy_puts_every_request_in_the_projects_account() -> None:
    given = request("GET", "/bucket/key", Authorization=SIGNED, X_Amz_Security_Token="token")
    SANDBOX(given)
    assert given.header("Authorization") == SIGNED.replace("ANYKEY", "PROJECTKEY0000000001")
    assert given.header("X-Amz-Security-Token") is None


@pytest.mark.parametrize(
    "refused",
    [
        request("GET", "/bucket/key"),  # unsigned: the emulator would use its default account
        request("GET", "/bucket/key", Authorization="AWS ANYKEY:sig"),  # SigV2
        request(
            "GET",
            "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=OTHER%2F20261201%2Fus-east-1%2Fs3",
            Authorization=SIGNED,
        ),
        request("GET", "/bucket/key?AWSAccessKeyId=OTHER&Signature=x", Authorization=SIGNED),
        request("GET", "/moto-api/data.json", Authorization=SIGNED),
        request("POST", "/moto-api/reset", Authorization=SIGNED),
        request("POST", "/_sandbox/accounts", b'{"projectId": "victim"}', Authorization=SIGNED),
        # another sandbox account's resources by ARN or queue URL, plain and percent-encoded
        request(
            "POST",
            "/",
            b"Action=GetQueueAttributes&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F100000000002%2Fvictim",
            Authorization=SIGNED,
        ),
        request("GET", "/100000000002/victim?Action=ReceiveMessage", Authorization=SIGNED),
        request(
            "POST",
            "/",
            json.dumps({"TableName": "arn:aws:dynamodb:us-east-1:100000000007:table/victim"}).encode(),
            Authorization=SIGNED,
        ),
    ],
)
def test_the_sandbox_policy_refuses_what_would_leave_the_account(refused: Request) -> None:
    with pytest.raises(Refused):
        SANDBOX(refused)


def test_the_projects_own_arns_pass() -> None:
    SANDBOX(
        request(
            "POST",
            "/",
            b"Action=GetQueueAttributes&QueueUrl=http%3A%2F%2F127.0.0.1%3A4566%2F100000000001%2Fmine",
            Authorization=SIGNED,
        )
    )


def test_egress_goes_to_aws_endpoints_over_https_only() -> None:
    proxy = EgressProxy(["amazonaws.com"], log=lambda _: None)
    assert proxy.allows("sts.eu-west-1.amazonaws.com", "443")
    assert proxy.allows("amazonaws.com", "443")
    for host, port in [
        ("sts.amazonaws.com", "80"),
        ("evilamazonaws.com", "443"),
        ("amazonaws.com.evil.net", "443"),
        ("127.0.0.1", "443"),
        ("169.254.170.2", "443"),
        ("s3.amazonaws.com\x00.evil", "443"),
    ]:
        assert not proxy.allows(host, port), host


# --- the relay over sockets -----------------------------------------------------------------------


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"path": self.path, "host": self.headers["Host"], "body": body})
        payload = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def relay() -> Iterator[tuple[int, list[str]]]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    refusals: list[str] = []
    bridge = Bridge("state", ("127.0.0.1", upstream.server_address[1]), STATE, refusals.append)
    bridge.start(listener)
    yield listener.getsockname()[1], refusals
    bridge.stop()
    upstream.shutdown()


def test_the_relay_forwards_what_the_policy_allows_with_the_upstreams_host(
    relay: tuple[int, list[str]],
) -> None:
    port, refusals = relay
    _Upstream.seen.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    # A chunked body, as Go's HTTP client sends when it does not know the length
    connection.putrequest("PUT", "/state/projects/shop/terraform.tfstate", skip_host=True)
    connection.putheader("Host", "state.evil.example")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    connection.send(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b'{"ok": true}'
    assert _Upstream.seen[-1]["body"] == b"hello world"
    assert _Upstream.seen[-1]["host"].startswith("127.0.0.1:")
    assert refusals == []


def test_the_relay_refuses_with_403_and_says_why_in_the_jobs_log(relay: tuple[int, list[str]]) -> None:
    port, refusals = relay
    _Upstream.seen.clear()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/state/projects/victim/terraform.tfstate")
    response = connection.getresponse()
    assert response.status == 403 and b"refused" in response.read()
    assert _Upstream.seen == []
    assert refusals and "victim" in refusals[0]
