"""Step Functions: one execution per job, named after the job so a retry can never run it twice."""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from functions.dal import aws
from functions.models.exceptions import ApprovalWaitEnded, WorkflowUnavailable
from functions.utils.observability import logger


class Workflow(ABC):
    @abstractmethod
    def start(self, job_id: str, payload: dict[str, Any]) -> str:
        """Start the job's execution; returns its ARN. An execution that already exists is success."""

    @abstractmethod
    def stop(self, job_id: str, cause: str) -> None: ...

    @abstractmethod
    def status(self, job_id: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, or None if there is no such execution."""

    @abstractmethod
    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        """The task waiting on this token succeeds with ``output``; ApprovalWaitEnded if none waits."""

    @abstractmethod
    def reject(self, task_token: str, error: str, cause: str) -> None:
        """The task waiting on this token fails with ``error``; ApprovalWaitEnded if none waits."""


class StepFunctionsWorkflow(Workflow):
    def __init__(self, state_machine_arn: str) -> None:
        self.state_machine_arn = state_machine_arn
        self.client = aws.stepfunctions()

    def execution_arn(self, job_id: str) -> str:
        prefix, _, name = self.state_machine_arn.rpartition(":stateMachine:")
        return f"{prefix}:execution:{name}:{job_id}"

    def start(self, job_id: str, payload: dict[str, Any]) -> str:
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=job_id, input=json.dumps(payload)
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ExecutionAlreadyExists":
                logger.warning("duplicate start ignored", execution_name=job_id)
                return self.execution_arn(job_id)
            raise WorkflowUnavailable(f"the workflow could not start ({aws.error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise WorkflowUnavailable(f"the workflow could not start ({type(exc).__name__})") from exc
        return response["executionArn"]

    def stop(self, job_id: str, cause: str) -> None:
        try:
            self.client.stop_execution(
                executionArn=self.execution_arn(job_id), error="Cancelled", cause=cause
            )
        except ClientError as exc:
            if aws.error_code(exc) == "ExecutionDoesNotExist":
                return
            raise WorkflowUnavailable(f"the workflow could not stop ({aws.error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise WorkflowUnavailable(f"the workflow could not stop ({type(exc).__name__})") from exc

    def status(self, job_id: str) -> str | None:
        try:
            return self.client.describe_execution(executionArn=self.execution_arn(job_id))["status"]
        except ClientError as exc:
            if aws.error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise WorkflowUnavailable(f"the workflow could not be read ({aws.error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise WorkflowUnavailable(f"the workflow could not be read ({type(exc).__name__})") from exc

    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        with _callback("resume"):
            self.client.send_task_success(taskToken=task_token, output=json.dumps(output))

    def reject(self, task_token: str, error: str, cause: str) -> None:
        with _callback("signal"):
            self.client.send_task_failure(taskToken=task_token, error=error, cause=cause[:32768])


# The token names a wait that is over: expired, stopped, or already answered.
_WAIT_ENDED = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


@contextlib.contextmanager
def _callback(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        if aws.error_code(exc) in _WAIT_ENDED:
            raise ApprovalWaitEnded(
                "the workflow no longer waits for this approval (it expired or ended)"
            ) from exc
        raise WorkflowUnavailable(f"the workflow could not {what} ({aws.error_code(exc)})") from exc
    except BotoCoreError as exc:
        raise WorkflowUnavailable(f"the workflow could not {what} ({type(exc).__name__})") from exc


@cache
def workflow(state_machine_arn: str) -> Workflow:
    return StepFunctionsWorkflow(state_machine_arn)
