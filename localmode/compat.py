"""What moto lacks for this workflow, added in one place.

1. Its Step Functions interpreter forwards ``codebuild`` tasks without the ``.sync`` integration;
   :class:`StateTaskServiceCodeBuild` adds it the way AWS documents it: ``startBuild``, then
   ``batchGetBuilds`` until the build ends; a build that does not succeed fails the task with
   ``States.TaskFailed`` and the build as the cause; a stopped or timed-out task stops the build.
   A local build's end wakes the task at once (:func:`wait_for_build`), where moto would look
   every half second.
2. Its CodeBuild records builds but runs nothing: start, describe and stop of the projects
   registered with :class:`~localmode.codebuild.LocalBuilds` go to the local runner.
3. Its Lambda runs functions only in Docker: an invoke of a function registered here
   (:func:`register_function`, the workflow's own steps) runs its handler in this process, and
   a handler's exception is a function error (``errorType`` = the exception's class), as Lambda
   reports it, so the ASL's Retry and Catch see the same names as in AWS.
4. Its ``SendTaskFailure`` drops the ``cause``: it is passed on.
5. Its interpreter parses the definition with ANTLR at every execution (~150 ms of this process's
   CPU, which held up the emulator's answers and the job's first states): the parse tree is kept
   per definition (:func:`parse_tree`) and each execution gets fresh components from it.
6. It builds a JSONPath parser (PLY's tables) for every path it evaluates, dozens a job: each
   path's parse is kept instead (:func:`jsonpath`, :func:`extended_jsonpath`).

Nothing else of the workflow is re-implemented: the ASL runs in moto's own interpreter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any, Final
from urllib.parse import unquote

import boto3
from antlr4 import ParserRuleContext
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel, StructureShape
from jsonpath_ng.ext.parser import parse as parse_extended_jsonpath
from jsonpath_ng.jsonpath import JSONPath
from jsonpath_ng.parser import parse as parse_jsonpath
from moto.awslambda.responses import LambdaResponse
from moto.codebuild.responses import CodeBuildResponse
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_callback,
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import json_path
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.responses import StepFunctionResponse

from localmode.codebuild import LocalBuilds

BUILD_DONE: Final = frozenset({"SUCCEEDED", "FAILED", "FAULT", "STOPPED", "TIMED_OUT"})
# How long a .sync task waits between looks at a build when no end is signalled (a build moto
# keeps, the emulator unreachable): from FIRST, doubling, up to AT_MOST (moto's own interval).
SYNC_LOOK_FIRST_SECONDS = 0.05
SYNC_LOOK_AT_MOST_SECONDS = 0.5
# The local builds, once install() has run: the .sync tasks wait on their ends.
_BUILDS: LocalBuilds | None = None
_SUPPORTED = {ResourceCondition.WaitForTaskToken, ResourceCondition.Sync}
# The CodeBuild actions Step Functions integrates with, and their request fields (AWS's list).
_SUPPORTED_PARAMETERS: Final[dict[str, set[str]]] = {
    "startbuild": {
        "ProjectName",
        "EnvironmentVariablesOverride",
        "SourceVersion",
        "BuildspecOverride",
        "TimeoutInMinutesOverride",
        "ComputeTypeOverride",
        "ImageOverride",
        "IdempotencyToken",
    },
    "stopbuild": {"Id"},
    "batchgetbuilds": {"Ids"},
}


@cache
def _operation(name: str) -> OperationModel:
    client = boto3.session.Session(region_name="us-east-1").client("codebuild")
    return client.meta.service_model.operation_model(name)


class StateTaskServiceCodeBuild(state_task_service_callback.StateTaskServiceCallback):
    """``arn:aws:states:::codebuild:startBuild`` and ``startBuild.sync`` (plus stopBuild, batchGetBuilds)."""

    def __init__(self) -> None:
        # moto annotates the patterns as str although it passes ResourceCondition members.
        super().__init__(supported_integration_patterns=_SUPPORTED)  # type: ignore[arg-type]

    def _get_supported_parameters(self) -> set[str] | None:
        return _SUPPORTED_PARAMETERS.get(self.resource.api_action.lower())

    def _operation_name(self, action: str | None = None) -> str:
        name = action or self.resource.api_action
        return name[:1].upper() + name[1:]

    def _normalise_parameters(
        self,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = _operation(self._operation_name(service_action_name)).input_shape
        if isinstance(shape, StructureShape):
            self._to_boto_request(parameters, shape)

    def _normalise_response(
        self,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = _operation(self._operation_name(service_action_name)).output_shape
        if isinstance(shape, StructureShape):
            self._from_boto_response(response, shape)

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        """A CodeBuild API error is ``CodeBuild.<Code>``, as AWS names it, so Retry can match it.

        An unreachable endpoint (the emulator restarting) is CodeBuild being unavailable.
        """
        if isinstance(ex, BotoCoreError):
            error = "CodeBuild.ServiceUnavailableException"
        elif isinstance(ex, ClientError):
            error = f"CodeBuild.{ex.response.get('Error', {}).get('Code', 'AWSCodeBuildException')}"
        else:
            return super()._from_error(env=env, ex=ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=str(ex.response.get("Error", {}).get("Message", ex))
                    if isinstance(ex, ClientError)
                    else str(ex),
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )

    def _client(self, runtime: ResourceRuntimePart, credentials: StateCredentials) -> Any:
        return boto_client_for(region=runtime.region, service="codebuild", state_credentials=credentials)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> Callable[[], Any] | None:
        started = env.stack.pop()
        return _BuildWatcher(
            self, env, self._client(resource_runtime_part, state_credentials), started["Build"]["Id"]
        )

    def _eval_sync(
        self,
        env: Environment,
        sync_resolver: Callable[[], Any] | None,
        timeout_seconds: int | None,
        callback_endpoint: Any,
        heartbeat_endpoint: Any,
    ) -> Any:
        """moto's loop (look, sleep half a second, look again) with the sleep a wait on the build's end."""
        assert sync_resolver is not None
        build_id = sync_resolver.build_id if isinstance(sync_resolver, _BuildWatcher) else None
        try:
            return wait_for_build(env.is_running, sync_resolver, _BUILDS, build_id)
        finally:
            # Stopped execution or timed-out task while the build ran: stop the build, as Step
            # Functions does for a .sync task it abandons.
            if isinstance(sync_resolver, _BuildWatcher) and not sync_resolver.ended:
                sync_resolver.client.stop_build(id=sync_resolver.build_id)


def wait_for_build(
    running: Callable[[], bool],
    resolve: Callable[[], Any],
    builds: LocalBuilds | None,
    build_id: str | None,
) -> Any:
    """``resolve()`` until it answers (the build ended) or the execution stops (None).

    Between looks: a local build's end wakes this at once; otherwise (not a local build, or it
    ended but the look failed: the emulator restarting) the wait backs off from
    SYNC_LOOK_FIRST_SECONDS to SYNC_LOOK_AT_MOST_SECONDS. While the build runs, the execution
    is checked every SYNC_LOOK_AT_MOST_SECONDS, as moto does.
    """
    local = builds is not None and build_id is not None and builds.handles_build(build_id)
    pause = SYNC_LOOK_FIRST_SECONDS
    ended = False
    while running():
        result = resolve()
        if result:
            return result
        if local and not ended:
            assert builds is not None and build_id is not None
            ended = builds.wait_for_end(build_id, SYNC_LOOK_AT_MOST_SECONDS)
        else:
            time.sleep(pause)
            pause = min(pause * 2, SYNC_LOOK_AT_MOST_SECONDS)
    return None


def _message(ex: Exception) -> str:
    if isinstance(ex, ClientError):
        return str(ex.response.get("Error", {}).get("Message", ex))
    return str(ex)


class _BuildWatcher:
    """Polled by the interpreter until the build ends; remembers whether it did."""

    def __init__(self, task: StateTaskServiceCodeBuild, env: Environment, client: Any, build_id: str) -> None:
        self.task = task
        self.env = env
        self.client = client
        self.build_id = build_id
        self.ended = False

    def __call__(self) -> dict[str, Any] | None:
        try:
            build = self.client.batch_get_builds(ids=[self.build_id])["builds"][0]
        except (BotoCoreError, ClientError):
            # Step Functions' own polling rides out a blip; so does this one (the task's Timeout bounds it).
            return None
        status = build["buildStatus"]
        if status not in BUILD_DONE:
            return None
        self.ended = True
        response: dict[str, Any] = {"build": build}
        self.task._normalise_response(response, service_action_name="startBuild")
        if status == "SUCCEEDED":
            return response
        raise FailureEventException(
            FailureEvent(
                env=self.env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                # moto declares every event-detail key required; AWS sends one per event.
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        resource=self.task._get_sfn_resource(),
                        resourceType=self.task._get_sfn_resource_type(),
                        error=StatesErrorNameType.StatesTaskFailed.to_name(),
                        cause=to_json_str(response["Build"]),
                    )
                ),
            )
        )


_original_factory = state_task_service_factory.state_task_service_for


def _state_task_service_for(service_name: str) -> state_task_service.StateTaskService:
    if service_name == "codebuild":
        return StateTaskServiceCodeBuild()
    return _original_factory(service_name)


def _route_codebuild(builds: LocalBuilds) -> None:
    original_start = CodeBuildResponse.start_build
    original_describe = CodeBuildResponse.batch_get_builds
    original_stop = CodeBuildResponse.stop_build

    def start_build(self: CodeBuildResponse) -> ActionResult:
        project = self._get_param("projectName")
        if not builds.handles_project(project):
            return original_start(self)
        fault = builds.take_start_fault()
        if fault is not None:
            raise JsonRESTError(fault, f"injected fault: {fault}")
        build = builds.start(
            project, self._get_param("environmentVariablesOverride"), self._get_param("idempotencyToken")
        )
        return ActionResult({"build": build})

    def batch_get_builds(self: CodeBuildResponse) -> ActionResult:
        ids = list(self._get_param("ids") or [])
        if not any(builds.handles_build(i) for i in ids):
            return original_describe(self)
        return ActionResult(
            {
                "builds": builds.describe(ids),
                "buildsNotFound": [i for i in ids if not builds.handles_build(i)],
            }
        )

    def stop_build(self: CodeBuildResponse) -> ActionResult:
        build_id = self._get_param("id")
        if not builds.handles_build(build_id):
            return original_stop(self)
        return ActionResult({"build": builds.stop(build_id)})

    CodeBuildResponse.start_build = start_build  # type: ignore[method-assign]
    CodeBuildResponse.batch_get_builds = batch_get_builds  # type: ignore[method-assign]
    CodeBuildResponse.stop_build = stop_build  # type: ignore[method-assign]


LambdaFunction = Callable[[dict[str, Any]], Any]
_FUNCTIONS: dict[str, LambdaFunction] = {}


def register_function(name: str, handler: LambdaFunction) -> None:
    """Invokes of the Lambda ``name`` (or its ARN) run ``handler(event)`` here."""
    _FUNCTIONS[name] = handler


def invoke_registered(name: str, body: str | bytes | None) -> tuple[int, dict[str, str], str] | None:
    """Lambda's answer to an invoke of a registered function: its JSON result, or a function error."""
    handler = _FUNCTIONS.get(name.rsplit(":function:", 1)[-1].split(":", maxsplit=1)[0])
    if handler is None:
        return None
    event = json.loads(body or "{}")
    headers = {"content-type": "application/json"}
    try:
        return 200, headers, json.dumps(handler(event))
    except Exception as exc:  # a function error, as Lambda reports an unhandled one
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return 200, {**headers, "x-amz-function-error": "Unhandled"}, json.dumps(error)


def _route_lambda() -> None:
    original_invoke = LambdaResponse.invoke

    def invoke(self: LambdaResponse) -> tuple[int, dict[str, str], str | bytes]:
        answer = invoke_registered(unquote(self.path.rsplit("/", 2)[-2]), self.body)
        return answer if answer is not None else original_invoke(self)

    LambdaResponse.invoke = invoke  # type: ignore[method-assign]


def _forward_failure_cause() -> None:
    def send_task_failure(self: StepFunctionResponse) -> ActionResult:
        # With execution on, the backend is the interpreter's, whose send_task_failure takes a cause.
        backend: Any = self.stepfunction_backend
        backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


@lru_cache(maxsize=8)
def parse_tree(definition: str) -> ParserRuleContext:
    """The ANTLR parse of a definition (a syntax error raises and is not kept). The tree is only
    read afterwards, so executions share it; what they evaluate is built anew each time, since
    moto's components are not made to be shared between executions."""
    return AmazonStateLanguageParser.parse(definition)[1]


def _evaluation_entrypoint(self: ExecutionWorker) -> EvalComponent:
    program: EvalComponent = Preprocessor().visit(
        parse_tree(self._evaluation_details.state_machine_details.definition)
    )
    return program


@lru_cache(maxsize=1024)
def jsonpath(path: str) -> JSONPath:
    """A parsed path (an invalid one raises, and is not kept); evaluating it changes nothing in it."""
    return parse_jsonpath(path)


@lru_cache(maxsize=1024)
def extended_jsonpath(path: str) -> JSONPath:
    return parse_extended_jsonpath(path)


def install(builds: LocalBuilds) -> None:
    """Turn on moto's Step Functions interpreter with CodeBuild ``.sync``, the local builds and
    the registered Lambda functions."""
    global _BUILDS  # noqa: PLW0603 - moto builds task states itself; they find the builds here
    _BUILDS = builds
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    # The task-state factory imported the function by name: replace it where it is called.
    state_task_factory.state_task_service_for = _state_task_service_for  # type: ignore[attr-defined]
    _route_codebuild(builds)
    ExecutionWorker._get_evaluation_entrypoint = _evaluation_entrypoint  # type: ignore[method-assign]
    # The interpreter's modules imported ``parse`` by name: replace it where it is called.
    json_path.parse = extended_jsonpath  # type: ignore[attr-defined]
    result_path.parse = jsonpath  # type: ignore[attr-defined]
    if not getattr(LambdaResponse.invoke, "_provisioner", False):
        _route_lambda()
        LambdaResponse.invoke._provisioner = True  # type: ignore[attr-defined]
        _forward_failure_cause()
