"""The operating system's wall, tested directly on both layers the runner uses: a user of the job's
own (every platform, CodeBuild included) and, where the kernel allows, namespaces around it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.jail import Jail, JobDirectories, JobUser, allocate_user, capabilities, processes_of
from runner.network import create_netns

SECRET = "runner-only-secret-value"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A directory where job directories live in real runs: the toolchain's."""
    base = REPO / ".toolchain" / f"jail-test-{os.getpid()}-{time.monotonic_ns()}"
    base.mkdir(parents=True, mode=0o711)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def user(tmp_path: Path) -> Iterator[JobUser]:
    job_user = allocate_user(tmp_path / "users")
    yield job_user
    job_user.release()


def run(jail: Jail, script: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        jail.command(["/bin/sh", "-c", script]),
        pass_fds=jail.pass_fds,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
        cwd=cwd,
        check=False,
    )


LAYERS = ["uid only", "namespaces"]


def jail_for(layer: str, user: JobUser) -> Jail:
    if layer == "namespaces" and not capabilities().namespaces:
        pytest.fail("this machine allows no namespaces; local mode needs them")
    return Jail(user, namespaces=layer == "namespaces")


def test_the_runner_is_root_and_has_what_the_jail_needs() -> None:
    found = capabilities()
    found.require()
    assert found.root and found.setpriv


@pytest.mark.parametrize("layer", LAYERS)
def test_the_job_user_has_no_privilege(layer: str, user: JobUser) -> None:
    result = run(
        jail_for(layer, user), "id -u; id -G; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"
    )
    lines = result.stdout.split()
    assert lines[0] == str(user.uid) and lines[1] == str(user.gid)
    assert "0000000000000000" in result.stdout and "NoNewPrivs:\t1" in result.stdout.replace(" ", "\t")


@pytest.mark.parametrize("layer", LAYERS)
def test_the_runners_files_and_environment_are_out_of_reach(
    layer: str, user: JobUser, tmp_path: Path
) -> None:
    # Given a root-only file and this (root) process's environment holding a secret
    secret_file = tmp_path / "root-only"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    tmp_path.chmod(0o755)
    os.environ["RUNNER_ONLY_SECRET"] = SECRET
    try:
        script = f"cat {secret_file}; cat /proc/{os.getpid()}/environ; cat /proc/*/environ; ls /proc"
        result = run(jail_for(layer, user), script)
    finally:
        del os.environ["RUNNER_ONLY_SECRET"]
    assert SECRET not in result.stdout + result.stderr
    assert "Permission denied" in result.stderr or "No such file" in result.stderr
    if layer == "namespaces":
        # It sees its own processes only
        assert str(os.getpid()) not in result.stdout.split()


@pytest.mark.parametrize("layer", LAYERS)
def test_another_jobs_directories_are_closed(layer: str, tmp_path: Path, outside_tmp: Path) -> None:
    first, second = allocate_user(tmp_path / "users"), allocate_user(tmp_path / "users")
    try:
        theirs = JobDirectories.create(outside_tmp / "jobs", "deploy-1-a", first)
        (theirs.code / "main.tf").write_text(SECRET)
        vars_file = theirs.base / "variables.tfvars.json"
        vars_file.write_text(SECRET)
        theirs.give(vars_file, first)
        result = run(
            jail_for(layer, second), f"cat {theirs.code}/main.tf {vars_file}; ls {outside_tmp / 'jobs'}"
        )
        assert SECRET not in result.stdout
        assert result.stderr.count("Permission denied") >= 3
        # while the owner reads its own
        own = run(jail_for(layer, first), f"cat {vars_file}")
        assert own.stdout == SECRET
    finally:
        first.release()
        second.release()


@pytest.mark.parametrize("layer", LAYERS)
def test_nothing_a_job_starts_outlives_it(layer: str, user: JobUser) -> None:
    # A job starts processes that leave its process group and session, in three ways
    marker = 86_400 + int(time.time()) % 1000
    script = (
        f"setsid sleep {marker} </dev/null >/dev/null 2>&1 & "
        f"nohup sleep {marker + 1} </dev/null >/dev/null 2>&1 & "
        f"(sleep {marker + 2} </dev/null >/dev/null 2>&1 &); echo started"
    )
    assert run(jail_for(layer, user), script).stdout.strip() == "started"
    if layer == "namespaces":
        # The namespace's init (the command) has ended: the kernel killed the rest at once
        time.sleep(0.2)
        assert processes_of(user.uid) == []
    # In every case the end of the job kills whatever its uid still runs
    user.release()
    assert processes_of(user.uid) == []


def test_the_jobs_network_reaches_only_the_runners_bridges(user: JobUser) -> None:
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    netns = create_netns([4566])
    try:
        jail = Jail(user, namespaces=True, network_fd=netns.fd)
        port = host.getsockname()[1]
        code = (
            "import socket\n"
            "for port in (4566, PORT):\n"
            "    try:\n"
            "        socket.create_connection(('127.0.0.1', port), timeout=2); print('reached', port)\n"
            "    except OSError: print('unreachable', port)\n"
            "try:\n"
            "    socket.create_connection(('1.1.1.1', 443), timeout=2); print('reached internet')\n"
            "except OSError: print('no route out')\n"
        ).replace("PORT", str(port))
        result = subprocess.run(
            jail.command([sys.executable, "-I", "-c", code]),
            pass_fds=jail.pass_fds,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "reached 4566" in result.stdout, result.stderr
        assert f"unreachable {port}" in result.stdout and "no route out" in result.stdout
    finally:
        netns.close()
        host.close()


@pytest.mark.parametrize("layer", LAYERS)
def test_what_a_job_leaves_in_shared_temporary_directories_goes_with_it(layer: str, tmp_path: Path) -> None:
    user = allocate_user(tmp_path / "users")
    marker = f"left-{os.getpid()}-{time.monotonic_ns()}"
    # A job writes into /tmp, plants a link to a root file, and makes a directory tree there
    root_file = tmp_path / "root-owned"
    root_file.write_text("keep")
    script = (
        f"echo x > /tmp/{marker}.file && ln -s {root_file} /tmp/{marker}.link && "
        f"mkdir -p /tmp/{marker}.dir/a && echo y > /tmp/{marker}.dir/a/b && echo z > /dev/shm/{marker} && echo ok"
    )
    assert run(jail_for(layer, user), script).stdout.strip() == "ok"
    user.release()
    assert sorted(Path("/tmp").glob(f"{marker}*")) == []
    assert root_file.read_text() == "keep"  # the link was removed, not followed


def test_a_job_works_in_directories_under_tmp(tmp_path: Path) -> None:
    # A checkout (and so its toolchain and jobs) may live under /tmp, as CI's fresh clones do
    base = Path("/tmp") / f"jail-under-tmp-{os.getpid()}"
    user = allocate_user(tmp_path / "users")
    try:
        base.mkdir(mode=0o711)
        directories = JobDirectories.create(base / "jobs", "deploy-1-b", user)
        (directories.code / "main.tf").write_text("ok")
        result = run(Jail(user, namespaces=capabilities().namespaces), "cat main.tf", cwd=directories.code)
        assert result.stdout == "ok", result.stderr
    finally:
        user.release()
        shutil.rmtree(base, ignore_errors=True)
