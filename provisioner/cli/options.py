"""The service options (``--endpoint``, ``--sign``, ``--json``, ...), which every command takes as the
top level does: given before the command or after it, where only what is given overrides."""

from __future__ import annotations

import inspect
from typing import Annotated, Final

import typer

from provisioner.cli.session import API_KEY_VARIABLE, ENDPOINT_VARIABLE
from provisioner.client import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT

SERVICE: Final = "Service"  # the help's panel for these options


Endpoint = Annotated[
    str | None,
    typer.Option(
        help=f"the API's URL (default: ${ENDPOINT_VARIABLE}, else {DEFAULT_ENDPOINT}, i.e. make local)",
        rich_help_panel=SERVICE,
        show_default=False,
    ),
]
Sign = Annotated[
    bool | None,
    typer.Option(
        "--sign/--no-sign",
        help="SigV4-sign requests with your AWS credentials (default: when the host is *.amazonaws.com)",
        rich_help_panel=SERVICE,
        show_default=False,
    ),
]
Region = Annotated[
    str | None,
    typer.Option(
        help="the region to sign for (default: from the URL)", rich_help_panel=SERVICE, show_default=False
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        help=f"sent as x-api-key (default: ${API_KEY_VARIABLE})", rich_help_panel=SERVICE, show_default=False
    ),
]
Timeout = Annotated[
    float | None,
    typer.Option(
        help=f"seconds to wait for each HTTP answer (default: {DEFAULT_TIMEOUT:g})",
        rich_help_panel=SERVICE,
        show_default=False,
    ),
]
Json = Annotated[
    bool,
    typer.Option("--json", help="print the API's JSON as it is instead of tables", rich_help_panel=SERVICE),
]
_KEYWORD: Final = inspect.Parameter.KEYWORD_ONLY
# What the command typer sees takes besides its own options: the context (for the options given
# before the command) and each service option, None when not given.
SERVICE_PARAMETERS: Final = (
    inspect.Parameter("ctx", _KEYWORD, annotation=typer.Context),
    inspect.Parameter("endpoint", _KEYWORD, default=None, annotation=Endpoint),
    inspect.Parameter("sign", _KEYWORD, default=None, annotation=Sign),
    inspect.Parameter("region", _KEYWORD, default=None, annotation=Region),
    inspect.Parameter("api_key", _KEYWORD, default=None, annotation=ApiKey),
    inspect.Parameter("timeout", _KEYWORD, default=None, annotation=Timeout),
    inspect.Parameter("json", _KEYWORD, default=False, annotation=Json),
)
