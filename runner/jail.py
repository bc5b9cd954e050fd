"""Where terraform runs: as a dedicated, unprivileged user, in directories only that user can read.

The runner is root (a CodeBuild build, or local mode's stand-in); terraform and everything it
starts are not. Each job gets its own uid (no passwd entry, no groups, no capabilities, no new
privileges), so the kernel keeps it out of the runner's files, environment (``/proc/<pid>/environ``),
credentials, the local data directory and other jobs' workspaces. Where the kernel allows
namespaces (local mode; CodeBuild only with privileged mode), each terraform command also gets its
own PID namespace with a fresh ``/proc`` (it sees only its own processes, and all of them die with
it), a private ``/dev/shm`` and, with ``Netns``, a network with no route but the runner's bridges.
Whatever the platform, every process of the job's uid is killed when the job ends: a process can
leave a process group or a session, not its uid.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO

# Far above any uid a distribution hands out; the range is an install option.
DEFAULT_UID_RANGE = (200_000, 299_999)
# Go programs are multi-threaded and RLIMIT_NPROC counts threads: room for terraform and several
# providers, a bound on a fork bomb.
MAX_PROCESSES = 4096
KILL_ROUNDS = 50
# What the job's private /dev/shm may hold.
PRIVATE_SHM_SIZE = "512m"
# Shared temporary directories a job can write into; what it leaves there goes with it.
SHARED_TEMPORARY = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))  # noqa: S108


class IsolationError(RuntimeError):
    """Terraform cannot be isolated here; the job must not run."""


@dataclass(frozen=True)
class Capabilities:
    """What this machine lets the runner use; found once per process."""

    root: bool
    setpriv: bool
    namespaces: bool

    def require(self) -> None:
        if not self.root:
            raise IsolationError(
                "the runner must run as root to give terraform a user of its own "
                "(PROVISIONER_ISOLATION=none runs terraform as the runner's user: trusted code only)"
            )
        if not self.setpriv:
            raise IsolationError("setpriv (util-linux) is needed to drop terraform's privileges")


@cache
def capabilities() -> Capabilities:
    root = os.geteuid() == 0
    setpriv = shutil.which("setpriv") is not None
    namespaces = False
    unshare = shutil.which("unshare")
    if root and unshare:
        probe = subprocess.run(
            [unshare, "--pid", "--mount", "--fork", "--mount-proc", "--kill-child", "true"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        namespaces = probe.returncode == 0
    return Capabilities(root=root, setpriv=setpriv, namespaces=namespaces)


@dataclass
class JobUser:
    """A uid held by this runner for one job: a lock file says so to other runners on the machine."""

    uid: int
    _lock: IO[str] | None = field(default=None, repr=False)

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        kill_processes_of(self.uid)
        for directory in SHARED_TEMPORARY:
            remove_files_of(self.uid, directory)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def allocate_user(lock_dir: Path, uid_range: tuple[int, int] = DEFAULT_UID_RANGE) -> JobUser:
    """A uid no other job on this machine holds, free of processes before the job starts."""
    private_directory(lock_dir, 0o700)
    low, high = uid_range
    for _attempt in range(200):
        uid = random.randint(low, high)
        handle = (lock_dir / f"{uid}.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        kill_processes_of(uid)  # a previous holder's leftovers, if it died before cleaning up
        return JobUser(uid, handle)
    raise IsolationError(f"no free job uid in {low}-{high}")


def private_directory(path: Path, mode: int) -> Path:
    """A root-owned directory with exactly this mode; refuses one someone else made first."""
    path.mkdir(parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise IsolationError(f"{path} is not a directory of the runner's own")
    path.chmod(mode)
    return path


@dataclass(frozen=True)
class JobDirectories:
    """``base`` (root, 0711: others may pass, not list) holding the job user's own directories."""

    base: Path
    code: Path
    home: Path
    tmp: Path

    @classmethod
    def create(
        cls, parent: Path, job_id: str, user: JobUser | None, *, stable: bool = False
    ) -> JobDirectories:
        """``stable``: the same path in every build that names this job (``<job>``, not
        ``<job>-<pid>``), for a plan made in one build and applied in another: terraform plans
        ``path.cwd`` and ``abspath(path.module)`` as values, and apply refuses them changed. The
        caller holds ``stable_lock`` meanwhile, so two builds never share the directory."""
        private_directory(parent, 0o711)
        base = parent / (job_id if stable else f"{job_id}-{os.getpid()}")
        if base.exists():
            remove_tree(base)
        base.mkdir(mode=0o711)
        base.chmod(0o711)
        directories = cls(base, base / "code", base / "home", base / "tmp")
        for path in (directories.code, directories.home, directories.tmp):
            path.mkdir(mode=0o700)
            if user is not None:
                os.chown(path, user.uid, user.gid)
        return directories

    @staticmethod
    @contextlib.contextmanager
    def stable_lock(parent: Path, job_id: str) -> Iterator[None]:
        """Held while a build uses a job's stable directory; another build of it here is refused."""
        private_directory(parent, 0o711)
        with (parent / f"{job_id}.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IsolationError(f"another build of {job_id} runs on this machine") from None
            yield

    def give(self, path: Path, user: JobUser | None, mode: int = 0o600) -> Path:
        """A file the runner wrote, readable by the job user alone."""
        path.chmod(mode)
        if user is not None:
            os.chown(path, user.uid, user.gid)
        return path


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def remove_files_of(uid: int, top: Path) -> list[Path]:
    """Delete what the uid owns under a directory, never following a link (a job may plant them).

    A job can only have written into directories it owns or that anyone may write into, so only
    those are searched: root's own trees under /tmp are not walked.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(top))
    except OSError:
        return removed
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        path = Path(entry.path)
        if info.st_uid == uid:
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(info.st_mode):
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
        elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
            removed += remove_files_of(uid, path)
    return removed


def processes_of(uid: int) -> list[int]:
    """Live processes whose real or effective uid is this one."""
    found: list[int] = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Uid:"):
                ids = line.split()[1:3]
                if str(uid) in ids and "\nState:\tZ" not in text:
                    found.append(int(status.parent.name))
                break
    return found


def kill_processes_of(uid: int) -> list[int]:
    """SIGKILL every process of the uid, again until none is left (they may fork meanwhile)."""
    killed: list[int] = []
    for _round in range(KILL_ROUNDS):
        pids = processes_of(uid)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed += pids
        time.sleep(0.01)
    return sorted(set(killed))


@dataclass(frozen=True)
class Jail:
    """How one job's terraform commands are started.

    ``network_fd`` is an open network namespace (see ``runner.network``) the commands join;
    ``None`` keeps the host's network (CodeBuild, where terraform reaches AWS itself).
    """

    user: JobUser | None
    namespaces: bool
    network_fd: int | None = None
    max_processes: int = MAX_PROCESSES

    def command(self, argv: Sequence[str]) -> list[str]:
        prefix: list[str] = []
        if self.network_fd is not None:
            prefix += ["nsenter", f"--net=/proc/self/fd/{self.network_fd}", "--"]
        if self.namespaces:
            # A PID namespace with its own /proc: terraform is its init, and when it exits the
            # kernel kills whatever it left behind. A private /dev/shm; /tmp stays the machine's
            # (checkouts, and so jobs' directories, may live there): the job's TMPDIR is its own,
            # umask 077 closes what it writes, and release removes it. --kill-child: if the
            # runner's side dies, so does it.
            prefix += [
                "unshare",
                "--pid",
                "--mount",
                "--fork",
                "--mount-proc",
                "--kill-child=SIGKILL",
                "--",
                "/bin/sh",
                "-c",
                f'mount -t tmpfs -o mode=1777,size={PRIVATE_SHM_SIZE} tmpfs /dev/shm && exec "$@"',
                "jail",
            ]
        if self.user is not None:
            prefix += [
                "prlimit",
                f"--nproc={self.max_processes}",
                "--core=0",
                "--",
                "setpriv",
                f"--reuid={self.user.uid}",
                f"--regid={self.user.gid}",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--",
            ]
        return [*prefix, *argv]

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return () if self.network_fd is None else (self.network_fd,)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)
