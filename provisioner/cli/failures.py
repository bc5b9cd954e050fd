"""Exit codes, and every failure turned into its message on stderr and its code.

0 done; 1 the job failed, the configuration is invalid or the API refused; 2 a usage error (bad
arguments, unreadable code, a malformed request); 3 the service cannot be reached; 130 stopped
watching with Ctrl-C (the job keeps running).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from rich.console import Console

from core.records import JobStatus
from core.responses import JobOut
from provisioner.cli import render
from provisioner.cli.pack import PackError
from provisioner.cli.session import ENDPOINT_VARIABLE, Session
from provisioner.errors import ApiError, SecondIdentityRequired, ServiceUnreachable, SigningError, StalePlan

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
# plan --detailed-exitcode, as terraform's: the plan succeeded and has changes (every error is 1).
EXIT_CHANGES: Final = 2
EXIT_UNREACHABLE: Final = 3
EXIT_INTERRUPTED: Final = 130
# The request itself was malformed: the caller's arguments, not the configuration or the service.
USAGE_ERRORS: Final = frozenset({"bad_request", "idempotency_key_reused"})
UNAVAILABLE_STATUSES: Final = frozenset({502, 503, 504})


def job_exit(job: JobOut) -> int:
    return EXIT_FAILED if job.status is JobStatus.FAILED else EXIT_OK


def guarded(session: Session, command: Callable[[], int]) -> int:
    """The command, with every failure turned into its message and exit code."""
    try:
        return command()
    except (PackError, SigningError) as exc:
        session.err.print(render.text(f"error: {exc}", "red"))
        return EXIT_USAGE
    except ServiceUnreachable as exc:
        return unreachable(session.err, exc)
    except ApiError as exc:
        return api_error(session, exc)
    except KeyboardInterrupt:
        session.err.print(render.text("interrupted", "yellow"))
        return EXIT_INTERRUPTED


def unreachable(err: Console, exc: ServiceUnreachable) -> int:
    local = exc.endpoint.startswith(("http://127.0.0.1", "http://localhost"))
    hints = [
        f"Cannot reach the provisioner at {exc.endpoint}: {exc.reason}.",
        "Check:",
        "  - is the service running? For local mode: `make local` in another terminal"
        + (" (it serves http://127.0.0.1:8080)" if local else ""),
        f"  - is the endpoint right? Set --endpoint or ${ENDPOINT_VARIABLE} "
        "(an installed stack's URL is its ApiUrl output)",
    ]
    err.print(render.text("\n".join(hints), "red"))
    return EXIT_UNREACHABLE


def api_error(session: Session, exc: ApiError, *, source: str | None = None) -> int:
    """``source``: the file sent, for an error that says where in it (a policy's Rego)."""
    if session.json:
        session.print_json(exc.body)
    session.err.print(render.text(f"error ({exc.status} {exc.error}): {exc.message}", "red"))
    if exc.line is not None:
        where = f"{source or 'line'}:{exc.line}" + (f":{exc.column}" if exc.column is not None else "")
        session.err.print(render.text(f"  at {where}", "red"))
    for problem in exc.errors:
        where = problem.get("file") or ""
        if where and problem.get("line") is not None:
            where += f":{problem['line']}"
        prefix = f"{where}: " if where else ""
        session.err.print(render.text(f"  {prefix}{problem.get('message', problem)}", "red"))
    for reason in exc.reasons:
        session.err.print(render.text(f"  - {reason}", "red"))
    if isinstance(exc, StalePlan):
        session.err.print(
            render.text("plan again (provisioner plan), review it, then apply the new plan", "dim")
        )
    if exc.active_job_id:
        job = exc.active_job_id
        session.err.print(
            render.text(f"the project is busy with job {job}: provisioner status {job} / cancel {job}", "dim")
        )
    if isinstance(exc, SecondIdentityRequired):
        session.err.print(
            render.text(
                "someone other than the job's submitter must decide this; the job keeps waiting", "dim"
            )
        )
    elif exc.status in (401, 403):
        session.err.print(
            render.text(
                "the API refused the credentials: for IAM auth use --sign (and AWS credentials with "
                "execute-api:Invoke), for API keys --api-key or $PROVISIONER_API_KEY",
                "dim",
            )
        )
    if exc.status in UNAVAILABLE_STATUSES:
        return EXIT_UNREACHABLE
    return EXIT_USAGE if exc.error in USAGE_ERRORS else EXIT_FAILED
