"""``provisioner``: deploy a directory of Terraform code and watch it happen, from a terminal or CI.

Exit codes: 0 done; 1 the job failed, the configuration is invalid or the API refused; 2 a usage
error (bad arguments, unreadable code, a malformed request); 3 the service cannot be reached;
130 stopped watching with Ctrl-C (the job keeps running).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.prompt import Confirm

from core.records import JobStatus
from core.responses import (
    CostsOut,
    DeployAccepted,
    InfrastructureOut,
    JobListOut,
    JobOut,
    LogOut,
    OutputsOut,
    StateOut,
    ValidationOut,
)
from provisioner.cli import render
from provisioner.cli.pack import PackError, merge_variables, pack
from provisioner.cli.watch import POLL_SECONDS, JobWatch, interactive
from provisioner.client import (
    DEFAULT_ENDPOINT,
    DEFAULT_TIMEOUT,
    ApiError,
    ProvisionerClient,
    ServiceUnreachable,
    SigningError,
)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_UNREACHABLE: Final = 3
EXIT_INTERRUPTED: Final = 130
# The request itself was malformed: the caller's arguments, not the configuration or the service.
USAGE_ERRORS: Final = frozenset({"bad_request", "idempotency_key_reused"})
UNAVAILABLE_STATUSES: Final = frozenset({502, 503, 504})
ENDPOINT_VARIABLE: Final = "PROVISIONER_URL"
WIDE: Final = 100  # columns from which tables get their optional columns
API_KEY_VARIABLE: Final = "PROVISIONER_API_KEY"


@dataclass
class Context:
    args: argparse.Namespace
    client: ProvisionerClient
    out: Console  # the command's result
    err: Console  # progress, hints and errors: stdout stays clean for pipes and --json

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def print_json(self, document: Any) -> None:
        # Not through rich, which would wrap and colour it: one JSON document per line.
        _write(json.dumps(document, ensure_ascii=False) + "\n")


Command = Callable[[Context], int]


def _write(content: str) -> None:
    sys.stdout.write(content)
    sys.stdout.flush()


def _job_exit(job: JobOut) -> int:
    return EXIT_FAILED if job.status is JobStatus.FAILED else EXIT_OK


# --- commands ----------------------------------------------------------------------------------


def cmd_health(ctx: Context) -> int:
    document = ctx.client.raw.health()
    if ctx.json:
        ctx.print_json(document)
    else:
        version = document.get("version") if isinstance(document, dict) else None
        ctx.out.print(render.text(f"{ctx.client.endpoint}: ok (API {version})"))
    return EXIT_OK


def cmd_deploy(ctx: Context) -> int:
    args = ctx.args
    package = pack(args.path, args.include)
    variables = merge_variables(package, args.var_file, args.var)
    for path, reason in package.skipped:
        ctx.err.print(render.text(f"skipped {path}: {reason}", "yellow"))
    if package.variable_files:
        ctx.err.print(render.text(f"variables from {', '.join(package.variable_files)}", "dim"))
    if args.estimate and not _estimate_and_confirm(ctx, package.files, variables):
        ctx.err.print(render.text("Not deployed.", "yellow"))
        return EXIT_FAILED
    ctx.err.print(
        render.text(
            f"Sending {len(package.files)} file(s) ({package.size:,} bytes) and {len(variables)} "
            f"variable(s) to project {args.project} at {ctx.client.endpoint}",
            "dim",
        )
    )
    return _after_submit(ctx, ctx.client.raw.deploy(args.project, package.files, variables))


def _estimate_and_confirm(ctx: Context, files: dict[str, str], variables: dict[str, Any]) -> bool:
    """The offline monthly cost of what is about to go out; on a terminal, ask before sending."""
    from cost import estimate  # noqa: PLC0415 - loads the price catalogue

    try:
        # For resources whose provider names no region: the install's, when --region gives it.
        report = estimate(files=files, variables=variables, default_region=ctx.args.region or "us-east-1")
    except ValueError as exc:  # the service's own checks will say more
        ctx.err.print(render.text(f"no estimate: {exc}", "yellow"))
    else:
        render.print_costs(ctx.err, report.to_dict())
    if ctx.args.yes or not interactive():
        return True
    try:
        return Confirm.ask(f"Deploy to project {ctx.args.project}?", console=ctx.err, default=False)
    except (KeyboardInterrupt, EOFError):
        return False


def cmd_destroy(ctx: Context) -> int:
    return _after_submit(ctx, ctx.client.raw.destroy(ctx.args.project))


def _after_submit(ctx: Context, document: Any) -> int:
    accepted = DeployAccepted.model_validate(document)
    if not ctx.args.wait:
        if ctx.json:
            ctx.print_json(document)
        else:
            ctx.out.print(render.text(f"{accepted.message}: job {accepted.jobId}"))
            ctx.err.print(render.text(f"follow it: provisioner status {accepted.jobId}", "dim"))
        return EXIT_OK
    ctx.err.print(render.text(f"{accepted.message}: job {accepted.jobId}"))
    job = JobWatch(ctx.client, accepted.jobId, ctx.err, follow_logs=ctx.args.logs).run()
    if job is None:
        return EXIT_INTERRUPTED
    if ctx.json:
        ctx.print_json(ctx.client.raw.status(accepted.jobId))
    elif job.status is JobStatus.COMPLETED:
        ctx.out.print(render.text(job.result.message if job.result else "Done.", "bold green"))
        if job.action == "deploy":
            render.print_outputs(ctx.out, job.result.outputs if job.result else {})
    else:
        render.print_failure(ctx.out, job)
    return _job_exit(job)


def cmd_status(ctx: Context) -> int:
    document = ctx.client.raw.status(ctx.args.job)
    job = JobOut.model_validate(document)
    if ctx.json:
        ctx.print_json(document)
    else:
        render.print_job(ctx.out, job)
        if job.status is JobStatus.FAILED:
            render.print_failure(ctx.out, job, headline=False)
    return _job_exit(job)


def cmd_jobs(ctx: Context) -> int:
    args = ctx.args
    document = ctx.client.raw.jobs(args.project, args.limit, args.next)
    if ctx.json:
        ctx.print_json(document)
        return EXIT_OK
    listing = JobListOut.model_validate(document)
    if listing.jobs:
        ctx.out.print(render.jobs_table(listing, errors=ctx.out.width >= WIDE))
    else:
        ctx.out.print(render.text("No jobs.", "dim"))
    if listing.next:
        project = f" --project {args.project}" if args.project else ""
        ctx.err.print(render.text(f"more: provisioner jobs{project} --next {listing.next}", "dim"))
    return EXIT_OK


def cmd_logs(ctx: Context) -> int:
    job_id, offset = ctx.args.job, ctx.args.offset
    while True:
        document = ctx.client.raw.logs(job_id, offset)
        chunk = LogOut.model_validate(document)
        if ctx.json and (chunk.content or chunk.complete or not ctx.args.follow):
            ctx.print_json(document)
        elif not ctx.json:
            _write(chunk.content)
        if not ctx.args.follow:
            return EXIT_OK
        if chunk.complete:
            break
        if chunk.nextOffset == offset:
            time.sleep(POLL_SECONDS)
        offset = chunk.nextOffset
    # Following to the end answers "did it work?" as well, as --wait does.
    return _job_exit(ctx.client.status(job_id))


def cmd_outputs(ctx: Context) -> int:
    document = ctx.client.raw.outputs(ctx.args.project)
    if ctx.json:
        ctx.print_json(document)
    else:
        render.print_outputs(ctx.out, OutputsOut.model_validate(document).outputs)
    return EXIT_OK


def cmd_state(ctx: Context) -> int:
    document = ctx.client.raw.state(ctx.args.project)
    if ctx.json:
        ctx.print_json(document)
    else:
        ctx.out.print(render.state_table(StateOut.model_validate(document)))
    return EXIT_OK


def cmd_infra(ctx: Context) -> int:
    document = ctx.client.raw.infrastructure(ctx.args.project)
    if ctx.json:
        ctx.print_json(document)
        return EXIT_OK
    infra = InfrastructureOut.model_validate(document)
    ctx.out.print(render.infrastructure_table(infra))
    if infra.deploymentOutputs:
        ctx.out.print(render.outputs_table(infra.deploymentOutputs))
    return EXIT_OK


def cmd_validate(ctx: Context) -> int:
    document = ctx.client.raw.validate(ctx.args.project)
    result = ValidationOut.model_validate(document)
    if ctx.json:
        ctx.print_json(document)
    else:
        render.print_validation(ctx.out, result)
    return EXIT_OK if result.valid else EXIT_FAILED


def cmd_costs(ctx: Context) -> int:
    document = ctx.client.raw.costs(ctx.args.project)
    if ctx.json:
        ctx.print_json(document)
    else:
        render.print_costs_out(ctx.out, CostsOut.model_validate(document))
    return EXIT_OK


def cmd_cancel(ctx: Context) -> int:
    document = ctx.client.raw.cancel(ctx.args.job)
    if ctx.json:
        ctx.print_json(document)
    else:
        ctx.out.print(render.text(str(document.get("message", "")), "yellow"))
    return EXIT_OK


# --- arguments ---------------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """The same options before or after the command; after it, only what is given overrides."""

    def default(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    group = parser.add_argument_group("service")
    group.add_argument(
        "--endpoint",
        default=default(None),
        help=f"the API's URL (default: ${ENDPOINT_VARIABLE}, else {DEFAULT_ENDPOINT}, i.e. make local)",
    )
    group.add_argument(
        "--sign",
        action=argparse.BooleanOptionalAction,
        default=default(None),
        help="SigV4-sign requests with your AWS credentials (default: when the host is *.amazonaws.com)",
    )
    group.add_argument(
        "--region", default=default(None), help="the region to sign for (default: from the URL)"
    )
    group.add_argument(
        "--api-key", default=default(None), help=f"sent as x-api-key (default: ${API_KEY_VARIABLE})"
    )
    group.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        help=f"seconds to wait for each HTTP answer (default: {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print the API's JSON as it is instead of tables",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provisioner",
        description="Deploy Terraform code to the provisioner service and follow the jobs.",
        epilog="Exit codes: 0 done, 1 job failed or configuration invalid, 2 usage error, "
        "3 service unreachable, 130 stopped watching (the job keeps running).",
    )
    _connection_options(parser, top_level=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _connection_options(sub, top_level=False)
        sub.set_defaults(handler=handler)
        return sub

    def waits(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--wait", action="store_true", help="follow the job to its end (progress bar)")
        sub.add_argument("--logs", action="store_true", help="with --wait: print the log as it is written")

    deploy = command("deploy", cmd_deploy, "deploy a directory (or one .tf file) of Terraform code")
    deploy.add_argument("path", type=Path, help="a directory of .tf files (modules in sub-directories)")
    deploy.add_argument("--project", "-p", required=True, help="the project id: letters, digits, '-', '_'")
    deploy.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a variable value (repeatable)"
    )
    deploy.add_argument(
        "--var-file",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="a .tfvars or .tfvars.json file (repeatable); sent as variables, not as code",
    )
    deploy.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="also send these files (relative glob, e.g. 'templates/*.tpl'); .tf files always go",
    )
    deploy.add_argument(
        "--estimate",
        action="store_true",
        help="first show the code's monthly cost (offline) and, on a terminal, ask before deploying",
    )
    deploy.add_argument("--yes", "-y", action="store_true", help="with --estimate: do not ask")
    waits(deploy)

    destroy = command("destroy", cmd_destroy, "destroy everything a project deployed")
    destroy.add_argument("project")
    waits(destroy)

    command("status", cmd_status, "a job's status, progress and result").add_argument("job")

    jobs = command("jobs", cmd_jobs, "job history, newest first")
    jobs.add_argument("--project", "-p", help="only this project's jobs")
    jobs.add_argument("--limit", type=int, help="jobs per page (1-100, default 20)")
    jobs.add_argument("--next", help="the token printed under the previous page")

    logs = command("logs", cmd_logs, "a job's full log")
    logs.add_argument("job")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    logs.add_argument("--offset", type=int, default=0, help="byte offset to start from")

    for name, handler, help_text in (
        ("outputs", cmd_outputs, "a project's terraform outputs (sensitive ones masked)"),
        ("state", cmd_state, "a project's terraform state (sensitive values redacted)"),
        ("infra", cmd_infra, "a project's deployment status, outputs and state summary"),
        ("validate", cmd_validate, "validate a project's latest code (exit 1 when invalid)"),
        ("costs", cmd_costs, "a project's monthly cost, by category and by resource"),
    ):
        command(name, handler, help_text).add_argument("project")

    command("cancel", cmd_cancel, "cancel a job; terraform stops safely").add_argument("job")
    command("health", cmd_health, "check that the service answers")
    # Listed for --help only: main() hands everything after "estimate" to cost.cli.
    commands.add_parser(
        "estimate",
        help="monthly cost of a directory or plan, offline (provisioner estimate --help)",
        add_help=False,
    )
    return parser


def _console(*, stderr: bool) -> Console:
    """Lines are never wrapped (logs and messages stay greppable); tables get room in CI logs, where
    no terminal sets a width and rich's 80 columns would fold every job id."""
    console = Console(stderr=stderr, highlight=False, soft_wrap=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


def _client(args: argparse.Namespace) -> ProvisionerClient:
    endpoint = args.endpoint or os.environ.get(ENDPOINT_VARIABLE) or DEFAULT_ENDPOINT
    api_key = args.api_key or os.environ.get(API_KEY_VARIABLE) or None
    return ProvisionerClient(
        endpoint, sign=args.sign, region=args.region, api_key=api_key, timeout=args.timeout
    )


# --- errors ------------------------------------------------------------------------------------


def _unreachable(err: Console, exc: ServiceUnreachable) -> int:
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


def _api_error(ctx: Context, exc: ApiError) -> int:
    if ctx.json:
        ctx.print_json(exc.body)
    ctx.err.print(render.text(f"error ({exc.status} {exc.error}): {exc.message}", "red"))
    for problem in exc.errors:
        where = problem.get("file") or ""
        if where and problem.get("line") is not None:
            where += f":{problem['line']}"
        prefix = f"{where}: " if where else ""
        ctx.err.print(render.text(f"  {prefix}{problem.get('message', problem)}", "red"))
    if exc.active_job_id:
        job = exc.active_job_id
        ctx.err.print(
            render.text(f"the project is busy with job {job}: provisioner status {job} / cancel {job}", "dim")
        )
    if exc.status in (401, 403):
        ctx.err.print(
            render.text(
                "the API refused the credentials: for IAM auth use --sign (and AWS credentials with "
                "execute-api:Invoke), for API keys --api-key or $PROVISIONER_API_KEY",
                "dim",
            )
        )
    if exc.status in UNAVAILABLE_STATUSES:
        return EXIT_UNREACHABLE
    return EXIT_USAGE if exc.error in USAGE_ERRORS else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["estimate"]:
        from cost.cli import main as estimate  # noqa: PLC0415 - its catalogue loads lazily

        return estimate(arguments[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse has printed the usage and the problem
        return EXIT_OK if exc.code in (0, None) else EXIT_USAGE
    err = _console(stderr=True)
    if args.command == "estimate":  # options came before it: they mean nothing offline
        err.print(render.text("put `estimate` first: provisioner estimate PATH [options]", "red"))
        return EXIT_USAGE
    try:
        client = _client(args)
    except (ValueError, SigningError) as exc:
        err.print(render.text(f"error: {exc}", "red"))
        return EXIT_USAGE
    return _run(Context(args, client, _console(stderr=False), err))


def _run(ctx: Context) -> int:
    """The command, with every failure turned into its message and exit code."""
    handler: Command = ctx.args.handler
    try:
        return handler(ctx)
    except (PackError, SigningError) as exc:
        ctx.err.print(render.text(f"error: {exc}", "red"))
        return EXIT_USAGE
    except ServiceUnreachable as exc:
        return _unreachable(ctx.err, exc)
    except ApiError as exc:
        return _api_error(ctx, exc)
    except KeyboardInterrupt:
        ctx.err.print(render.text("interrupted", "yellow"))
        return EXIT_INTERRUPTED
