"""Local mode: the emulator, the workflow, the runner and the API handlers in one process tree.

HOST / PORT                 where the API listens (127.0.0.1:8080)
LOCAL_DATA_DIR              where records, code, logs and state are kept (.local-data)
PROVISIONER_TARGET          sandbox (default: AWS resources in the emulator) or aws (real account)
ALLOW_EXEC_CONSTRUCTS       true to allow local-exec/remote-exec provisioners and "external"
EMULATOR_PORT               the emulator's port (0: any free one)
LOCAL_MAX_BUILDS            how many runners run at once; later builds queue (the cores, at least 2)
LOCAL_SCHEDULER_MINUTE_SECONDS  how long a drift schedule's minute lasts here (60)
NOTIFY_RETRY_INTERVAL_SECONDS  how often failed webhook deliveries due for a retry are tried (10)
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from core.records import epoch_ms
from functions.dal import aws
from functions.dal.projects import project_store
from functions.handlers.drift_handler import run_scheduled
from functions.logic.locks import reap
from functions.logic.wiring import lock_services, schedules_of
from functions.models.env_vars import LocalEnv
from functions.utils.env import environment
from localmode.codebuild import stop_orphans
from localmode.control import LocalControl
from localmode.emulator import REPO_ROOT, EmulatorServer, ServiceResources
from localmode.notify_poller import StreamPoller
from localmode.persistence import DataDirectory
from localmode.recovery import recover
from localmode.sandbox import SandboxProcess
from localmode.scheduler import LocalScheduler, restore_schedules
from localmode.server import ApiServer, JobWatcher, WorkerPool, dispatch_to, log
from localmode.services import LocalServices, start_local_services
from tooling.toolchain import ensure_toolchain

# This process holds the emulator (a thread per request) beside CPU-bound threads (the workflow's
# interpreter, its Lambda steps): at Python's default of 5 ms, every socket call of a request
# waited up to 5 ms for the GIL while those ran, and a 4 ms DynamoDB call took 20-25 ms.
SWITCH_INTERVAL_SECONDS = 0.0005


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("LOCAL_DATA_DIR", REPO_ROOT / ".local-data"))
    )
    parser.add_argument(
        "--target", choices=("sandbox", "aws"), default=os.environ.get("PROVISIONER_TARGET", "sandbox")
    )
    parser.add_argument("--emulator-port", type=int, default=int(os.environ.get("EMULATOR_PORT", "0")))
    parser.add_argument(
        "--fault-injection",
        action="store_true",
        default=os.environ.get("LOCAL_FAULT_INJECTION", "").lower() in ("1", "true", "yes"),
    )
    parser.add_argument(
        "--reaper-interval", type=float, default=float(os.environ.get("REAPER_INTERVAL_SECONDS", "15"))
    )
    # Each API process runs one invocation at a time, as a Lambda container does: more processes
    # serve more requests at once and use more cores.
    parser.add_argument("--api-workers", type=int, default=int(os.environ.get("API_WORKERS", "3")))
    parser.add_argument(
        "--allow-exec",
        action="store_true",
        default=os.environ.get("ALLOW_EXEC_CONSTRUCTS", "").lower() in ("1", "true", "yes"),
    )
    return parser.parse_args()


class Reaper:
    """The scheduled reaper of the AWS install (functions/handlers/reaper_handler.py), on a timer."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = reap(lock_services(environment(LocalEnv)), epoch_ms())
            except Exception as exc:  # the emulator may be restarting; the next pass retries
                log(f"reaper pass failed: {type(exc).__name__}")
                continue
            for job_id in report.failed_jobs:
                log(f"reaper job {job_id}: its workflow had ended; marked failed, project freed")
            for lock_id in report.cleared_locks:
                log(f"reaper cleared the stale state lock {lock_id}")
            for project_id in report.released_projects:
                log(f"reaper project {project_id}: its job was gone or over; project lock released")
            for skipped in report.skipped:
                log(f"reaper skipped {skipped}")


def _lock_data_dir(data_dir: Path) -> TextIO | None:
    """One server per data directory: two would each save their own view over the other's."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # Records, state, variables and build logs: the service's alone, never a job's user's.
    data_dir.chmod(0o700)
    lock = (data_dir / ".lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


@dataclass
class Running:
    emulator: EmulatorServer
    services: LocalServices
    data: DataDirectory
    api: ApiServer
    watcher: JobWatcher
    reaper: Reaper
    scheduler: LocalScheduler
    notifier: StreamPoller
    workers: list[subprocess.Popen[bytes]]
    sandbox: SandboxProcess | None = None


def _start(options: argparse.Namespace) -> Running:
    toolchain = ensure_toolchain()
    tools = (
        f"terraform {toolchain.version} ({toolchain.binary_source}), providers: {toolchain.provider_source}"
    )
    log(f"tools  {tools}")
    resources = ServiceResources()
    data: DataDirectory | None = None
    emulator = EmulatorServer(
        port=options.emulator_port, on_write=lambda m, o, t: data.on_write(m, o, t) if data else None
    )
    endpoint = emulator.start()
    # The sandbox is another emulator in another process: jobs' resources never share the
    # service's data, and each project gets an account of its own there.
    sandbox = SandboxProcess(options.data_dir / "sandbox") if options.target == "sandbox" else None
    services = start_local_services(
        endpoint,
        emulator.port,
        resources,
        options.data_dir / "builds",
        target=options.target,
        sandbox_endpoint_url=sandbox.endpoint_url if sandbox else None,
        allow_exec=options.allow_exec,
    )
    orphans = stop_orphans(options.data_dir / "builds")
    if orphans:
        log(f"build  stopped {len(orphans)} build process(es) a killed server left behind: {orphans}")
    data = DataDirectory(options.data_dir, endpoint, resources)
    loaded = data.restore()
    recovered = recover(endpoint, resources)
    data.start()
    if any(loaded.values()):
        counts = f"{loaded['items']} records, {loaded['objects']} objects, {loaded['secrets']} secrets"
        log(f"data   restored {counts}")
    for job_id in recovered.jobs:
        log(f"job    {job_id} was running when the server stopped: marked failed, lock released")
    # The handlers run in this process and reach AWS (the emulator) through their environment.
    os.environ.update(services.api_environment())
    if options.target == "sandbox":
        os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    watcher = JobWatcher(endpoint, resources)
    watcher.start()
    control = LocalControl(emulator, services.builds, resources) if options.fault_injection else None
    if control is not None:
        log("faults fault injection is on: /_local/faults, /_local/emulator/restart, /_local/info")
    reaper = Reaper(options.reaper_interval)
    reaper.start()
    scheduler = _start_scheduler()
    notifier = StreamPoller(
        endpoint,
        resources,
        retry_interval=float(os.environ.get("NOTIFY_RETRY_INTERVAL_SECONDS", "10")),
        log=log,
    )
    notifier.start()
    api = ApiServer(options.host, options.port, control)
    workers = _start_workers(options, control) if options.api_workers else []
    return Running(emulator, services, data, api, watcher, reaper, scheduler, notifier, workers, sandbox)


def _start_scheduler() -> LocalScheduler:
    """The drift schedules fire here as EventBridge Scheduler fires them in AWS."""
    env = environment(LocalEnv)
    schedules = schedules_of(env)
    projects = project_store(env.PROJECTS_TABLE).drift_summaries()
    restored = restore_schedules(schedules, projects, env.DRIFT_SCHEDULE_DEFAULT)
    if restored:
        log(f"sched  restored the drift schedules of {restored} project(s)")
    scheduler = LocalScheduler(
        aws.scheduler(),
        env.DRIFT_SCHEDULE_GROUP,
        run_scheduled,
        minute_seconds=float(os.environ.get("LOCAL_SCHEDULER_MINUTE_SECONDS", "60")),
        log=log,
    )
    scheduler.start()
    return scheduler


def _start_workers(
    options: argparse.Namespace, _control: LocalControl | None
) -> list[subprocess.Popen[bytes]]:
    """API worker processes behind this one, ready when this returns: this process listens and
    answers health, the OpenAPI document and /_local/ itself (it holds the emulator), and hands
    every other request to an idle worker, so a slow invocation never holds up the others."""
    pool = WorkerPool(options.api_workers, [sys.executable, "-m", "localmode.api_worker"], REPO_ROOT)
    ready = pool.start()
    if ready < options.api_workers:
        log(f"error  {options.api_workers - ready} of {options.api_workers} API workers did not start")
    dispatch_to(pool)
    # The pool keeps this list current as it replaces workers that die; _stop stops what it lists.
    return pool.processes


def _stop(running: Running) -> None:
    """Let running jobs stop terraform and record it, then save the data, then stop the emulator."""
    for worker in running.workers:
        worker.terminate()
    for worker in running.workers:
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    jobs = running.services.builds.running()
    if jobs:
        log(f"stop   waiting for {len(jobs)} running job(s) to stop terraform and record it")
    running.services.builds.stop_all(grace_seconds=120)
    running.watcher.stop()
    running.reaper.stop()
    running.scheduler.stop()
    running.notifier.stop()
    running.data.stop()
    running.emulator.stop()
    if running.sandbox is not None:
        running.sandbox.stop()
    log("stop   done")


def main() -> int:
    options = _options()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    # The emulator's own access log would drown the service's: one line per API request is enough.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # moto logs a failed execution's Fail state as an error; the job watcher reports it better.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    lock = _lock_data_dir(options.data_dir)
    if lock is None:
        log(f"error  another local server is using {options.data_dir}; stop it first (or set LOCAL_DATA_DIR)")
        return 1
    running = _start(options)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log(f"stop   {signal.Signals(signum).name}: stopping running jobs safely, then saving data")
        threading.Thread(target=running.api.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sandbox = f", sandbox {running.sandbox.endpoint_url}" if running.sandbox else ""
    emulator = running.emulator.endpoint_url
    target = f"target {options.target}, emulator {emulator}{sandbox}, data in {options.data_dir}"
    log(f"ready  {running.api.url}  ({target})")
    try:
        running.api.serve_forever()
    finally:
        _stop(running)
        lock.close()
    return 0
