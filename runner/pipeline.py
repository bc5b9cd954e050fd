"""One job, start to finish: workspace -> preflight -> init -> validate -> plan -> apply|destroy.

Every path ends in exactly one of ``complete`` or ``fail`` on the job record, and terraform is
never killed while it holds the state: a cancel interrupts it and waits for it to exit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from core.drift import drift_report
from core.hcl.config import Configuration, Finding, is_config_file, load_configuration
from core.hcl.native import warm_parser
from core.hcl.preflight import PreflightPolicy, preflight
from core.hcl.providers import aws_local_names
from core.records import (
    CANCELLED_MESSAGE,
    DeploymentStatus,
    JobAction,
    JobStage,
    Phase,
    epoch_ms,
    iso_at,
    iso_now,
)
from core.redaction import (
    Scrubber,
    SecretCollector,
    mask_outputs,
    paths_for_types,
    redact_plan,
    secrets_in_state,
    secrets_in_variables,
)
from core.timings import (
    APPLY,
    DESTROY,
    INIT,
    PLAN,
    RECORDING,
    START_UP,
    VALIDATE,
    WORKSPACE,
    PhaseClock,
    span,
    summary_line,
)
from core.toolchain import Toolchain
from runner import overrides, shared_provider
from runner.checks import installed_module_problems, plan_configuration_problems
from runner.confinement import Confinement, confine
from runner.jail import IsolationError
from runner.progress import ProgressTracker, Snapshot
from runner.saved_plans import (
    STALE_PREFIX,
    StateIdentity,
    code_hash,
    has_changes,
    planned_state,
    saved_plan_record,
    stale_reason,
)
from runner.settings import RunnerSettings
from runner.store import LOCK_FILE, RunStore, SavedPlanError, WorkspaceError
from runner.terraform import CommandResult, Terraform
from runner.terraform_output import (
    diagnostic_summary,
    diagnostic_text,
    plan_summary,
    state_summary,
    summary_from_events,
    text_error,
)

LOGGER = logging.getLogger("runner")
PLAN_FILE = "tfplan"
VALIDATE_ARGS = ["validate", "-json", "-no-color"]
SHOW_ARGS = ["show", "-json", "-no-color", PLAN_FILE]
LOG_UPLOAD_INTERVAL_SECONDS = 5.0
LOCKFILE_POLL_SECONDS = 2.0


class JobFailed(Exception):
    """Ends the job as failed with a short message; details go to the log and diagnostics."""

    def __init__(self, message: str, diagnostics: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics or []


class PlanRefused(JobFailed):
    """A saved plan that is not applied at all (stale, or not one this job may apply): nothing
    changed, so the project keeps the deployment it had rather than being marked failed."""


class JobCancelled(Exception):
    pass


@dataclass
class Outcome:
    message: str
    outputs: dict[str, Any] | None = None
    state_summary: dict[str, Any] | None = None
    sensitive_paths: dict[str, Any] | None = None
    plan_summary: dict[str, int] = field(default_factory=dict)
    # False for stage plan: the job goes on in a later build (after a review, maybe an approval).
    completes: bool = True


SUCCESS_MESSAGES = {
    JobAction.DEPLOY: "Infrastructure deployed successfully",
    JobAction.DESTROY: "Infrastructure destroyed successfully",
    JobAction.PLAN: "Plan created successfully",
    JobAction.VALIDATE: "Terraform configuration is valid",
    JobAction.DRIFT: "Drift check finished",
}
DRIFT_CHECKED_MESSAGE = SUCCESS_MESSAGES[JobAction.DRIFT]
DRIFT_PLAN_FILE = "drift.tfplan"
PLAN_SAVED_MESSAGE = "Plan saved for review"


class Run:
    def __init__(
        self,
        settings: RunnerSettings,
        toolchain: Toolchain,
        store: RunStore,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.settings = settings
        self.toolchain = toolchain
        self.store = store
        self.session = session or boto3.session.Session(region_name=settings.region)
        self.scrubber = Scrubber()
        self.tracker = ProgressTracker(
            settings.action, self._publish, settings.progress_interval_seconds, self.scrubber
        )
        self.terraform: Terraform | None = None
        # What the override files configured: terraform's decoded plan is checked against it.
        self._written_providers: set[str] = set()
        self.cancel_requested = False
        self._last_log_upload = 0.0
        self._started_at = iso_now()
        self._code_hash = ""
        self.clock = PhaseClock()
        self._build_phases: dict[str, int] = {}
        self._phase_reader: threading.Thread | None = None
        self._startup: list[dict[str, Any]] = []
        # lark's tables load (~0.07 s of CPU) while the start's record writes and the workspace's
        # download wait on the network; the code's first parse waits for it.
        self._parser_warmer = threading.Thread(target=warm_parser, name="hcl-parser", daemon=True)

    # --- public -------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Called from a signal handler: stop gracefully, keep the state."""
        self.cancel_requested = True
        if self.terraform is not None:
            self.terraform.interrupt()

    def execute(self) -> int:
        self._parser_warmer.start()
        started = epoch_ms()
        self.clock.record(START_UP, _build_start_ms(started), started)
        self._startup = self.clock.finish(at=started)
        self.store.mark_started(self._startup)
        self.clock.begin(WORKSPACE, at=started)
        self._read_build_phases()
        if self.settings.stage is JobStage.APPLY:
            self._continue_log()
        self.tracker.start()
        try:
            with confine(self.settings, self.toolchain, self.session, self.tracker.log) as confinement:
                for note in confinement.notes:
                    self.tracker.log(note)
                try:
                    outcome = self._execute(confinement)
                finally:
                    self._stop_shared_provider()
        except IsolationError as exc:
            self._finish_failed(f"terraform cannot be isolated on this machine: {exc}", [])
            return 1
        except JobCancelled:
            self._finish_failed(CANCELLED_MESSAGE, [])
            return 143
        except JobFailed as failure:
            self._finish_failed(
                failure.message, failure.diagnostics, nothing_changed=isinstance(failure, PlanRefused)
            )
            return 1
        except Exception as exc:
            LOGGER.exception("runner error")
            self._finish_failed(f"internal runner error: {type(exc).__name__}: {exc}", [])
            return 1
        if outcome.completes:
            self._finish_completed(outcome)
        else:
            self._finish_planned(outcome)
        return 0

    # --- steps --------------------------------------------------------------------------------

    def _execute(self, confinement: Confinement) -> Outcome:
        if self.settings.stage is JobStage.APPLY:
            return self._execute_saved_plan(confinement)
        action = self.settings.action
        workdir = confinement.directories.code
        self.tracker.enter(Phase.INIT)
        var_file = confinement.directories.base / "variables.tfvars.json"
        configuration = self._prepare_workspace(workdir, var_file)
        confinement.give(var_file)
        self.terraform = Terraform(self.toolchain, workdir, confinement.environment, confinement.jail)
        self.clock.begin(INIT)
        facts = self._initialise(workdir, configuration, confinement)
        self._share_provider(configuration)
        state_before: dict[str, Any] | None = None
        if action is not JobAction.VALIDATE:
            # A refresh error during plan can echo the deployed state's secrets.
            state_before = self.store.read_state()
            self.scrubber.add(secrets_in_state(state_before or {}, facts.sensitive_paths))
        if action is JobAction.DRIFT:
            return self._check_drift(var_file, facts, configuration, confinement, state_before)
        if action is JobAction.VALIDATE:
            self.tracker.enter(Phase.VALIDATE)
            self.clock.begin(VALIDATE)
            self._check_validation(self._run(VALIDATE_ARGS, capture=True))
            return Outcome(SUCCESS_MESSAGES[action])
        summary = self._plan(var_file)
        plan = self._check_and_record_plan(
            self._run(SHOW_ARGS, capture=True), facts, configuration, confinement
        )
        if self.settings.stage is JobStage.PLAN:
            self._save_plan(workdir, summary, plan, state_before)
            return Outcome(PLAN_SAVED_MESSAGE, plan_summary=summary, completes=False)
        if action is JobAction.PLAN:
            return Outcome(SUCCESS_MESSAGES[action], plan_summary=summary)
        return self._apply(summary, facts)

    def _execute_saved_plan(self, confinement: Confinement) -> Outcome:
        """Stage apply: the plan an earlier build saved, applied as it was made, never re-planned.

        Refused before anything runs when the state moved since the plan; the plan file is data
        from S3, so terraform's decoded view of it is checked again, as a fresh plan's would be.
        """
        action = self.settings.action
        source = self.settings.source_plan_job_id
        try:
            saved, source_action = self.store.load_saved_plan(source)
        except SavedPlanError as exc:
            raise JobFailed(str(exc)) from exc
        if source != self.settings.job_id and (
            source_action != JobAction.PLAN.value or action is not JobAction.DEPLOY
        ):
            kind = source_action or "unknown"
            raise PlanRefused(f"job {source} ({kind}) has no plan a {action.value} may apply")
        state = self.store.read_state()
        planned = StateIdentity.of_record(saved)
        reason = stale_reason(planned, StateIdentity.of_state(state))
        if reason is not None:
            raise PlanRefused(STALE_PREFIX + reason)
        made_with = str(saved.get("terraformVersion") or "")
        if made_with and made_with != self.toolchain.version:
            raise PlanRefused(
                f"{STALE_PREFIX}it was made with terraform {made_with}; this build runs "
                f"{self.toolchain.version}: plan again"
            )
        self.tracker.log(
            f"applying the plan saved by {source} at {saved.get('createdAt')} "
            f"(state serial {planned.serial}, lineage {planned.lineage})"
        )
        workdir = confinement.directories.code
        self.tracker.enter(Phase.INIT)
        var_file = confinement.directories.base / "variables.tfvars.json"
        configuration = self._prepare_workspace(workdir, var_file)
        if saved.get("codeHash") and self._code_hash != saved.get("codeHash"):
            self.tracker.log(
                "note: the workspace differs from the code that was planned; "
                "the plan's own copy of its configuration is what is applied"
            )
        try:
            self.store.download_saved_plan(saved, workdir)
        except SavedPlanError as exc:
            raise JobFailed(str(exc)) from exc
        confinement.give(workdir / PLAN_FILE)
        if (workdir / LOCK_FILE).is_file():
            confinement.give(workdir / LOCK_FILE)
        self.terraform = Terraform(self.toolchain, workdir, confinement.environment, confinement.jail)
        self.clock.begin(INIT)
        # init with the plan's lock file installs exactly the provider versions it was made with.
        facts = self._initialise(workdir, configuration, confinement)
        self._share_provider(configuration)
        self.scrubber.add(secrets_in_state(state or {}, facts.sensitive_paths))
        self.tracker.enter(Phase.PLAN)
        self.clock.begin(PLAN)
        plan = self._check_and_record_plan(
            self._run(SHOW_ARGS, capture=True), facts, configuration, confinement
        )
        summary = plan_summary(plan)
        self.tracker.log(
            f"saved plan: {summary['add']} to add, {summary['change']} to change, "
            f"{summary['destroy']} to destroy"
        )
        return self._apply(summary, facts)

    def _check_drift(
        self,
        var_file: Path,
        facts: overrides.ProviderFacts,
        configuration: Configuration,
        confinement: Confinement,
        state_before: Mapping[str, Any] | None,
    ) -> Outcome:
        """Read-only: a refresh-only plan (the real infrastructure against the state), then a normal
        plan (the deployed code against both). Neither takes the state lock nor is ever applied, so
        a check never blocks a deploy; the code was validated when it was deployed."""
        self.tracker.enter(Phase.PLAN)
        self.clock.begin(PLAN)
        common = ["-input=false", "-json", "-detailed-exitcode", "-lock=false", f"-var-file={var_file}"]
        refresh_args = ["plan", "-refresh-only", *common, f"-out={DRIFT_PLAN_FILE}"]
        self._require_plan(self._run(refresh_args, json_lines=True), "plan -refresh-only")
        shown = self._run(["show", "-json", "-no-color", DRIFT_PLAN_FILE], capture=True)
        self._require(shown, "show")
        collector = SecretCollector()
        refresh_plan = redact_plan(json.loads(shown.stdout), facts.sensitive_paths, collector)
        self.scrubber.add(collector.values)
        self.store.upload_drift_plan(refresh_plan)
        self._require_plan(self._run(["plan", *common, f"-out={PLAN_FILE}"], json_lines=True), "plan")
        plan = self._check_and_record_plan(
            self._run(SHOW_ARGS, capture=True), facts, configuration, confinement
        )
        state = StateIdentity.of_state(state_before)
        self.store.record_drift_run(
            {
                "stateSerial": state.serial,
                "stateLineage": state.lineage,
                "codeHash": self._code_hash,
                "terraformVersion": self.toolchain.version,
            }
        )
        found = drift_report(refresh_plan, plan)
        counts = found["counts"]
        self.tracker.log(
            f"drift: {counts['drifted']} resource(s) changed outside terraform, "
            f"{counts['plannedChanges']} the deployed code would change"
        )
        # The workflow's next step records the finding, then closes the job.
        return Outcome(DRIFT_CHECKED_MESSAGE, plan_summary=plan_summary(plan), completes=False)

    def _require_plan(self, result: CommandResult, command: str) -> None:
        """``-detailed-exitcode``: 0 is no changes, 2 is changes, anything else failed."""
        if result.returncode == 2 and not result.interrupted:
            return
        self._require(result, command)

    def _save_plan(
        self,
        workdir: Path,
        summary: Mapping[str, int],
        plan: Mapping[str, Any],
        state_before: Mapping[str, Any] | None,
    ) -> None:
        """Stage plan: keep the plan file for a later apply and record what it was made against."""
        plan_file = workdir / PLAN_FILE
        # The plan's own prior state is exact; the state read before planning is the fallback.
        state = planned_state(plan_file) or StateIdentity.of_state(state_before)
        prefix = self.store.save_plan(plan_file, workdir / LOCK_FILE)
        record = saved_plan_record(
            key=prefix,
            state=state,
            terraform_version=self.toolchain.version,
            created_at=iso_now(),
            changes=has_changes(summary, plan),
            workspace_hash=self._code_hash,
        )
        self.store.record_saved_plan(record)
        self.tracker.log(
            f"plan saved for a later apply (state serial {state.serial}, "
            f"{'changes' if record['hasChanges'] else 'no changes'})"
        )

    def _prepare_workspace(self, workdir: Path, var_file: Path) -> Configuration:
        try:
            context = self.store.load_job()
            files = self.store.download_workspace(workdir)
            variables = self.store.load_variables(context)
        except WorkspaceError as exc:
            raise JobFailed(str(exc)) from exc
        self.tracker.log(f"workspace: {len(files)} file(s): {', '.join(files[:20])}")
        # Before the runner adds a file of its own (init may rewrite the lock file, too).
        self._code_hash = code_hash(workdir, files)
        configuration = self._check_code(workdir, files)
        self._collect_variable_secrets(configuration, variables)
        # Outside the code directory: the variables are not part of the configuration.
        var_file.write_text(json.dumps(variables))
        self._check_cancel()
        return configuration

    def _initialise(
        self, workdir: Path, configuration: Configuration, confinement: Confinement
    ) -> overrides.ProviderFacts:
        """``init``, then the provider settings derived from the providers it installed."""
        validate_only = self.settings.action is JobAction.VALIDATE
        toolchain = self.toolchain
        self.tracker.log(f"{toolchain.flavor} {toolchain.version} ({toolchain.binary_source})")
        if not validate_only:
            backend = overrides.backend_document(
                self.settings, toolchain.version, confinement.backend, **self._lock_kinds()
            )
            overrides.write_document(workdir, overrides.BACKEND_FILE, backend)
        init_args = ["init", "-input=false", "-no-color"]
        if validate_only:
            init_args.append("-backend=false")
        self._require_init(self._run(init_args))
        problems = installed_module_problems(workdir)
        if problems:
            raise JobFailed(f"refused: {problems[0]}", [{"summary": p} for p in problems])
        if validate_only:
            return overrides.ProviderFacts()
        facts = self._provider_facts(workdir)
        override_doc, defaults_doc = overrides.provider_documents(
            configuration, facts, self.settings, confinement.providers
        )
        overrides.write_document(workdir, overrides.PROVIDER_OVERRIDE_FILE, override_doc)
        overrides.write_document(workdir, overrides.PROVIDER_DEFAULTS_FILE, defaults_doc)
        self._written_providers = overrides.written_configurations(configuration)
        return facts

    def _share_provider(self, configuration: Configuration) -> None:
        """One AWS provider process for the job's remaining commands (runner/shared_provider.py),
        when the code configures it once: two configurations in one process would mix settings."""
        assert self.terraform is not None
        if self.settings.action is JobAction.VALIDATE:
            return
        if len(overrides.written_configurations(configuration)) > 1:
            return
        terraform = self.terraform
        terraform.shared_provider = shared_provider.start(terraform.workdir, terraform.jail, terraform.env)
        if terraform.shared_provider is not None:
            self.tracker.log("one AWS provider process serves all of this job's terraform commands")

    def _stop_shared_provider(self) -> None:
        if self.terraform is not None and self.terraform.shared_provider is not None:
            self.terraform.shared_provider.stop()
            self.terraform.shared_provider = None

    def _require_init(self, result: CommandResult) -> None:
        """``init`` failing on a provider outside the install's allow-list says so."""
        if not result.ok:
            text = "\n".join(result.stderr_lines)
            refused = re.findall(r"provider (\S+) was not\s+found in any of the search locations", text)
            if refused:
                allowed = ", ".join(self.settings.provider_allow_list)
                raise JobFailed(
                    f"provider {refused[0]} is not allowed on this install (allowed: {allowed})",
                    [{"summary": f"provider {name} is not allowed"} for name in sorted(set(refused))],
                )
        self._require(result, "init")

    def _plan(self, var_file: Path) -> dict[str, int]:
        """``plan``, which validates the configuration as it goes: a plan that succeeds is a valid
        configuration (its warnings are the validation's), so ``validate`` runs only after a failed
        plan, where its message says more than the plan's."""
        plan_args = [
            "plan",
            "-input=false",
            "-json",
            f"-out={PLAN_FILE}",
            f"-var-file={var_file}",
            # A speculative plan only reads the state: it takes no lock, so it never waits for a
            # deploy, and a deploy never waits for it.
            "-lock=false" if self.settings.speculative else self._lock_timeout(),
        ]
        if self.settings.action is JobAction.DESTROY:
            plan_args.append("-destroy")
        self.tracker.enter(Phase.PLAN)
        self.clock.begin(PLAN)
        result = self._run(plan_args, json_lines=True)
        if not result.ok and self._cleared_own_lock(result):
            result = self._run(plan_args, json_lines=True)
        if not result.ok:
            self.tracker.enter(Phase.VALIDATE)
            self.clock.begin(VALIDATE)
            # Fails the job with validate's own message when the configuration is invalid.
            self._check_validation(self._run(VALIDATE_ARGS, capture=True))
            self._require(result, "plan")
        self._record_plan_validation(result)
        summary = summary_from_events(result.events)
        self.tracker.log(
            f"plan: {summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy"
        )
        return summary

    def _record_plan_validation(self, planned: CommandResult) -> None:
        """A successful plan's validation: valid, with the warnings the plan reported."""
        warnings = [
            e["diagnostic"]
            for e in planned.events
            if e.get("type") == "diagnostic"
            and isinstance(e.get("diagnostic"), dict)
            and e["diagnostic"].get("severity") == "warning"
        ]
        self._check_validation_document(
            {"valid": True, "diagnostics": warnings}, planned.returncode, logged=True
        )

    def _apply(self, summary: dict[str, int], facts: overrides.ProviderFacts) -> Outcome:
        """``apply`` of the saved plan, exactly as it was checked."""
        assert self.terraform is not None
        action = self.settings.action
        self.tracker.enter(Phase.DESTROY if action is JobAction.DESTROY else Phase.APPLY)
        self.clock.begin(DESTROY if action is JobAction.DESTROY else APPLY)
        self.tracker.set_planned_operations(summary["add"] + summary["change"] + summary["destroy"])
        apply_args = ["apply", "-input=false", "-json", "-auto-approve", self._lock_timeout(), PLAN_FILE]
        command = "destroy" if action is JobAction.DESTROY else "apply"
        before = self.store.state_version_id()
        try:
            applied = self._run(apply_args, json_lines=True)
            if not applied.ok and self._cleared_own_lock(applied):
                applied = self._run(apply_args, json_lines=True)
        finally:
            # Success or failure (a failed apply writes the state too), even when cancelled.
            self._record_state_written(before)
        try:
            self._require(applied, command)
        except JobFailed as failure:
            # Terraform's own check of a saved plan against the state, should ours have missed.
            if self.settings.stage is JobStage.APPLY and "stale" in failure.message.lower():
                raise PlanRefused(STALE_PREFIX + failure.message, failure.diagnostics) from None
            raise
        # Terraform is done: outputs, the state's summary and the final write are recording.
        self.clock.begin(RECORDING)
        collector = SecretCollector()
        outputs = self._outputs(applied, collector)
        self.scrubber.add(collector.values)
        state = self.store.read_state() or {}
        # Values that exist only after apply (generated passwords, keys) leave the log too.
        self.scrubber.add(secrets_in_state(state, facts.sensitive_paths))
        types = {
            ("data." if r.get("mode") == "data" else "") + str(r.get("type"))
            for r in state.get("resources") or []
        }
        return Outcome(
            SUCCESS_MESSAGES[action],
            outputs=outputs,
            state_summary=state_summary(state),
            sensitive_paths=paths_for_types(facts.sensitive_paths, types),
            plan_summary=summary,
        )

    def _record_state_written(self, before: str | None) -> None:
        """For the state history; a failure here must not change the job's outcome."""
        try:
            self.store.record_state_written(before)
        except Exception:
            LOGGER.warning("the state version the job wrote could not be recorded", exc_info=True)

    def _outputs(self, applied: CommandResult, collector: SecretCollector) -> dict[str, Any]:
        """The root outputs apply reported (values of sensitive ones are left out by terraform).

        ``output -json`` is asked only when apply reported none, which saves a backend read.
        """
        reported = [e["outputs"] for e in applied.events if e.get("type") == "outputs" and "outputs" in e]
        if reported:
            return mask_outputs(reported[-1], collector)
        result = self._run(["output", "-json", "-no-color"], capture=True)
        self._require(result, "output")
        return mask_outputs(json.loads(result.stdout or "{}"), collector)

    def _check_code(self, workdir: Path, files: list[str]) -> Configuration:
        # Every file: templates and non-config paths are checked too, not only .tf files.
        sources = {name: (workdir / name).read_text(encoding="utf-8", errors="replace") for name in files}
        if not any(is_config_file(name) for name in sources):
            raise JobFailed("the workspace holds no .tf files")
        self._parser_warmer.join()
        configuration = load_configuration(sources)
        if configuration.syntax_errors:
            raise self._findings_failure("syntax error", configuration.syntax_errors)
        refused = preflight(configuration, PreflightPolicy(allow_exec=self.settings.allow_exec))
        if refused:
            raise self._findings_failure("refused", refused)
        return configuration

    def _findings_failure(self, label: str, findings: list[Finding]) -> JobFailed:
        for finding in findings:
            self.tracker.log(f"{label}: {finding.describe()}")
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return JobFailed(f"{label}: {first.describe()}{more}", [f.as_dict() for f in findings])

    def _collect_variable_secrets(self, configuration: Configuration, variables: Mapping[str, Any]) -> None:
        """Values of sensitive (or secret-named) variables, given or defaulted, leave the log at once."""
        values: dict[str, Any] = {}
        sensitive: list[str] = []
        for block in configuration.blocks("variable"):
            name = block.labels[0] if block.labels else ""
            if "default" in block.body:
                values[name] = block.body.get("default")
            if block.body.get("sensitive") is True:
                sensitive.append(name)
        values.update(variables)
        self.scrubber.add(secrets_in_variables(values, sensitive))

    def _provider_facts(self, workdir: Path) -> overrides.ProviderFacts:
        """Schema-derived provider settings, cached per lock file: the AWS schema takes a second to dump."""
        lock_file = workdir / ".terraform.lock.hcl"
        lock_text = lock_file.read_text() if lock_file.is_file() else ""
        key = hashlib.sha256(
            f"{self.toolchain.flavor}{self.toolchain.version}\n{lock_text}".encode()
        ).hexdigest()[:32]
        cache = self.toolchain.root / "provider-facts" / f"{key}.json"
        if cache.is_file():
            try:
                return overrides.ProviderFacts.from_json(cache.read_text())
            except (ValueError, KeyError):
                cache.unlink(missing_ok=True)
        result = self._run(["providers", "schema", "-json"], capture=True)
        self._require(result, "providers schema")
        facts = overrides.ProviderFacts.from_schema(json.loads(result.stdout))
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(facts.to_json())
        partial.replace(cache)
        return facts

    def _check_validation(self, result: CommandResult) -> None:
        """Record what ``validate -json`` found on the project; fail the job if it is invalid."""
        try:
            document = json.loads(result.stdout or "{}")
        except ValueError:
            document = {}
        self._check_validation_document(document if isinstance(document, dict) else {}, result.returncode)

    def _check_validation_document(
        self, document: Mapping[str, Any], returncode: int, *, logged: bool = False
    ) -> None:
        """``logged``: the diagnostics are in the log already (a plan's own events)."""
        diagnostics = [d for d in document.get("diagnostics") or [] if isinstance(d, dict)]
        errors = [diagnostic_summary(d) for d in diagnostics if d.get("severity") == "error"]
        validation = {
            "valid": bool(document.get("valid", returncode == 0)) and not errors,
            "errors": errors,
            "warnings": [diagnostic_summary(d) for d in diagnostics if d.get("severity") == "warning"],
            "jobId": self.settings.job_id,
            "checkedAt": iso_now(),
            "terraformVersion": self.toolchain.version,
        }
        self.store.record_validation(validation)
        for diagnostic in [] if logged else diagnostics:
            self.tracker.log(f"{diagnostic.get('severity', 'error')}: {diagnostic_text(diagnostic)}")
        if not validation["valid"]:
            raise JobFailed(
                "terraform validate failed: "
                + (diagnostic_text(diagnostics[0]) if diagnostics else "invalid"),
                [d for d in diagnostics if d.get("severity") == "error"],
            )
        self.tracker.log("validate: the configuration is valid")

    def _check_and_record_plan(
        self,
        result: CommandResult,
        facts: overrides.ProviderFacts,
        configuration: Configuration,
        confinement: Confinement,
    ) -> dict[str, Any]:
        """Before anything is applied: terraform's decoded view of the configuration is checked,
        the plan's sensitive values join the log scrubber, and the redacted plan is stored.
        Returns the plan as terraform showed it."""
        self._require(result, "show")
        raw = json.loads(result.stdout)
        collector = SecretCollector()
        plan = redact_plan(raw, facts.sensitive_paths, collector)
        self.scrubber.add(collector.values)
        problems = plan_configuration_problems(
            raw,
            self._written_providers,
            self.settings.allow_exec,
            lambda expressions: _carries_access(expressions, confinement),
            frozenset(aws_local_names(configuration)),
        )
        if problems:
            for problem in problems:
                self.tracker.log(f"refused: {problem}")
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise JobFailed(f"refused: {problems[0]}{more}", [{"summary": p} for p in problems])
        key = self.store.upload_plan(plan)
        self.store.record_plan(plan_summary(plan), key)
        document: dict[str, Any] = raw
        return document

    # --- terraform calls ----------------------------------------------------------------------

    def _run(self, args: list[str], *, json_lines: bool = False, capture: bool = False) -> CommandResult:
        assert self.terraform is not None
        self._check_cancel()
        self.tracker.log(f"$ terraform {' '.join(_display_args(args))}")
        result = self.terraform.run(
            args,
            json_lines=json_lines,
            on_event=self.tracker.on_event,
            on_line=self.tracker.log,
            capture_stdout=capture,
        )
        if result.interrupted:
            raise JobCancelled
        return result

    def _require(self, result: CommandResult, command: str) -> None:
        if result.ok:
            return
        diagnostics = result.diagnostics()
        if diagnostics:
            raise JobFailed(f"terraform {command} failed: {diagnostic_text(diagnostics[0])}", diagnostics)
        first_error = text_error(result.stderr_lines)
        raise JobFailed(f"terraform {command} failed: {first_error or f'exit code {result.returncode}'}")

    def _cleared_own_lock(self, result: CommandResult) -> bool:
        """A lock taken after this runner started is its own: terraform's lock write went through,
        the answer was lost, and the SDK's retry met the first write. Only one job runs per project
        (the API's lock), so no one else can have taken it since. Clear it so the command can rerun.
        Both kinds count: the lock file (1.10+) and the lock table's item (older, or both at once).
        """
        if not any("state lock" in str(d.get("summary", "")).lower() for d in result.diagnostics()):
            return False
        started = self._started_at.replace("Z", "")[:23]
        locks = self.store.state_locks()
        if any(not lock.created[:23] or lock.created[:23] < started for lock in locks):
            return False  # an earlier job's lock: wait for it or let the reaper judge it
        for lock in locks:
            if not self.store.delete_state_lock(lock):
                return False
            self.tracker.log(f"cleared this job's own state lock {lock.id} left by a retried write")
        return True  # cleared, or released meanwhile: simply run again

    def _check_cancel(self) -> None:
        if self.cancel_requested:
            raise JobCancelled

    def _lock_kinds(self) -> dict[str, bool]:
        """Which locks the backend takes beyond its version's own (runner/overrides.py), and what
        must happen first: a lock item an older terraform left is taken too by 1.10+; a lock file
        1.10+ left is invisible to an older terraform, so the runner waits for it as terraform
        would for its own lock."""
        if self.settings.speculative:
            return {}  # plans nobody applies take no lock of either kind
        if not overrides.native_locking(self.toolchain.version):
            self._wait_for_lockfile()
            return {}
        held = self.store.dynamodb_lock() is not None
        if not held:
            self.store.forget_state_digest()
        return {"dynamodb_lock_held": held}

    def _wait_for_lockfile(self) -> None:
        deadline = time.monotonic() + self.settings.lock_timeout_seconds
        while (lock := self.store.lockfile_lock()) is not None:
            if time.monotonic() >= deadline:
                # Said as terraform says it of its own lock (runner/terraform_output.py).
                fields = {k: lock.info.get(k, "?") for k in ("ID", "Who", "Operation", "Created")}
                detail = "Lock Info:\n" + "\n".join(f"  {k}: {v}" for k, v in fields.items())
                diagnostic = {
                    "severity": "error",
                    "summary": "Error acquiring the state lock",
                    "detail": f"{detail}\n\nterraform {self.toolchain.version} cannot take the lock file "
                    f"{lock.lock_id} a newer terraform holds; it is cleared when its run ends.",
                }
                raise JobFailed(f"terraform init failed: {diagnostic_text(diagnostic)}", [diagnostic])
            self._check_cancel()
            time.sleep(LOCKFILE_POLL_SECONDS)

    def _lock_timeout(self) -> str:
        return f"-lock-timeout={self.settings.lock_timeout_seconds}s"

    # --- reporting ----------------------------------------------------------------------------

    def _publish(self, snapshot: Snapshot) -> None:
        try:
            self.store.report_progress(snapshot.phase, snapshot.progress, snapshot.log_tail)
            now = time.monotonic()
            if now - self._last_log_upload >= LOG_UPLOAD_INTERVAL_SECONDS:
                self.store.upload_log(snapshot.log_text)
                self._last_log_upload = now
        except Exception:
            LOGGER.warning("progress update failed", exc_info=True)

    def _finish_completed(self, outcome: Outcome) -> None:
        if self.clock.current != RECORDING:
            self.clock.begin(RECORDING)
        self.tracker.finish()
        self.tracker.log(outcome.message)
        self._log_timings()
        self.tracker.stop()
        snapshot = self.tracker.snapshot()
        self.store.upload_log(snapshot.log_text)
        timeline, ended_at = self._close_timeline()
        action = self.settings.action
        status = {
            JobAction.DEPLOY: DeploymentStatus.DEPLOYED,
            JobAction.DESTROY: DeploymentStatus.DESTROYED,
        }.get(action)
        self.store.complete(
            message=outcome.message,
            log_tail=snapshot.log_tail,
            outputs=outcome.outputs,
            deployment_status=status,
            state_summary=outcome.state_summary,
            sensitive_paths=outcome.sensitive_paths,
            timeline=timeline,
            ended_at=ended_at,
        )

    def _finish_planned(self, outcome: Outcome) -> None:
        """Stage plan's end: the log is stored and the job stays active, for the workflow's next
        step; the project's lock (if the job holds it) and deployment status are left as they are."""
        self.clock.begin(RECORDING)
        self.tracker.log(outcome.message)
        self._log_timings()
        self.tracker.stop()
        snapshot = self.tracker.snapshot()
        self.store.upload_log(snapshot.log_text)
        timeline, _ = self._close_timeline()
        self.store.planned(Phase.PLAN, snapshot.progress, snapshot.log_tail, timeline)

    def _log_timings(self) -> None:
        """The log's last line: the build's phases so far (recording goes on a few milliseconds
        more, for the log's upload and the final write, which the record's spans include)."""
        if self._phase_reader is not None:
            self._phase_reader.join(timeout=2.0)
        line = summary_line([*self._startup, *self.clock.peek(epoch_ms())])
        if self._build_phases:
            line += "; CodeBuild: " + ", ".join(
                f"{name.lower()} {ms / 1000:.1f}s" for name, ms in self._build_phases.items()
            )
        self.tracker.log(line)

    def _close_timeline(self) -> tuple[list[dict[str, Any]], str]:
        """The build's spans, the last (recording) ending now, just before the final write, whose
        end time is the same moment."""
        ended = epoch_ms()
        spans = self.clock.finish(at=ended)
        if self._build_phases:
            # A zero-length span: the detail of the start-up span written when the build began.
            spans.append({**span(START_UP, ended, ended), "detail": self._build_phases})
        return spans, iso_at(ended)

    def _read_build_phases(self) -> None:
        """CodeBuild's phases before this one are over: read them meanwhile, off the hot path."""

        def read() -> None:
            try:
                self._build_phases = self.store.build_phases()
            except Exception:
                LOGGER.warning("this build's phases could not be read", exc_info=True)

        self._phase_reader = threading.Thread(target=read, name="build-phases", daemon=True)
        self._phase_reader.start()

    def _continue_log(self) -> None:
        try:
            previous = self.store.read_log()
        except Exception:
            LOGGER.warning("the job's earlier log could not be read", exc_info=True)
            return
        self.tracker.continue_log(previous)
        if previous:
            self.tracker.log("--- the apply build goes on with the plan build's log ---")

    def _finish_failed(
        self, message: str, diagnostics: list[dict[str, Any]], *, nothing_changed: bool = False
    ) -> None:
        self.clock.begin(RECORDING)
        message = self.scrubber.scrub(message)
        self.tracker.log(f"failed: {message}")
        self._log_timings()
        self.tracker.stop()
        snapshot = self.tracker.snapshot()
        try:
            self.store.upload_log(snapshot.log_text)
        except Exception:
            LOGGER.warning("log upload failed", exc_info=True)
        timeline, ended_at = self._close_timeline()
        failed_deployment = (
            self.settings.action in (JobAction.DEPLOY, JobAction.DESTROY) and not nothing_changed
        )
        self.store.fail(
            error=message,
            log_tail=snapshot.log_tail,
            diagnostics=json.loads(self.scrubber.scrub(json.dumps(diagnostics))),
            deployment_status=DeploymentStatus.FAILED if failed_deployment else None,
            restore_previous=nothing_changed,
            timeline=timeline,
            ended_at=ended_at,
        )


def _build_start_ms(fallback: int) -> int:
    """When the build was asked for: CodeBuild's ``CODEBUILD_START_TIME`` (epoch milliseconds;
    local mode's stand-in sets it too), so start-up covers provisioning and the install phase."""
    try:
        value = int(os.environ.get("CODEBUILD_START_TIME", ""))
    except ValueError:
        return fallback
    return value if 0 < value <= fallback else fallback


def _carries_access(expressions: Mapping[str, Any], confinement: Confinement) -> bool:
    """Whether a provider configuration, as terraform decoded it, has the settings the runner wrote."""

    def constant(name: str) -> Any:
        value = expressions.get(name)
        return value.get("constant_value") if isinstance(value, Mapping) else None

    access = confinement.providers
    if access.profile and constant("profile") != access.profile:
        return False
    if access.static_keys and (constant("access_key"), constant("secret_key")) != access.static_keys:
        return False
    if access.sandbox_endpoint:
        blocks = expressions.get("endpoints")
        if not isinstance(blocks, list) or len(blocks) != 1 or not isinstance(blocks[0], Mapping):
            return False
        endpoints = blocks[0].values()
        if not endpoints or any(
            not isinstance(e, Mapping) or e.get("constant_value") != access.sandbox_endpoint
            for e in endpoints
        ):
            return False
    return not any(name in expressions for name in ("assume_role", "assume_role_with_web_identity", "token"))


def _display_args(args: list[str]) -> list[str]:
    return [re.sub(r"^-var-file=.*", "-var-file=<variables>", a) for a in args]
