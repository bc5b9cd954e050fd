"""A fake of the service's plan → review → apply routes on a loopback port, in the test's process:
it records every request and answers from a script, so the command line's logic is tested in
milliseconds, with no emulator, terraform or make local.

Each job's status reads come from a list: every read takes the next one, the last one repeats.
A route's answer is a ``(status, body)`` pair, or a function of the request that returns one (to
move a job on when it is approved, say).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PLAN_JOB = "plan-1764166000000-ab12cd34e"
DEPLOY_JOB = "deploy-1764166000001-cd34ef56a"
OTHER_JOB = "deploy-1764165000000-0123abcde"
PROJECT = "demo"
WAITING_SINCE = "2026-12-02T07:00:00.000Z"
EXPIRES = "2026-12-09T07:00:00.000Z"


@dataclass
class Request:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


Answer = tuple[int, Any]
Route = Answer | Callable[[Request], Answer]


@dataclass
class FakeApi:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def route(self, method: str, path: str, answer: Route) -> None:
        self.routes[(method, path)] = answer

    def script(self, job_id: str, *reads: dict[str, Any]) -> None:
        """The job's next status reads (the last one repeats)."""
        self.statuses[job_id] = list(reads)

    def sent(self, method: str, path: str) -> list[Any]:
        """The bodies of the requests sent to this route, in order."""
        return [r.body for r in self.requests if r.method == method and r.path == path]

    def answer(self, request: Request) -> Answer:
        prefix = "/api/deploy/status/"
        if request.method == "GET" and request.path.startswith(prefix):
            job_id = request.path.removeprefix(prefix)
            reads = self.statuses.get(job_id)
            if not reads:
                return 404, {"error": "job_not_found", "message": f"no job {job_id}"}
            return 200, reads.pop(0) if len(reads) > 1 else reads[0]
        found = self.routes.get((request.method, request.path))
        if found is None:
            return 404, {"error": "not_found", "message": f"no route {request.method} {request.path}"}
        return found(request) if callable(found) else found


def job(
    job_id: str = DEPLOY_JOB,
    status: str = "processing",
    phase: str = "plan",
    progress: int = 40,
    *,
    action: str = "deploy",
    **fields: Any,
) -> dict[str, Any]:
    """A status answer in the contract's shape (the new fields null unless given)."""
    document: dict[str, Any] = {
        "jobId": job_id,
        "projectId": PROJECT,
        "action": action,
        "status": status,
        "progress": progress,
        "phase": phase,
        "result": None,
        "error": None,
        "startTime": "2026-12-02T06:59:00.000Z",
        "endTime": None,
        "updatedAt": "2026-12-02T07:00:00.000Z",
        "planSummary": None,
        "queuePosition": None,
        "waitingFor": None,
        "approval": None,
        "actions": {"canApprove": False, "canDiscard": False, "canCancel": status != "completed"},
        "plan": None,
    }
    if status == "completed":
        document["result"] = {"message": "Infrastructure deployed successfully", "logs": "", "outputs": {}}
        document["endTime"] = "2026-12-02T07:01:00.000Z"
    if status == "failed":
        message = fields.pop("error", "terraform apply failed")
        document["error"] = message
        document["result"] = {"message": message, "logs": "Error: boom\n", "outputs": {}}
    document.update(fields)
    return document


def queued(job_id: str = DEPLOY_JOB, position: int = 2) -> dict[str, Any]:
    return job(job_id, "pending", "queued", 0, queuePosition=position, waitingFor=OTHER_JOB)


SUMMARY = {"add": 1, "change": 1, "destroy": 0, "replace": 1, "outputs": 1}
COST = {
    "prior": 10.0,
    "proposed": 12.5,
    "delta": 2.5,
    "currency": "USD",
    "priced": 2,
    "total": 3,
    "unpriced": 1,
}


def awaiting(job_id: str = DEPLOY_JOB) -> dict[str, Any]:
    return job(
        job_id,
        "processing",
        "awaiting_approval",
        50,
        approval={
            "required": True,
            "state": "waiting",
            "requestedAt": WAITING_SINCE,
            "expiresAt": EXPIRES,
            "decidedBy": None,
            "decidedAt": None,
            "comment": None,
        },
        actions={"canApprove": True, "canDiscard": True, "canCancel": True},
        plan={"summary": SUMMARY, "cost": COST},
    )


def plan_document(job_id: str = PLAN_JOB, *, changes: bool = True, action: str = "plan") -> dict[str, Any]:
    """GET /api/deploy/plan/{jobId}: a bucket created, one updated in place, an instance replaced."""
    summary = SUMMARY if changes else {"add": 0, "change": 0, "destroy": 0, "replace": 0, "outputs": 0}
    resources = [
        {
            "address": "aws_s3_bucket.assets",
            "moduleAddress": None,
            "type": "aws_s3_bucket",
            "name": "assets",
            "actions": ["create"],
            "action": "create",
            "attributes": [
                {
                    "path": "bucket",
                    "before": None,
                    "after": "demo-assets",
                    "sensitive": False,
                    "unknown": False,
                    "forcesReplacement": False,
                },
                {
                    "path": "arn",
                    "before": None,
                    "after": None,
                    "sensitive": False,
                    "unknown": True,
                    "forcesReplacement": False,
                },
            ],
        },
        {
            "address": "module.logs.aws_s3_bucket.this",
            "moduleAddress": "module.logs",
            "type": "aws_s3_bucket",
            "name": "this",
            "actions": ["update"],
            "action": "update",
            "attributes": [
                {
                    "path": "tags.team",
                    "before": "web",
                    "after": "platform",
                    "sensitive": False,
                    "unknown": False,
                    "forcesReplacement": False,
                },
            ],
        },
        {
            "address": "aws_db_instance.main",
            "moduleAddress": None,
            "type": "aws_db_instance",
            "name": "main",
            "actions": ["delete", "create"],
            "action": "replace",
            "actionReason": "replace_because_cannot_update",
            "createBeforeDestroy": False,
            "attributes": [
                {
                    "path": "engine_version",
                    "before": "15.4",
                    "after": "16.1",
                    "sensitive": False,
                    "unknown": False,
                    "forcesReplacement": True,
                },
                {
                    "path": "password",
                    "before": None,
                    "after": None,
                    "sensitive": True,
                    "unknown": False,
                    "forcesReplacement": False,
                },
            ],
        },
    ]
    outputs = [
        {
            "name": "assets",
            "actions": ["create"],
            "action": "create",
            "before": None,
            "after": "demo-assets",
            "sensitive": False,
            "unknown": False,
        }
    ]
    return {
        "jobId": job_id,
        "projectId": PROJECT,
        "action": action,
        "status": "completed",
        "summary": summary,
        "resourceChanges": resources if changes else [],
        "outputChanges": outputs if changes else [],
        "cost": COST if changes else None,
        "markdown": "### Plan for `demo`\n\n| | Resource |\n|---|---|\n| + | `aws_s3_bucket.assets` |\n",
        "basis": {
            "stateSerial": 3,
            "stateLineage": "3f1c",
            "terraformVersion": "1.9.8",
            "codeHash": "sha256:ab",
            "createdAt": WAITING_SINCE,
            "expiresAt": EXPIRES,
        },
    }


def serve() -> Iterator[FakeApi]:
    """A FakeApi listening on a free loopback port until the generator is closed."""
    fake = FakeApi()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            request = Request(self.command, self.path, body, dict(self.headers.items()))
            fake.requests.append(request)
            status, document = fake.answer(request)
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
