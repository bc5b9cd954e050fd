"""Local mode's orchestration, measured from outside as a user meets it (``make local``'s server).

The same 20-resource configuration as runner_bench, deployed through the API:

- POST -> build: from sending POST /api/deploy to the runner's process existing (its build log
  is opened just before it starts);
- POST -> first line: to the runner's first line of output (its imports done, its first AWS call);
- exit -> completed: from the runner's process ending to GET /api/deploy/status saying
  ``completed`` (negative: the runner records the job itself, before it exits);
- e2e / runner: POST to ``completed`` over the runner's own lifetime;

then 20 and 50 deploys at once, each on a project of its own: the wall time until every one has
ended and the peak resident memory of local mode's whole process tree (server, API workers, the
sandbox emulator, runners, terraform and its providers), sampled every 100 ms.

Targets on the project's 2-core machine: POST -> first line < 0.5 s, exit -> completed < 0.5 s,
e2e / runner <= 1.15. Sequential figures are medians of five deploys after one warm-up.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.runner_bench import config
from tests.support.local_server import LocalServer

GROUPS = 5  # groups of four resources: 20 resources
RUNS = 5
CONCURRENT = (20, 50)
POLL_SECONDS = 0.005
TARGETS = {"post_to_first_line_s": 0.5, "exit_to_completed_s": 0.5, "e2e_over_runner": 1.15}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class BuildTimes:
    """What a watcher of the build directory saw of one build (time.monotonic() values)."""

    opened: float
    first_line: float | None = None
    pid: int | None = None
    exited: float | None = None


@dataclass
class BuildDirectoryWatcher:
    """Notices each build's log and PID file, its first byte of output and its process's end."""

    directory: Path
    builds: dict[str, BuildTimes] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            now = time.monotonic()
            logs = list(self.directory.glob("*.log")) if self.directory.is_dir() else []
            for log in logs:
                times = self.builds.setdefault(log.stem, BuildTimes(now))
                if times.first_line is None and _size(log) > 0:
                    times.first_line = now
                if times.pid is None:
                    times.pid = _read_pid(log.with_suffix(".pid"))
                if times.pid is not None and times.exited is None and not _running(times.pid):
                    times.exited = now

    @contextmanager
    def watching(self) -> Iterator[BuildDirectoryWatcher]:
        thread = threading.Thread(target=self.run, name="build-watcher", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def tree_rss_bytes(root: int) -> int:
    """Resident memory of ``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_SIZE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


@dataclass
class PeakMemory:
    root: int
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss_bytes(self.root))
            if self._stop.wait(0.1):
                return

    @contextmanager
    def sampling(self) -> Iterator[PeakMemory]:
        thread = threading.Thread(target=self.run, name="rss-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def deploy_once(server: LocalServer, watcher: BuildDirectoryWatcher, project: str) -> dict[str, float]:
    """One deploy, the only one running; its timeline in seconds from the POST."""
    before = set(watcher.builds)
    posted = time.monotonic()
    accepted = server.post("/api/deploy", {"projectId": project, "iacCode": config(project, GROUPS)})
    accepted_at = time.monotonic()
    if accepted.status != 202:
        raise SystemExit(f"deploy refused: {accepted.status} {accepted.body}")
    job_id = accepted.body["jobId"]
    processing: float | None = None
    while True:
        status = server.get(f"/api/deploy/status/{job_id}").body
        now = time.monotonic()
        if processing is None and status["status"] != "pending":
            processing = now
        if status["status"] in ("completed", "failed"):
            completed = now
            break
        time.sleep(0.01)
    if status["status"] != "completed":
        raise SystemExit(f"deploy failed: {status.get('error')}")
    deadline = time.monotonic() + 60
    while True:
        new = [watcher.builds[name] for name in set(watcher.builds) - before]
        if len(new) == 1 and new[0].exited is not None and new[0].first_line is not None:
            build = new[0]
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"expected one build to have ended, saw {new}")
        time.sleep(0.01)
    assert build.first_line is not None and build.exited is not None
    return {
        "accepted_s": accepted_at - posted,
        "leaves_pending_s": (processing or completed) - posted,
        "post_to_build_s": build.opened - posted,
        "post_to_first_line_s": build.first_line - posted,
        "runner_s": build.exited - build.opened,
        "exit_to_completed_s": completed - build.exited,
        "e2e_s": completed - posted,
        "e2e_over_runner": (completed - posted) / (build.exited - build.opened),
    }


def deploy_many(server: LocalServer, count: int, tag: str) -> dict[str, float]:
    """``count`` deploys at once on as many projects; wall time to the last end, and peak RSS."""
    assert server.process is not None
    jobs: list[str] = []
    errors: list[str] = []

    def submit(index: int) -> None:
        project = f"{tag}-{index}"
        reply = server.post("/api/deploy", {"projectId": project, "iacCode": config(project, GROUPS)})
        if reply.status == 202:
            jobs.append(reply.body["jobId"])
        else:
            errors.append(f"{reply.status} {reply.body}")

    with PeakMemory(server.process.pid).sampling() as memory:
        started = time.monotonic()
        submitters = [threading.Thread(target=submit, args=(i,)) for i in range(count)]
        for thread in submitters:
            thread.start()
        for thread in submitters:
            thread.join()
        ended: dict[str, str] = {}
        while len(ended) < len(jobs):
            for job_id in jobs:
                if job_id not in ended:
                    status = server.get(f"/api/deploy/status/{job_id}").body["status"]
                    if status in ("completed", "failed"):
                        ended[job_id] = status
            time.sleep(0.5)
        wall = time.monotonic() - started
    failed = sum(1 for status in ended.values() if status != "completed") + len(errors)
    return {"wall_s": wall, "peak_rss_mib": memory.peak / 2**20, "failed": float(failed)}


def measure(runs: int = RUNS, concurrent: tuple[int, ...] = CONCURRENT) -> dict[str, float]:
    """Start a local server on a fresh data directory and take every figure; medians where repeated."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-local-") as directory:
        data = Path(directory) / "data"
        server = LocalServer(data)
        server.start()
        try:
            with BuildDirectoryWatcher(data / "builds").watching() as watcher:
                deploy_once(server, watcher, "bench-warmup")  # the provider-facts cache, as in runner_bench
                timelines = [deploy_once(server, watcher, f"bench-seq-{run}") for run in range(runs)]
            for name in timelines[0]:
                figures[name] = statistics.median(t[name] for t in timelines)
                figures[f"{name}_max"] = max(t[name] for t in timelines)
            for count in concurrent:
                for name, value in deploy_many(server, count, f"bench-many{count}").items():
                    figures[f"concurrent_{count}_{name}"] = value
        finally:
            server.stop()
    return figures


def main() -> None:
    figures = measure()
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"  (target {'<=' if name == 'e2e_over_runner' else '<'} {target}: "
            verdict += ("ok" if value <= target else "over target") + ")"
        print(f"  {name:32} {value:9.3f}{verdict}", flush=True)
