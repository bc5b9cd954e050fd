"""One AWS provider process for all of a job's terraform commands, attached with terraform's
``TF_REATTACH_PROVIDERS``.

Terraform starts every provider afresh for each command. The AWS provider is a 200+ MB binary
whose start (the process, its resource registry and its schema) cost ~0.25 s of each plan, ~0.17 s
of each show and ~0.15 s of each apply here, a third of a small job's terraform time. Started with
``-debug``, the provider serves until it is stopped and terraform attaches to it, which is how
terraform's own acceptance tests run providers across commands.

The provider runs where terraform runs: in the job's jail, as the job's user, in its network, with
terraform's environment; terraform reaches it through a socket in the job's private temporary
directory. It is the binary ``init`` installed and checked against the lock file moments before.

Only for a single configuration of the provider: the plugin SDK keeps one configured client per
process, so two configurations (aliases, or two local names) would each find the other's settings.
Anything unexpected (no binary, no address printed, the process gone) means terraform starts the
provider itself, as it always did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path

from runner.jail import Jail

LOGGER = logging.getLogger("runner.shared_provider")
AWS_PROVIDER = ("hashicorp", "aws")
ATTACH_VARIABLE = "TF_REATTACH_PROVIDERS"
# It listens within ~0.05 s here; a provider that has not after this is not waited for longer.
START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0


class SharedProvider:
    """A provider process started for the job; ``attach()`` is what terraform needs to use it."""

    def __init__(self, address: str, process: subprocess.Popen[str], timeout: float) -> None:
        self.address = address  # as init installed it: registry.terraform.io/hashicorp/aws
        self.process = process
        self._timeout = timeout
        self._announced: list[str] = []
        self._ready = threading.Event()
        self._attach: str | None = None
        self._waited = False
        self._reader = threading.Thread(target=self._read_output, name="provider-output", daemon=True)
        self._reader.start()

    def attach(self) -> str | None:
        """TF_REATTACH_PROVIDERS' value once the provider listens (the first call waits for it);
        None when it did not start or has exited since, and terraform should start its own."""
        if not self._waited:
            self._waited = True
            in_time = self._ready.wait(self._timeout)
            self._attach = _attach_value(self._announced[0], self.address) if self._announced else None
            if self._attach is None:
                why = f"exit code {self.process.poll()}" if in_time else "no address in time"
                LOGGER.warning("the shared provider did not start (%s); terraform starts its own", why)
                self.stop()
        return self._attach if self.process.poll() is None else None

    def stop(self) -> None:
        """The provider's whole jail (its PID namespace dies with it); then wait for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def _read_output(self) -> None:
        """The line with the provider's address, then its logs, which are not kept (at debug level
        they may carry request bodies)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if not self._announced and f"{ATTACH_VARIABLE}=" in line:
                self._announced.append(line)
                self._ready.set()
        self._ready.set()  # it exited without one


def installed_binary(
    workdir: Path, namespace: str = AWS_PROVIDER[0], name: str = AWS_PROVIDER[1]
) -> tuple[str, Path] | None:
    """(address, binary) of the one installed release of a provider, or None if not exactly one."""
    found = sorted(
        (workdir / ".terraform" / "providers").glob(f"*/{namespace}/{name}/*/*/terraform-provider-{name}*")
    )
    if len(found) != 1 or not found[0].is_file():
        return None
    binary = found[0]
    host = binary.parents[4].name  # <host>/<namespace>/<name>/<version>/<os_arch>/<binary>
    return f"{host}/{namespace}/{name}", binary


def start(
    workdir: Path, jail: Jail, env: Mapping[str, str], timeout: float = START_TIMEOUT_SECONDS
) -> SharedProvider | None:
    """Start the installed AWS provider in debug mode, without waiting for it; None when there is
    no single installed release to start."""
    installed = installed_binary(workdir)
    if installed is None:
        return None
    address, binary = installed
    process = subprocess.Popen(
        jail.command([str(binary), "-debug"]),
        pass_fds=jail.pass_fds,
        cwd=workdir,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        # Its own group, as each terraform command's: a cancel's interrupt reaches terraform,
        # which stops the provider's work through the protocol; the runner ends the process.
        process_group=0,
        umask=0o077,
    )
    return SharedProvider(address, process, timeout)


def _attach_value(line: str, address: str) -> str | None:
    """``TF_REATTACH_PROVIDERS='{"registry.terraform.io/hashicorp/aws": {...}}'`` -> the JSON, keyed
    by the address init installed (an OpenTofu install spells the registry differently from the
    name the provider was built with)."""
    text = line.split(f"{ATTACH_VARIABLE}=", 1)[1].strip().strip("'")
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or len(document) != 1:
        return None
    (config,) = document.values()
    if not isinstance(config, dict) or not isinstance(config.get("Addr"), dict):
        return None
    # Test: terraform neither watches the process (its pid is another namespace's) nor stops it.
    return json.dumps({address: {**config, "Test": True}})
