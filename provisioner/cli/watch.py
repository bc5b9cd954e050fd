"""``--wait``: a job's progress until it ends (or waits for a person's approval), its place in the
project's queue while it waits for another job, optionally its log as it is written, and Ctrl-C.

On a terminal: a progress bar (phase and percent). Elsewhere (CI logs, pipes): one line per change,
since a bar redrawn in place turns into noise in a log file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.prompt import Confirm, DefaultType, InvalidResponse, Prompt
from rich.text import Text

from core.records import TERMINAL_JOB_STATUSES
from provisioner.cli.render import status_text, text
from provisioner.client import ApiError, ProvisionerClient
from provisioner.models import JobDetail

POLL_SECONDS = 1.0


def interactive() -> bool:
    """Whether someone can answer a question: Ctrl-C asks only then."""
    return sys.stdin.isatty()


def can_review() -> bool:
    """Whether someone can read a plan and answer for it: stdin and stdout both a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def queue_note(job: JobDetail) -> str | None:
    """While the job waits behind another one: "queued: position 2, waiting for deploy-..."."""
    if not job.queued:
        return None
    note = f"queued: position {job.queuePosition}"
    return f"{note}, waiting for {job.waitingFor}" if job.waitingFor else note


def ask_cancel(console: Console, job_id: str) -> bool:
    """True to cancel the job, False to stop watching it; a second Ctrl-C or EOF means stop."""
    try:
        answer = Prompt.ask(
            f"\nCancel job {job_id}, or stop watching and leave it running?",
            console=console,
            choices=["cancel", "watch", "leave"],
            default="leave",
        )
    except (KeyboardInterrupt, EOFError):
        return False
    if answer == "watch":
        raise _KeepWatching
    return answer == "cancel"


class _ApplyPrompt(Confirm):
    """terraform's question, with "no" unless the person answers y or yes."""

    def make_prompt(self, default: DefaultType) -> Text:
        prompt = self.prompt.copy()
        prompt.end = ""
        prompt.append(" [y/N]", "prompt.choices")
        prompt.append(self.prompt_suffix)
        return prompt

    def process_response(self, value: str) -> bool:
        answer = value.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        raise InvalidResponse(self.validate_error_message)


def ask_apply(console: Console) -> bool | None:
    """Ask "Apply this plan? [y/N]": True to approve, False to discard, None for no answer (Ctrl-C or
    end of input), which leaves the job waiting for someone else's decision."""
    try:
        return _ApplyPrompt.ask("Apply this plan?", console=console, default=False)
    except (KeyboardInterrupt, EOFError):
        return None


class _KeepWatching(Exception):
    """The person pressed Ctrl-C by mistake."""


@dataclass
class JobWatch:
    client: ProvisionerClient
    job_id: str
    console: Console  # stderr: progress and log lines never mix with the command's result
    follow_logs: bool = False
    # Read when the watch starts, not when this module is loaded: tests poll faster.
    poll: float = field(default_factory=lambda: POLL_SECONDS)
    # Stop watching once this holds, e.g. when the job waits for a person's approval.
    until: Callable[[JobDetail], bool] | None = None
    _log_offset: int = field(default=0, init=False)
    _partial_line: str = field(default="", init=False)
    _last: tuple[str, str, int, str | None] | None = field(default=None, init=False)
    _cancelled: bool = field(default=False, init=False)

    def run(self) -> JobDetail | None:
        """The job's last status once it has ended (or ``until`` holds); None when the person
        stopped watching."""
        while True:
            try:
                job = self._watch()
            except KeyboardInterrupt:
                if not self._after_interrupt():
                    return None
                continue
            if job.status in TERMINAL_JOB_STATUSES:
                self._flush_log()
            return job

    def _after_interrupt(self) -> bool:
        """Handle Ctrl-C; True to go on watching."""
        if self._cancelled or not interactive():
            self._print_detached()
            return False
        try:
            cancel = ask_cancel(self.console, self.job_id)
        except _KeepWatching:
            return True
        if not cancel:
            self._print_detached()
            return False
        try:
            answer = self.client.cancel(self.job_id)
        except ApiError as exc:  # it ended meanwhile (409): watching shows how
            self.console.print(text(exc.message, "yellow"))
        else:
            self.console.print(text(answer.message, "yellow"))
        self._cancelled = True
        return True

    def _print_detached(self) -> None:
        state = "is being cancelled" if self._cancelled else "keeps running"
        self.console.print(
            text(
                f"\nStopped watching; job {self.job_id} {state}.\n"
                f"  follow it:  provisioner status {self.job_id}   provisioner logs {self.job_id} --follow\n"
                f"  cancel it:  provisioner cancel {self.job_id}",
                "yellow",
            )
        )

    def _watch(self) -> JobDetail:
        if not self.console.is_terminal:
            return self.client.wait(self.job_id, self._print_line, poll=self.poll, until=self.until)
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            task = progress.add_task(self.job_id, total=100)

            def update(job: JobDetail) -> None:
                state = queue_note(job) or f"{job.status.value} · {job.phase}"
                description = f"{job.action} {job.projectId}: {state}"
                progress.update(task, completed=job.progress, description=description)
                self._stream_log(progress.console)

            return self.client.wait(self.job_id, update, poll=self.poll, until=self.until)

    def _print_line(self, job: JobDetail) -> None:
        queued = queue_note(job)
        now = (job.status.value, job.phase, job.progress, queued)
        if now != self._last:
            self._last = now
            if queued:
                self.console.print(text(f"{job.jobId}: {queued}", "yellow"))
            else:
                self.console.print(
                    text(f"{job.jobId}: "),
                    status_text(job.status.value),
                    text(f" {job.phase} {job.progress}%"),
                    sep="",
                )
        self._stream_log(self.console)

    def _stream_log(self, console: Console) -> bool:
        """Print the log's new whole lines; True once the log is complete."""
        if not self.follow_logs:
            return True
        chunk = self.client.logs(self.job_id, self._log_offset)
        self._log_offset = chunk.nextOffset
        lines = (self._partial_line + chunk.content).split("\n")
        # Only whole lines: the rest waits for its end, or for the job's.
        self._partial_line = lines.pop()
        for line in lines:
            console.print(text(line, "dim"), highlight=False)
        return chunk.complete or not chunk.content

    def _flush_log(self) -> None:
        """After the job's end: the rest of the log, the last line too."""
        if not self.follow_logs:
            return
        while not self._stream_log(self.console):
            pass
        if self._partial_line:
            self.console.print(text(self._partial_line, "dim"), highlight=False)
            self._partial_line = ""
