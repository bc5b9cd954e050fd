"""``provisioner``: deploy a directory of Terraform code and watch it happen, from a terminal or CI.

A typer app; ``main`` runs it and turns click's usage errors into exit code 2. The service options
(``--endpoint``, ``--json``, ...) go before or after the command; after it, only what is given
overrides. Exit codes are ``provisioner.cli.failures``'.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import time
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import typer
from rich.prompt import Confirm
from typer.core import TyperGroup

from core.records import TERMINAL_JOB_STATUSES, JobStatus
from core.requests import NotificationEventType
from core.responses import (
    CostsOut,
    DeliveryListOut,
    DriftFleetOut,
    DriftOut,
    InfrastructureOut,
    JobListOut,
    LogOut,
    OutputsOut,
    StateOut,
    SubscriptionCreatedOut,
    SubscriptionListOut,
    ValidationOut,
)
from provisioner.cli import render, watch
from provisioner.cli.failures import (
    EXIT_CHANGES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    api_error,
    guarded,
    job_exit,
)
from provisioner.cli.options import SERVICE_PARAMETERS, ApiKey, Endpoint, Json, Region, Sign, Timeout
from provisioner.cli.pack import Package, merge_variables, pack
from provisioner.cli.session import Connection, Session, console, write
from provisioner.cli.watch import POLL_SECONDS, JobWatch, interactive
from provisioner.client import Approval, PolicyLevel, RegoSyntax, WhenBusy
from provisioner.errors import ApiError, SigningError
from provisioner.models import (
    POLICY_OUTCOMES_THAT_PASS,
    Accepted,
    Decision,
    DryRunOut,
    JobDetail,
    PlanOut,
    PolicyListOut,
    PolicyOut,
    PolicyVersionsOut,
)

WIDE: Final = 100  # columns from which tables get their optional columns

cli = typer.Typer(
    name="provisioner",
    help="Deploy Terraform code to the provisioner service and follow the jobs.",
    epilog="Exit codes: 0 done, 1 job failed or configuration invalid, 2 usage error, "
    "3 service unreachable, 130 stopped watching (the job keeps running). "
    "plan --detailed-exitcode: terraform's, 0 no changes, 2 changes, 1 any error.",
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help loads markdown and pygments, doubling --help's start-up.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _group(name: str, help_text: str, cls: type[TyperGroup] | None = None) -> typer.Typer:
    """A command group of ``provisioner``, with the main app's plain help."""
    group = typer.Typer(
        name=name,
        cls=cls,
        help=help_text,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    cli.add_typer(group, name=name)
    return group


policies_cli = _group(
    "policies", "The policies every plan is checked against: list, show, put, delete, and try one on a plan."
)


class _ShowByDefault(TyperGroup):
    """``provisioner state PROJECT`` is ``provisioner state show PROJECT``: the seed's command
    stays as it was while ``state versions`` and ``state rollback`` join it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors click's Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["show", *args]
        return super().parse_args(ctx, args)


state_cli = _group(
    "state",
    "A project's terraform state (sensitive values redacted) and its history: "
    "state PROJECT, state versions PROJECT, state rollback PROJECT SERIAL.",
    _ShowByDefault,
)
notifications_cli = _group(
    "notifications", "Webhook subscriptions to the service's events: list, add, remove, and a delivery log."
)

# --- the service options, before or after the command ------------------------------------------


@cli.callback()
def service_options(
    ctx: typer.Context,
    *,
    endpoint: Endpoint = None,
    sign: Sign = None,
    region: Region = None,
    api_key: ApiKey = None,
    timeout: Timeout = None,
    json: Json = False,
) -> None:
    ctx.obj = Connection().overridden(
        endpoint=endpoint, sign=sign, region=region, api_key=api_key, timeout=timeout, json=json
    )


Body = Callable[..., int]


def command(name: str, help_text: str, group: typer.Typer = cli) -> Callable[[Body], Body]:
    """Register ``body(session, ...its own options)`` as a command (of ``group``) that also takes the
    service options: the command typer sees has the body's parameters and those."""

    def register(body: Body) -> Body:
        @functools.wraps(body)
        def run(**options: Any) -> int:
            ctx: typer.Context = options.pop("ctx")
            given = {parameter.name: options.pop(parameter.name) for parameter in SERVICE_PARAMETERS[1:]}
            before = ctx.find_object(Connection) or Connection()
            connection = before.overridden(**given)
            err = console(stderr=True)
            try:
                client = connection.client()
            except (ValueError, SigningError) as exc:
                err.print(render.text(f"error: {exc}", "red"))
                # With terraform's exit codes, 2 means "changes": every error is 1.
                return EXIT_FAILED if options.get("detailed_exitcode") else EXIT_USAGE
            session = Session(connection, client, console(stderr=False), err)
            with client:
                return guarded(session, lambda: body(session, **options))

        own = list(inspect.signature(body, eval_str=True).parameters.values())[1:]  # not the session
        signature = inspect.Signature([*own, *SERVICE_PARAMETERS], return_annotation=int)
        run.__signature__ = signature  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
        group.command(name, help=help_text)(run)
        return body

    return register


# --- commands ----------------------------------------------------------------------------------

Wait = Annotated[bool, typer.Option("--wait", help="follow the job to its end (progress bar)")]
Logs = Annotated[bool, typer.Option("--logs", help="with --wait: print the log as it is written")]
Project = Annotated[str, typer.Argument(metavar="PROJECT", show_default=False)]
Job = Annotated[str, typer.Argument(metavar="JOB", show_default=False)]
ProjectOption = Annotated[
    str, typer.Option("--project", "-p", help="the project id: letters, digits, '-', '_'")
]
CodePath = Annotated[
    Path, typer.Argument(metavar="PATH", help="a directory of .tf files (modules in sub-directories)")
]
Var = Annotated[list[str] | None, typer.Option(metavar="NAME=VALUE", help="a variable value (repeatable)")]
VarFile = Annotated[
    list[Path] | None,
    typer.Option(
        metavar="FILE", help="a .tfvars or .tfvars.json file (repeatable); sent as variables, not as code"
    ),
]
Include = Annotated[
    list[str] | None,
    typer.Option(
        metavar="GLOB",
        help="also send these files (relative glob, e.g. 'templates/*.tpl'); .tf files always go",
    ),
]
ApprovalOption = Annotated[
    Approval | None,
    typer.Option(
        "--approval",
        help="required: plan, then wait for a person to approve (with --wait, on a terminal, asks you); "
        "auto: apply without asking (default: the project's setting)",
        show_default=False,
    ),
]
WhenBusyOption = Annotated[
    WhenBusy | None,
    typer.Option(
        "--when-busy",
        help="when the project has a job running: queue behind it (the default) or reject this one",
        show_default=False,
    ),
]
Supersede = Annotated[
    bool,
    typer.Option("--supersede", help="supersede the project's queued job that has not started yet"),
]
Comment = Annotated[
    str | None, typer.Option("--comment", metavar="TEXT", help="recorded with the approval or discard")
]
AllowDestroy = Annotated[
    bool,
    typer.Option(
        "--allow-destroy",
        help="let deletes a destroy-protection policy guards go ahead, once someone other than you "
        "approves the plan",
    ),
]


@command("deploy", "deploy a directory (or one .tf file) of Terraform code")
def cmd_deploy(
    session: Session,
    *,
    path: CodePath,
    project: ProjectOption,
    var: Var = None,
    var_file: VarFile = None,
    include: Include = None,
    estimate: Annotated[
        bool,
        typer.Option(
            "--estimate",
            help="first show the code's monthly cost (offline) and, on a terminal, ask before deploying",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="with --estimate: do not ask")] = False,
    approval: ApprovalOption = None,
    when_busy: WhenBusyOption = None,
    supersede: Supersede = False,
    allow_destroy: AllowDestroy = False,
    comment: Comment = None,
    wait: Wait = False,
    logs: Logs = False,
) -> int:
    package, variables = _package(session, path, var, var_file, include)
    if estimate and not _estimate_and_confirm(session, project, package.files, variables, ask=not yes):
        session.err.print(render.text("Not deployed.", "yellow"))
        return EXIT_FAILED
    session.err.print(
        render.text(
            f"Sending {len(package.files)} file(s) ({package.size:,} bytes) and {len(variables)} "
            f"variable(s) to project {project} at {session.client.endpoint}",
            "dim",
        )
    )
    document = session.client.raw.deploy(
        project,
        package.files,
        variables,
        approval=approval,
        when_busy=when_busy,
        supersede=supersede or None,
        allow_destroy=allow_destroy or None,
    )
    return _after_submit(session, document, wait=wait, logs=logs, comment=comment)


def _package(
    session: Session,
    path: Path,
    var: list[str] | None,
    var_file: list[Path] | None,
    include: list[str] | None,
) -> tuple[Package, dict[str, Any]]:
    """The code and variables to send, saying on stderr what was left out and where variables came from."""
    package = pack(path, include or [])
    variables = merge_variables(package, var_file or [], var or [])
    for skipped, reason in package.skipped:
        session.err.print(render.text(f"skipped {skipped}: {reason}", "yellow"))
    if package.variable_files:
        session.err.print(render.text(f"variables from {', '.join(package.variable_files)}", "dim"))
    return package, variables


def _estimate_and_confirm(
    session: Session, project: str, files: dict[str, str], variables: dict[str, Any], *, ask: bool
) -> bool:
    """The offline monthly cost of what is about to go out; on a terminal, ask before sending."""
    from cost import estimate  # noqa: PLC0415 - loads the price catalogue

    try:
        # For resources whose provider names no region: the install's, when --region gives it.
        region = session.connection.region or "us-east-1"
        report = estimate(files=files, variables=variables, default_region=region)
    except ValueError as exc:  # the service's own checks will say more
        session.err.print(render.text(f"no estimate: {exc}", "yellow"))
    else:
        render.print_costs(session.err, report.to_dict())
    if not ask or not interactive():
        return True
    try:
        return Confirm.ask(f"Deploy to project {project}?", console=session.err, default=False)
    except (KeyboardInterrupt, EOFError):
        return False


@command("destroy", "destroy everything a project deployed")
def cmd_destroy(
    session: Session,
    *,
    project: Project,
    approval: ApprovalOption = None,
    when_busy: WhenBusyOption = None,
    supersede: Supersede = False,
    allow_destroy: AllowDestroy = False,
    comment: Comment = None,
    wait: Wait = False,
    logs: Logs = False,
) -> int:
    document = session.client.raw.destroy(
        project,
        approval=approval,
        when_busy=when_busy,
        supersede=supersede or None,
        allow_destroy=allow_destroy or None,
    )
    return _after_submit(session, document, wait=wait, logs=logs, comment=comment)


def _after_submit(
    session: Session, document: Any, *, wait: bool, logs: bool, comment: str | None = None
) -> int:
    accepted = Accepted.model_validate(document)
    queued = _queued(accepted)
    if not wait:
        if session.json:
            session.print_json(document)
        else:
            session.out.print(render.text(f"{accepted.message}: job {accepted.jobId}"))
            if queued:
                session.err.print(render.text(queued, "yellow"))
            session.err.print(render.text(f"follow it: provisioner status {accepted.jobId}", "dim"))
        return EXIT_OK
    session.err.print(render.text(f"{accepted.message}: job {accepted.jobId}"))
    if queued:
        session.err.print(render.text(queued, "yellow"))
    job = _follow(session, accepted.jobId, logs=logs, comment=comment)
    if job is None:
        return EXIT_INTERRUPTED
    if session.json:
        session.print_json(session.client.raw.status(accepted.jobId))
        return job_exit(job)
    if job.policies is not None:
        from provisioner.cli.review import print_policies  # noqa: PLC0415

        print_policies(session.out, job.policies)
    if job.status is JobStatus.COMPLETED:
        session.out.print(render.text(job.result.message if job.result else "Done.", "bold green"))
        if job.action == "deploy":
            render.print_outputs(session.out, job.result.outputs if job.result else {})
    else:
        render.print_failure(session.out, job)
    return job_exit(job)


def _queued(accepted: Accepted) -> str | None:
    if accepted.queuePosition is None:
        return None
    note = f"queued: position {accepted.queuePosition}"
    return f"{note}, waiting for {accepted.waitingFor}" if accepted.waitingFor else note


def _follow(session: Session, job_id: str, *, logs: bool, comment: str | None) -> JobDetail | None:
    """Watch the job to its end; when its plan waits for approval, show the plan and have it decided
    (or say how to decide it). None: the person stopped watching."""
    watching = JobWatch(
        session.client, job_id, session.err, follow_logs=logs, until=lambda job: job.awaiting_approval
    )
    while True:
        job = watching.run()
        if job is None or job.status in TERMINAL_JOB_STATUSES:
            return job
        watching.until = None  # reviewed once: then followed to its end, whoever decides
        if not _review(session, job, comment):
            return None


def _review(session: Session, job: JobDetail, comment: str | None) -> bool:
    """Show the plan a job waits with; on a terminal ask whether to apply it, when an approval is
    what it waits for (an override is someone else's: only said how). False: stop watching."""
    # Only for gated jobs:
    from provisioner.cli.review import approvable, decision_hints, print_plan, print_policies  # noqa: PLC0415

    shown = session.err if session.json else session.out
    try:
        plan = session.client.get_plan(job.jobId)
    except ApiError as exc:  # the plan cannot be read: the decision is still the person's
        session.err.print(render.text(f"cannot show the plan: {exc.message}", "yellow"))
        if job.policies is not None:
            print_policies(shown, job.policies)
    else:
        print_plan(shown, plan)
        if plan.policies is None and job.policies is not None:
            print_policies(shown, job.policies)
    commands = "\n".join(f"  {hint}" for hint in decision_hints(job))
    if not watch.can_review() or not approvable(job):
        session.err.print(render.text(f"Job {job.jobId} waits:\n{commands}", "yellow"))
        return True
    if "override" in job.needs:
        session.err.print(
            render.text(
                "Approving it leaves it waiting for an override by someone other than the submitter.",
                "yellow",
            )
        )
    apply = watch.ask_apply(session.err)
    if apply is None:  # Ctrl-C or end of input: no decision, the job keeps waiting
        session.err.print(render.text(f"\nNo decision; job {job.jobId} keeps waiting.\n{commands}", "yellow"))
        return False
    try:
        decision = (session.client.approve if apply else session.client.discard)(job.jobId, comment)
    except ApiError as exc:  # decided (or expired) meanwhile: following the job shows how
        session.err.print(render.text(exc.message, "yellow"))
    else:
        session.err.print(render.text(decision.message, "green" if apply else "yellow"))
    return True


@command("plan", "plan a directory's changes for review; `provisioner apply PLAN_JOB` applies them")
def cmd_plan(
    session: Session,
    *,
    path: CodePath,
    project: ProjectOption,
    var: Var = None,
    var_file: VarFile = None,
    include: Include = None,
    output_format: Annotated[
        Literal["table", "markdown", "json"],
        typer.Option("--format", help="table; markdown: the service's, as it is; json: the plan document"),
    ] = "table",
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode", help="terraform's exit codes: 0 no changes, 2 changes, 1 any error"
        ),
    ] = False,
    logs: Annotated[bool, typer.Option("--logs", help="print the log as it is written")] = False,
) -> int:
    found = _PlanFound()
    code = guarded(
        session,
        lambda: _plan(
            session,
            found,
            path=path,
            project=project,
            var=var,
            var_file=var_file,
            include=include,
            output_format=output_format,
            logs=logs,
        ),
    )
    if not detailed_exitcode:
        return code
    if code != EXIT_OK:
        return EXIT_FAILED
    return EXIT_CHANGES if found.changes else EXIT_OK


class _PlanFound:
    changes = False


def _plan(
    session: Session,
    found: _PlanFound,
    *,
    path: Path,
    project: str,
    var: list[str] | None,
    var_file: list[Path] | None,
    include: list[str] | None,
    output_format: str,
    logs: bool,
) -> int:
    from provisioner.cli.review import print_plan  # noqa: PLC0415 - only for plans

    output_format = "json" if session.json else output_format
    package, variables = _package(session, path, var, var_file, include)
    accepted = Accepted.model_validate(session.client.raw.plan(project, package.files, variables))
    session.err.print(render.text(f"{accepted.message}: job {accepted.jobId}"))
    job = JobWatch(session.client, accepted.jobId, session.err, follow_logs=logs).run()
    if job is None:
        return EXIT_INTERRUPTED
    if job.status is JobStatus.FAILED:
        render.print_failure(session.out if output_format == "table" else session.err, job)
        return EXIT_FAILED
    document = session.client.raw.get_plan(accepted.jobId)
    plan = PlanOut.model_validate(document)
    found.changes = plan.summary.changes
    # The plan job's id: on stdout with the table, on stderr when stdout is a document.
    where = session.out if output_format == "table" else session.err
    if output_format == "json":
        session.print_json(document)
    elif output_format == "markdown":
        write(plan.markdown)
    else:
        print_plan(session.out, plan)
    where.print(render.text(f"Plan job: {plan.jobId}", "bold"))
    if plan.summary.changes:
        where.print(render.text(f"apply it: provisioner apply {plan.jobId}", "dim"))
    return EXIT_OK


@command("apply", "apply a plan made by `provisioner plan`: exactly its changes, or none if stale")
def cmd_apply(
    session: Session,
    *,
    plan_job: Annotated[str, typer.Argument(metavar="PLAN_JOB_ID", show_default=False)],
    when_busy: WhenBusyOption = None,
    supersede: Supersede = False,
    allow_destroy: AllowDestroy = False,
    wait: Wait = False,
    logs: Logs = False,
) -> int:
    document = session.client.raw.apply(
        plan_job, when_busy=when_busy, supersede=supersede or None, allow_destroy=allow_destroy or None
    )
    return _after_submit(session, document, wait=wait, logs=logs)


@command("approve", "apply the plan a job waits with (the job goes on)")
def cmd_approve(session: Session, *, job: Job, comment: Comment = None) -> int:
    return _decided(session, session.client.raw.approve(job, comment), "green")


@command("discard", "refuse the plan a job waits with (the job ends, nothing applied)")
def cmd_discard(session: Session, *, job: Job, comment: Comment = None) -> int:
    return _decided(session, session.client.raw.discard(job, comment), "yellow")


@command(
    "override",
    "let a plan through the soft-mandatory policies it failed (not the job's submitter; with a reason)",
)
def cmd_override(
    session: Session,
    *,
    job: Job,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="why, recorded on the job's policy check")
    ],
) -> int:
    if not reason.strip():
        session.err.print(render.text("error: an override needs a reason (--reason)", "red"))
        return EXIT_USAGE
    return _decided(session, session.client.raw.override(job, reason), "yellow")


def _decided(session: Session, document: Any, style: str) -> int:
    decision = Decision.model_validate(document)
    if session.json:
        session.print_json(document)
    else:
        session.out.print(render.text(f"{decision.message}: job {decision.jobId}", style))
        session.err.print(render.text(f"follow it: provisioner status {decision.jobId}", "dim"))
    return EXIT_OK


@command("status", "a job's status, progress and result")
def cmd_status(session: Session, *, job: Job) -> int:
    from provisioner.cli.review import decision_hints, print_policy_results, review_rows  # noqa: PLC0415

    document = session.client.raw.status(job)
    read = JobDetail.model_validate(document)
    if session.json:
        session.print_json(document)
    else:
        render.print_job(session.out, read, extra=review_rows(read))
        if read.policies is not None:
            print_policy_results(session.out, read.policies)
        if read.status is JobStatus.FAILED:
            render.print_failure(session.out, read, headline=False)
        for hint in decision_hints(read):
            session.err.print(render.text(hint, "dim"))
    return job_exit(read)


@command("jobs", "job history, newest first")
def cmd_jobs(
    session: Session,
    *,
    project: Annotated[str | None, typer.Option("--project", "-p", help="only this project's jobs")] = None,
    limit: Annotated[int | None, typer.Option(help="jobs per page (1-100, default 20)")] = None,
    next: Annotated[str | None, typer.Option(help="the token printed under the previous page")] = None,
) -> int:
    document = session.client.raw.jobs(project, limit, next)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    listing = JobListOut.model_validate(document)
    if listing.jobs:
        session.out.print(render.jobs_table(listing, errors=session.out.width >= WIDE))
    else:
        session.out.print(render.text("No jobs.", "dim"))
    if listing.next:
        only = f" --project {project}" if project else ""
        session.err.print(render.text(f"more: provisioner jobs{only} --next {listing.next}", "dim"))
    return EXIT_OK


@command("logs", "a job's full log")
def cmd_logs(
    session: Session,
    *,
    job: Job,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the job ends")] = False,
    offset: Annotated[int, typer.Option(help="byte offset to start from")] = 0,
) -> int:
    while True:
        document = session.client.raw.logs(job, offset)
        chunk = LogOut.model_validate(document)
        if session.json and (chunk.content or chunk.complete or not follow):
            session.print_json(document)
        elif not session.json:
            write(chunk.content)
        if not follow:
            return EXIT_OK
        if chunk.complete:
            break
        if chunk.nextOffset == offset:
            time.sleep(POLL_SECONDS)
        offset = chunk.nextOffset
    # Following to the end answers "did it work?" as well, as --wait does.
    return job_exit(session.client.status(job))


@command("outputs", "a project's terraform outputs (sensitive ones masked)")
def cmd_outputs(session: Session, *, project: Project) -> int:
    document = session.client.raw.outputs(project)
    if session.json:
        session.print_json(document)
    else:
        render.print_outputs(session.out, OutputsOut.model_validate(document).outputs)
    return EXIT_OK


@command("show", "a project's terraform state (sensitive values redacted)", state_cli)
def cmd_state(session: Session, *, project: Project) -> int:
    document = session.client.raw.state(project)
    if session.json:
        session.print_json(document)
    else:
        session.out.print(render.state_table(StateOut.model_validate(document)))
    return EXIT_OK


@command("infra", "a project's deployment status, outputs and state summary")
def cmd_infra(session: Session, *, project: Project) -> int:
    document = session.client.raw.infrastructure(project)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    infra = InfrastructureOut.model_validate(document)
    session.out.print(render.infrastructure_table(infra))
    if infra.deploymentOutputs:
        session.out.print(render.outputs_table(infra.deploymentOutputs))
    return EXIT_OK


@command("validate", "validate a project's latest code (exit 1 when invalid)")
def cmd_validate(session: Session, *, project: Project) -> int:
    document = session.client.raw.validate(project)
    result = ValidationOut.model_validate(document)
    if session.json:
        session.print_json(document)
    else:
        render.print_validation(session.out, result)
    return EXIT_OK if result.valid else EXIT_FAILED


@command("costs", "a project's monthly cost, by category and by resource")
def cmd_costs(session: Session, *, project: Project) -> int:
    document = session.client.raw.costs(project)
    if session.json:
        session.print_json(document)
    else:
        render.print_costs_out(session.out, CostsOut.model_validate(document))
    return EXIT_OK


@command(
    "settings",
    "a project's settings; --approval required makes its deploys wait for approval, "
    '--drift-schedule "rate(6 hours)" (or off) sets how often its drift is checked',
)
def cmd_settings(
    session: Session,
    *,
    project: Project,
    approval: ApprovalOption = None,
    drift_schedule: Annotated[
        str | None,
        typer.Option("--drift-schedule", metavar="RATE", help='"off" or "rate(N minutes|hours|days)"'),
    ] = None,
) -> int:
    client = session.client.raw
    changing = approval is not None or drift_schedule is not None
    document = (
        client.update_settings(project, approval, drift_schedule) if changing else client.settings(project)
    )
    if session.json:
        session.print_json(document)
    else:
        changed = (
            f" (set by {document['updatedBy']} at {document['updatedAt']})"
            if document.get("updatedBy")
            else ""
        )
        drift = f"; drift checked {document.get('driftSchedule', 'rate(1 day)')}"
        session.out.print(f"{document['projectId']}: approval {document['approval']}{changed}{drift}")
    return EXIT_OK


@command(
    "drift",
    "a project's drift (--check: check now and wait); without PROJECT, every project's status. "
    "Exit 0 clean, 2 drifted, 1 errored",
)
def cmd_drift(
    session: Session,
    *,
    project: Annotated[str | None, typer.Argument(metavar="[PROJECT]", show_default=False)] = None,
    check: Annotated[bool, typer.Option("--check", help="check now, wait for it, then show it")] = False,
    remediate: Annotated[
        Literal["plan", "apply"] | None,
        typer.Option(
            "--remediate",
            help="plan: a plan of the deployed code to review; apply: deploy it again (through the "
            "project's approvals and policies)",
        ),
    ] = None,
) -> int:
    from provisioner.cli.drift import fleet_table, print_drift  # noqa: PLC0415

    client = session.client.raw
    if project is None:
        document = client.drift_fleet()
        if session.json:
            session.print_json(document)
        else:
            session.out.print(fleet_table(DriftFleetOut.model_validate(document)))
        return EXIT_OK
    if remediate is not None:
        return _after_submit(session, client.remediate(project, remediate), wait=True, logs=False)
    if check:
        started = client.check_drift(project)
        if started.get("status") == "accepted":
            session.err.print(render.text(f"{started['jobId']}: checking {project} for drift", "dim"))
            session.client.wait(str(started["jobId"]), poll=POLL_SECONDS)
        else:
            session.err.print(render.text(str(started.get("message", "")), "yellow"))
    document = client.drift(project)
    drift = DriftOut.model_validate(document)
    if session.json:
        session.print_json(document)
    else:
        print_drift(session.out, drift)
    status = drift.latest.status if drift.latest else "never_checked"
    return {"drifted": EXIT_CHANGES, "errored": EXIT_FAILED}.get(status, EXIT_OK)


# --- state history, backup and restore ----------------------------------------------------------

Passphrase = Annotated[
    str | None,
    typer.Option(
        "--passphrase",
        envvar="PROVISIONER_BACKUP_PASSPHRASE",
        help="seals the state in the bundle (at least 12 characters); better from the environment",
        show_default=False,
    ),
]


@command("versions", "every version of a project's state, newest first, with what wrote it", state_cli)
def cmd_state_versions(
    session: Session,
    *,
    project: Project,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="versions per page")] = 20,
    next_token: Annotated[str | None, typer.Option("--next", help="the token of the next page")] = None,
) -> int:
    from provisioner.cli.state import versions_table  # noqa: PLC0415

    document = session.client.raw.state_versions(project, limit, next_token)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    session.out.print(versions_table(document))
    if document.get("next"):
        session.err.print(render.text(f"more: --next {document['next']}", "dim"))
    return EXIT_OK


@command("rollback", "write an old state version's content as a new version (with a reason)", state_cli)
def cmd_state_rollback(
    session: Session,
    *,
    project: Project,
    serial: Annotated[int, typer.Argument(metavar="SERIAL", min=0, show_default=False)],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="why, recorded with the version")],
) -> int:
    if not reason.strip():
        session.err.print(render.text("error: a rollback needs a reason (--reason)", "red"))
        return EXIT_USAGE
    document = session.client.raw.rollback(project, serial, reason)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    session.out.print(render.text(str(document.get("message", "")), "green"))
    session.err.print(
        render.text(
            f"serial {document.get('serial')} (from {document.get('fromSerial')}); "
            "the next deploy plans against it",
            "dim",
        )
    )
    return EXIT_OK


def _passphrase(session: Session, passphrase: str | None) -> str | None:
    if passphrase is None or len(passphrase) < 12:
        session.err.print(
            render.text(
                "error: a passphrase of at least 12 characters is needed "
                "(--passphrase or PROVISIONER_BACKUP_PASSPHRASE)",
                "red",
            )
        )
        return None
    return passphrase


@command("backup", "save a project's code, state history and sealed state to a file")
def cmd_backup(
    session: Session,
    *,
    project: Project,
    out: Annotated[Path, typer.Option("--out", metavar="FILE", help="where the bundle goes")],
    passphrase: Passphrase = None,
) -> int:
    given = _passphrase(session, passphrase)
    if given is None:
        return EXIT_USAGE
    document = session.client.raw.backup(project, given)
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out.chmod(0o600)
    session.out.print(
        render.text(f"{project}: state serial {document['state']['serial']} backed up to {out}", "green")
    )
    return EXIT_OK


@command("restore", "restore a backup bundle into a project that has no state")
def cmd_restore(
    session: Session,
    *,
    project: Project,
    bundle: Annotated[Path, typer.Argument(metavar="FILE", show_default=False)],
    passphrase: Passphrase = None,
) -> int:
    given = _passphrase(session, passphrase)
    if given is None:
        return EXIT_USAGE
    try:
        document = json.loads(bundle.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        session.err.print(render.text(f"error: cannot read {bundle}: {exc}", "red"))
        return EXIT_USAGE
    answer = session.client.raw.restore(project, document, given)
    if session.json:
        session.print_json(answer)
    else:
        session.out.print(render.text(str(answer.get("message", "")), "green"))
    return EXIT_OK


# --- policies ------------------------------------------------------------------------------------

PolicyName = Annotated[str, typer.Argument(metavar="NAME", show_default=False)]
PolicyProject = Annotated[
    str | None,
    typer.Option("--project", "-p", help="the project's policy (absent: the install's, for every project)"),
]
LevelOption = Annotated[
    PolicyLevel,
    typer.Option(
        "--level",
        help="off; advisory (warns); soft-mandatory (stops until someone else overrides); "
        "mandatory (stops the job)",
        show_default=False,
    ),
]
RegoFile = Annotated[
    Path | None,
    typer.Option("--rego", metavar="FILE", help="a Rego module defining deny, violation or warn"),
]
SyntaxOption = Annotated[
    RegoSyntax, typer.Option("--syntax", help="the Rego's syntax: OPA 1.x (v1) or pre-1.0 (v0)")
]
SettingsOption = Annotated[
    str | None,
    typer.Option(
        "--settings",
        metavar="JSON|@FILE",
        help="a built-in policy's settings: a JSON object, or @ and a file holding one",
    ),
]


class _BadArgument(Exception):
    """A policy file or settings that cannot be read: a usage error (2)."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _BadArgument(f"cannot read {path}: {exc}") from exc


def _settings(raw: str | None) -> dict[str, Any] | None:
    """--settings: a JSON object, given as it is or as @FILE."""
    if raw is None:
        return None
    given = _read_text(Path(raw[1:])) if raw.startswith("@") else raw
    try:
        value = json.loads(given)
    except ValueError as exc:
        raise _BadArgument(f"--settings is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise _BadArgument("--settings must be a JSON object")
    return value


def _usage(session: Session, run: Callable[[], int]) -> int:
    try:
        return run()
    except _BadArgument as exc:
        session.err.print(render.text(f"error: {exc}", "red"))
        return EXIT_USAGE


@command("list", "the install's policies (and a project's, with -p) and the built-ins", policies_cli)
def cmd_policies_list(session: Session, *, project: PolicyProject = None) -> int:
    from provisioner.cli.policies import print_policy_list  # noqa: PLC0415

    document = session.client.raw.policies(project)
    if session.json:
        session.print_json(document)
    else:
        print_policy_list(session.out, PolicyListOut.model_validate(document))
    return EXIT_OK


@command("show", "a policy's version: its header on stderr, its Rego or settings on stdout", policies_cli)
def cmd_policies_show(
    session: Session,
    *,
    name: PolicyName,
    project: PolicyProject = None,
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="this version (default: the latest)")
    ] = None,
) -> int:
    from provisioner.cli.policies import header_table, source  # noqa: PLC0415

    document = session.client.raw.policy(name, project, version)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    policy = PolicyOut.model_validate(document)
    # The source alone on stdout: `policies show NAME > policy.rego` gives back what `put` took.
    session.err.print(header_table(policy))
    write(source(policy))
    return EXIT_OK


@command("versions", "a policy's versions, newest first", policies_cli)
def cmd_policies_versions(session: Session, *, name: PolicyName, project: PolicyProject = None) -> int:
    from provisioner.cli.policies import versions_table  # noqa: PLC0415

    document = session.client.raw.policy_versions(name, project)
    if session.json:
        session.print_json(document)
    else:
        session.out.print(versions_table(PolicyVersionsOut.model_validate(document)))
    return EXIT_OK


@command(
    "put",
    "store a policy's new version: a built-in's --settings, or a --rego module (checked before it is stored)",
    policies_cli,
)
def cmd_policies_put(
    session: Session,
    *,
    name: PolicyName,
    level: LevelOption,
    rego: RegoFile = None,
    syntax: SyntaxOption = "v1",
    settings: SettingsOption = None,
    project: PolicyProject = None,
    description: Annotated[str, typer.Option("--description", metavar="TEXT", help="what it is for")] = "",
) -> int:
    def put() -> int:
        module = _read_text(rego) if rego is not None else None
        given = _settings(settings)
        try:
            document = session.client.raw.put_policy(
                name,
                level,
                project_id=project,
                rego=module,
                syntax=syntax,
                settings=given,
                description=description,
            )
        except ApiError as exc:
            # A Rego that does not compile: where, as a compiler says it (FILE:LINE:COLUMN).
            return api_error(session, exc, source=str(rego) if rego is not None else None)
        if session.json:
            session.print_json(document)
            return EXIT_OK
        from provisioner.cli.policies import scope_label, short_hash  # noqa: PLC0415

        stored = PolicyOut.model_validate(document)
        session.out.print(
            render.text(
                f"Stored {scope_label(stored.scope, stored.projectId)}/{stored.name} version "
                f"{stored.version}: {stored.level} ({stored.kind}, {short_hash(stored.hash)})",
                "green",
            )
        )
        return EXIT_OK

    return _usage(session, put)


@command("delete", "turn a policy off for good (a last, deleting version; the history stays)", policies_cli)
def cmd_policies_delete(session: Session, *, name: PolicyName, project: PolicyProject = None) -> int:
    from provisioner.cli.policies import scope_label  # noqa: PLC0415

    document = session.client.raw.delete_policy(name, project)
    if session.json:
        session.print_json(document)
    else:
        deleted = PolicyOut.model_validate(document)
        session.out.print(
            render.text(
                f"Deleted {scope_label(deleted.scope, deleted.projectId)}/{deleted.name} "
                f"(version {deleted.version}, {deleted.level})",
                "yellow",
            )
        )
    return EXIT_OK


@command(
    "try",
    "check a stored plan against a policy (--rego FILE, or --name a stored or built-in one) or the "
    "whole set; nothing is recorded. Exit 1 when the plan would be stopped",
    policies_cli,
)
def cmd_policies_try(
    session: Session,
    *,
    plan_job: Annotated[str, typer.Argument(metavar="PLAN_JOB_ID", show_default=False)],
    rego: RegoFile = None,
    name: Annotated[
        str | None, typer.Option("--name", help="a stored policy, or a built-in's name with --settings")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", min=1, help="with --name: this version")] = None,
    scope: Annotated[
        Literal["install", "project"] | None,
        typer.Option("--scope", help="with --name: the install's policy or the project's (default)"),
    ] = None,
    settings: SettingsOption = None,
    level: Annotated[
        PolicyLevel | None, typer.Option("--level", help="the level to judge it at (default: mandatory)")
    ] = None,
    syntax: Annotated[
        RegoSyntax | None, typer.Option("--syntax", help="with --rego: v1 (default) or v0")
    ] = None,
    caller: Annotated[
        str | None,
        typer.Option("--caller", metavar="IDENTITY", help="judge it as submitted by this identity"),
    ] = None,
) -> int:
    def dry_run() -> int:
        if rego is not None and name is not None:
            raise _BadArgument("give --rego FILE or --name NAME, not both")
        if name is None and (version is not None or scope is not None):
            raise _BadArgument("--version and --scope choose a stored policy: give --name too")
        module = _read_text(rego) if rego is not None else None
        document = session.client.raw.dry_run(
            plan_job,
            name=name,
            version=version,
            scope=scope,
            level=level,
            rego=module,
            syntax=syntax,
            settings=_settings(settings),
            caller=caller,
        )
        check = DryRunOut.model_validate(document)
        if session.json:
            session.print_json(document)
        else:
            from provisioner.cli.review import print_policies  # noqa: PLC0415

            print_policies(session.out, check)
            session.err.print(
                render.text(f"checked the plan of job {check.planJobId}; nothing recorded", "dim")
            )
        return EXIT_OK if check.outcome in POLICY_OUTCOMES_THAT_PASS else EXIT_FAILED

    return _usage(session, dry_run)


@command("cancel", "cancel a job; terraform stops safely")
def cmd_cancel(session: Session, *, job: Job) -> int:
    document = session.client.raw.cancel(job)
    if session.json:
        session.print_json(document)
    else:
        session.out.print(render.text(str(document.get("message", "")), "yellow"))
    return EXIT_OK


@command("health", "check that the service answers")
def cmd_health(session: Session) -> int:
    document = session.client.raw.health()
    if session.json:
        session.print_json(document)
    else:
        version = document.get("version") if isinstance(document, dict) else None
        session.out.print(render.text(f"{session.client.endpoint}: ok (API {version})"))
    return EXIT_OK


@cli.command(
    "estimate",
    help="monthly cost of a directory or plan, offline (provisioner estimate --help)",
    short_help="monthly cost of a directory or plan, offline (provisioner estimate --help)",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
def cmd_estimate_misplaced() -> int:
    """Reached only with options before it: ``main`` hands ``estimate ...`` to cost.cli."""
    render_error = console(stderr=True)
    render_error.print(render.text("put `estimate` first: provisioner estimate PATH [options]", "red"))
    return EXIT_USAGE


# --- notifications -------------------------------------------------------------------------------

NOTIFICATION_EVENTS: Final = typing.get_args(NotificationEventType)
SubscriptionIdArgument = Annotated[str, typer.Argument(metavar="ID", show_default=False)]
NotifyProject = Annotated[
    str | None,
    typer.Option("--project", "-p", help="one project's events (absent: every project's)"),
]


@command("list", "the install's subscriptions (and a project's, with -p)", notifications_cli)
def cmd_notifications_list(session: Session, *, project: NotifyProject = None) -> int:
    from provisioner.cli.notifications import subscriptions_table  # noqa: PLC0415

    document = session.client.raw.notifications(project)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    listing = SubscriptionListOut.model_validate(document)
    if listing.subscriptions:
        session.out.print(subscriptions_table(listing))
    else:
        session.out.print(render.text("No notification subscriptions.", "dim"))
    return EXIT_OK


@command(
    "add",
    "subscribe a webhook URL to events; prints the signing secret, which is shown only this once",
    notifications_cli,
)
def cmd_notifications_add(
    session: Session,
    *,
    url: Annotated[str, typer.Argument(metavar="URL", show_default=False, help="an https:// URL")],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            "-e",
            metavar="TYPE",
            help=f"an event type, repeatable: {', '.join(NOTIFICATION_EVENTS)}; all (the default)",
        ),
    ] = [],  # noqa: B006 - typer reads a list option's default from here
    project: NotifyProject = None,
    description: Annotated[str, typer.Option("--description", metavar="TEXT", help="what it is for")] = "",
) -> int:
    from provisioner.cli.notifications import created_lines  # noqa: PLC0415

    unknown = [e for e in event if e not in (*NOTIFICATION_EVENTS, "all")]
    if unknown:
        session.err.print(
            render.text(
                f"error: unknown event type {unknown[0]}; one of {', '.join(NOTIFICATION_EVENTS)}", "red"
            )
        )
        return EXIT_USAGE
    events = list(NOTIFICATION_EVENTS) if not event or "all" in event else list(dict.fromkeys(event))
    document = session.client.raw.add_notification(url, events, project_id=project, description=description)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    for line, style in created_lines(SubscriptionCreatedOut.model_validate(document)):
        session.out.print(render.text(line, style))
    return EXIT_OK


@command("remove", "delete a subscription: it gets no more events", notifications_cli)
def cmd_notifications_remove(session: Session, *, subscription_id: SubscriptionIdArgument) -> int:
    document = session.client.raw.remove_notification(subscription_id)
    if session.json:
        session.print_json(document)
    else:
        session.out.print(render.text(f"Removed {subscription_id}", "green"))
    return EXIT_OK


@command("deliveries", "a subscription's delivery log, newest first", notifications_cli)
def cmd_notifications_deliveries(session: Session, *, subscription_id: SubscriptionIdArgument) -> int:
    from provisioner.cli.notifications import deliveries_table  # noqa: PLC0415

    document = session.client.raw.notification_deliveries(subscription_id)
    if session.json:
        session.print_json(document)
        return EXIT_OK
    log = DeliveryListOut.model_validate(document)
    if log.deliveries:
        session.out.print(deliveries_table(log))
    else:
        session.out.print(render.text(f"Nothing delivered to {subscription_id} yet.", "dim"))
    return EXIT_OK


# --- running -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["estimate"]:
        from cost.cli import main as estimate  # noqa: PLC0415 - its catalogue loads lazily

        return estimate(arguments[1:])
    try:
        # Not standalone: the command's exit code comes back, --help's 0 too, and errors are raised.
        code = cli(args=arguments, prog_name="provisioner", standalone_mode=False)
    except typer.TyperException as exc:  # click's UsageError and BadParameter
        _usage_error(exc)
        # plan --detailed-exitcode answers with terraform's codes, where 2 means "changes".
        return EXIT_FAILED if "--detailed-exitcode" in arguments else EXIT_USAGE
    return int(code)


def _usage_error(exc: typer.TyperException) -> None:
    """As argparse had it: the usage line, then the problem, on stderr."""
    ctx: typer.Context | None = getattr(exc, "ctx", None)
    usage, path = "provisioner [OPTIONS] COMMAND [ARGS]...", "provisioner"
    if ctx is not None:
        path = ctx.command_path
        usage = " ".join([path, *ctx.command.collect_usage_pieces(ctx)])
    sys.stderr.write(
        f"usage: {usage}\nTry '{path} --help' for help.\n{path}: error: {exc.format_message()}\n"
    )
