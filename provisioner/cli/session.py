"""What every command runs with: the connection settings (given before or after the command), the
client they make, and the two consoles (the result on stdout; progress, hints and errors on stderr)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace
from typing import Any, Final

from rich.console import Console

from provisioner.client import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT, ProvisionerClient

ENDPOINT_VARIABLE: Final = "PROVISIONER_URL"
API_KEY_VARIABLE: Final = "PROVISIONER_API_KEY"


@dataclass(frozen=True)
class Connection:
    """The service options; those after the command override those before it."""

    endpoint: str | None = None
    sign: bool | None = None
    region: str | None = None
    api_key: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    json: bool = False

    def overridden(
        self,
        *,
        endpoint: str | None,
        sign: bool | None,
        region: str | None,
        api_key: str | None,
        timeout: float | None,
        json: bool | None,
    ) -> Connection:
        """These settings with the options given after the command (None: not given)."""
        return replace(
            self,
            endpoint=self.endpoint if endpoint is None else endpoint,
            sign=self.sign if sign is None else sign,
            region=self.region if region is None else region,
            api_key=self.api_key if api_key is None else api_key,
            timeout=self.timeout if timeout is None else timeout,
            json=self.json or bool(json),
        )

    def client(self) -> ProvisionerClient:
        endpoint = self.endpoint or os.environ.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT
        api_key = self.api_key or os.environ.get(API_KEY_VARIABLE) or None
        return ProvisionerClient(
            endpoint, sign=self.sign, region=self.region, api_key=api_key, timeout=self.timeout
        )


@dataclass
class Session:
    connection: Connection
    client: ProvisionerClient
    out: Console  # the command's result
    err: Console  # progress, hints and errors: stdout stays clean for pipes and --json

    @property
    def json(self) -> bool:
        return self.connection.json

    def print_json(self, document: Any) -> None:
        # Not through rich, which would wrap and colour it: one JSON document per line.
        write(json.dumps(document, ensure_ascii=False) + "\n")


def write(content: str) -> None:
    sys.stdout.write(content)
    sys.stdout.flush()


def console(*, stderr: bool) -> Console:
    """Lines are never wrapped (logs and messages stay greppable); tables get room in CI logs, where
    no terminal sets a width and rich's 80 columns would fold every job id."""
    made = Console(stderr=stderr, highlight=False, soft_wrap=stderr)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = 120
    return made
