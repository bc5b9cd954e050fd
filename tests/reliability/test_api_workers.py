"""Local mode's API keeps answering while some invocations are busy: health and status polls are
served while a deploy near the code limit is parsed, a worker that dies is replaced, and
stopping the server stops every worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.requests import MAX_CODE_BYTES
from core.toolchain import Toolchain
from tests.reliability.conftest import start_server
from tests.support.local_server import LocalServer

pytestmark = pytest.mark.terraform

API_WORKERS = 3
NULL_APP = 'resource "null_resource" "n" {}\n'
BLOCK = 'resource "null_resource" "r{index}" {{\n  triggers = {{\n    value = "{pad}"\n  }}\n}}\n'


def big_deploy_body(hcl_bytes: int = 1_000_000, total: int = MAX_CODE_BYTES - 100_000) -> bytes:
    """Near the code limit: some seconds of parsing, then refused by its last block."""
    blocks: list[str] = []
    size = 0
    while size < hcl_bytes:
        blocks.append(BLOCK.format(index=len(blocks), pad="p" * 60))
        size += len(blocks[-1])
    code = "".join(blocks) + 'data "external" "last" {\n  program = ["true"]\n}\n'
    comment = "# " + "c" * 100 + "\n"
    code += comment * ((total - len(code)) // len(comment))
    return json.dumps({"projectId": "workers-big", "iacCode": code}).encode()


def workers(server: LocalServer) -> set[int]:
    """The API worker processes of the server (its children running localmode.api_worker)."""
    assert server.process is not None
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server.process.pid and b"localmode.api_worker" in command:
            found.add(int(stat.parent.name))
    return found


def until(check: Callable[[], object], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, toolchain: Toolchain) -> Iterator[LocalServer]:
    running = start_server(tmp_path_factory.mktemp("workers"), API_WORKERS=str(API_WORKERS))
    yield running
    running.stop()


def test_health_and_status_are_answered_while_a_big_deploy_is_parsed(
    server: LocalServer, record_figure: Callable[[str], None]
) -> None:
    # Given a job to poll, and a deploy near the code limit on its way
    small = server.post("/api/deploy", {"projectId": "workers-small", "iacCode": NULL_APP})
    assert small.status == 202, small.body
    status_path = f"/api/deploy/status/{small.body['jobId']}"
    body = big_deploy_body()
    assert len(body) > 0.9 * MAX_CODE_BYTES
    finished: dict[str, object] = {}

    def deploy() -> None:
        request = urllib.request.Request(
            server.url + "/api/deploy", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                finished["status"], finished["body"] = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            finished["status"], finished["body"] = error.code, json.loads(error.read())
        finished["at"] = time.perf_counter()

    started = time.perf_counter()
    sender = threading.Thread(target=deploy)
    sender.start()

    # When health checks and status polls arrive meanwhile, each on a new connection as a
    # load balancer's and a client's would (a busy process may be the one they reach)
    answered: list[tuple[str, int, float]] = []
    for path in ["/api/health"] * 8 + [status_path] * 4:
        reply = server.get(path)
        answered.append((path, reply.status, time.perf_counter()))
    sender.join()

    # Then the deploy was the big one, parsed to its end and refused there
    assert finished["status"] == 400, finished
    assert finished["body"]["error"] == "invalid_configuration"  # type: ignore[index]
    # and every health check and status poll was answered before the deploy was
    done_at = float(finished["at"])  # type: ignore[arg-type]
    assert [(path, status) for path, status, _ in answered] == [
        (path, 200) for path in ["/api/health"] * 8 + [status_path] * 4
    ]
    late = [(path, round(at - done_at, 3)) for path, _, at in answered if at > done_at]
    assert late == [], f"answered only after the deploy: {late}"
    record_figure(
        f"a {len(body) / 2**20:.1f} MiB deploy parsed for {done_at - started:.1f}s: 8 health checks and "
        f"4 status polls all answered before it, the last after {answered[-1][2] - started:.2f}s"
    )


def test_a_worker_that_dies_is_replaced_and_requests_go_on(server: LocalServer) -> None:
    # Given the server's workers
    until(lambda: len(workers(server)) == API_WORKERS, what="all workers up")
    before = workers(server)

    # When one is killed
    victim = min(before)
    os.kill(victim, signal.SIGKILL)

    # Then requests keep being answered, and another worker takes its place
    for _ in range(10):
        assert server.get("/api/deploy/jobs?limit=1").status == 200
    until(lambda: len(workers(server)) == API_WORKERS and victim not in workers(server), what="a replacement")
    assert "starting another" in server.log()


def test_stopping_the_server_stops_every_worker(tmp_path: Path, toolchain: Toolchain) -> None:
    running = start_server(tmp_path, API_WORKERS="2")
    pids = workers(running)
    assert len(pids) == 2
    assert running.stop() == 0
    until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), timeout=15, what="workers gone")
