"""A network namespace for one job: loopback only, plus the ports the runner listens on inside it.

Terraform's commands join the namespace (``nsenter --net``), so the only addresses they can reach
are the runner's bridges on 127.0.0.1 inside it: not the host's loopback (the service's emulator,
local mode's API), not the machine's network. The runner creates the namespace from one of its
threads, which alone moves into it (namespaces are per thread), binds the listening sockets
there, and moves back; sockets keep the namespace they were made in, so the runner accepts
connections from inside and opens its upstream connections from the host's side.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from runner.jail import IsolationError

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


@dataclass
class Netns:
    """An open network namespace (``fd``) and the sockets listening in it, by port."""

    fd: int
    listeners: dict[int, socket.socket] = field(default_factory=dict)

    def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise IsolationError(f"{what} failed: {os.strerror(error)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def create_netns(ports: Iterable[int]) -> Netns:
    """A new network namespace with loopback up and a listening socket per port on 127.0.0.1."""
    result: dict[str, object] = {}
    wanted = list(ports)

    def work() -> None:
        libc = _libc()
        host = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            try:
                result["fd"] = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
                _loopback_up()
                listeners = {}
                for port in wanted:
                    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    listener.bind(("127.0.0.1", port))
                    listener.listen(64)
                    listeners[port] = listener
                result["listeners"] = listeners
            finally:
                # This thread ends here; going back first keeps the process's threads uniform.
                _check(libc.setns(host, CLONE_NEWNET), "setns(host network)")
        except BaseException as exc:  # handed to the calling thread
            result["error"] = exc
        finally:
            os.close(host)

    thread = threading.Thread(target=work, name="netns-setup", daemon=True)
    thread.start()
    thread.join()
    error = result.get("error")
    if isinstance(error, BaseException):
        fd = result.get("fd")
        if isinstance(fd, int):
            os.close(fd)
        if isinstance(error, IsolationError):
            raise error
        raise IsolationError(f"cannot set up the job's network: {error}") from error
    fd = result["fd"]
    listeners = result["listeners"]
    assert isinstance(fd, int) and isinstance(listeners, dict)
    return Netns(fd, listeners)
