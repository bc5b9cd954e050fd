"""``make local``'s server in a subprocess, and a small HTTP client for it (HTTP only, as users do)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.jobs import REPO_ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Reply:
    status: int
    body: Any


@dataclass
class LocalServer:
    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {"PORT": str(self.port), "LOCAL_DATA_DIR": str(self.data_dir), "PYTHONPATH": str(REPO_ROOT)}
        )
        env.update(self.extra_env)
        self.log_path = self.data_dir.parent / f"server-{self.port}-{int(time.time() * 1000)}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "localmode"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"local server exited: {self.log()}")
            try:
                if self.get("/api/health").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"local server did not start: {self.log()}")

    def emulator_url(self) -> str:
        """The emulator behind the server (needs LOCAL_FAULT_INJECTION, or read from the log)."""
        for line in self.log().splitlines():
            if " emulator http://" in line:
                return line.split(" emulator ", 1)[1].split(",", 1)[0].strip()
        raise AssertionError(f"no emulator address in the log: {self.log()}")

    def sandbox_url(self) -> str:
        """The sandbox emulator (target sandbox), from the server's ready line."""
        for line in self.log().splitlines():
            if " sandbox http://" in line:
                return line.split(" sandbox ", 1)[1].split(",", 1)[0].strip()
        raise AssertionError(f"no sandbox address in the log: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGINT, timeout: float = 180) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Reply:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Reply(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            return Reply(error.code, json.loads(error.read() or b"null"))

    def raw(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        """A request exactly as given (bytes, headers), for hostile input."""
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return Reply(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return Reply(error.code, json.loads(payload or b"null"))
            except ValueError:
                return Reply(error.code, payload.decode(errors="replace"))

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Reply:
        return self.request("POST", path, body)

    def wait_job(self, job_id: str, timeout: float = 600) -> tuple[dict[str, Any], list[tuple[str, int]]]:
        """Poll a job to its end; returns its last status and the (phase, progress) seen on the way."""
        seen: list[tuple[str, int]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self.get(f"/api/deploy/status/{job_id}")
            if reply.status == 503:  # the service says so while AWS (the emulator) is unreachable
                time.sleep(0.5)
                continue
            assert reply.status == 200, reply.body
            status = reply.body
            if not seen or seen[-1] != (status["phase"], status["progress"]):
                seen.append((status["phase"], status["progress"]))
            if status["status"] in ("completed", "failed"):
                return status, seen
            time.sleep(0.3)
        raise AssertionError(f"job {job_id} did not end: {self.log()[-3000:]}")
