"""The service's tables and buckets, and an in-process AWS emulator (moto's server) to hold them.

Tests and local mode both use this; the CDK stack declares the same keys and indexes.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from core.records import JOBS_BY_CREATION_INDEX, JOBS_BY_PROJECT_INDEX
from functions.dal.notifications import PENDING, PENDING_INDEX
from localmode.faults import Faults, error_response, request_facts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import GlobalSecondaryIndexTypeDef

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_DEFINITION = REPO_ROOT / "statemachine" / "provisioning.asl.json"
STATE_MACHINE_NAME = "provisioner-jobs"
RUNNER_PROJECT_NAME = "provisioner-runner"
# The Lambda of the workflow's own steps; locally compat runs its handler in this process.
WORKFLOW_STEPS_FUNCTION = "provisioner-workflow-steps"
# What the drift schedules invoke; locally localmode/scheduler.py runs its handler in this process.
DRIFT_FUNCTION = "provisioner-drift"
EMULATOR_ACCOUNT = "123456789012"
EMULATOR_ACCESS_KEY = "test"
EMULATOR_SECRET_KEY = "test"  # noqa: S105 - the emulator accepts any key; this one is public


@dataclass(frozen=True)
class ServiceResources:
    """Names of the service's own resources; the runner and the handlers get them as env vars."""

    jobs_table: str = "provisioner-jobs"
    projects_table: str = "provisioner-projects"
    policies_table: str = "provisioner-policies"
    # Subscriptions and deliveries: named to the API handlers and the notifier only, never to
    # the runner (not in environment() below, which the runner's build gets).
    notifications_table: str = "provisioner-notifications"
    lock_table: str = "provisioner-terraform-locks"
    idempotency_table: str = "provisioner-idempotency"
    workspaces_bucket: str = "provisioner-workspaces"
    state_bucket: str = "provisioner-state"
    logs_bucket: str = "provisioner-logs"
    drift_schedule_group: str = "provisioner-drift"
    region: str = "us-east-1"

    def environment(self) -> dict[str, str]:
        return {
            "JOBS_TABLE": self.jobs_table,
            "PROJECTS_TABLE": self.projects_table,
            "POLICIES_TABLE": self.policies_table,
            "LOCK_TABLE": self.lock_table,
            "IDEMPOTENCY_TABLE": self.idempotency_table,
            "WORKSPACES_BUCKET": self.workspaces_bucket,
            "STATE_BUCKET": self.state_bucket,
            "LOGS_BUCKET": self.logs_bucket,
            "DRIFT_SCHEDULE_GROUP": self.drift_schedule_group,
            "DRIFT_FUNCTION_ARN": f"arn:aws:lambda:{self.region}:{EMULATOR_ACCOUNT}:function:"
            + DRIFT_FUNCTION,
            "DRIFT_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{EMULATOR_ACCOUNT}:role/{DRIFT_FUNCTION}-scheduler",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def buckets(self) -> tuple[str, ...]:
        return (self.workspaces_bucket, self.state_bucket, self.logs_bucket)


def emulator_session(region: str) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=EMULATOR_ACCESS_KEY, aws_secret_access_key=EMULATOR_SECRET_KEY, region_name=region
    )


def create_service_resources(endpoint_url: str, resources: ServiceResources) -> None:
    """Create every table and bucket the service needs; existing ones are left as they are."""
    session = emulator_session(resources.region)
    dynamodb: DynamoDBClient = session.client("dynamodb", endpoint_url=endpoint_url)
    _create_table(
        dynamodb,
        resources.jobs_table,
        "jobId",
        extra_attributes={"projectId": "S", "createdAt": "N", "kind": "S"},
        indexes=[
            _index(JOBS_BY_PROJECT_INDEX, "projectId", "createdAt"),
            _index(JOBS_BY_CREATION_INDEX, "kind", "createdAt"),
        ],
        stream=True,
    )
    # The notifier reads both tables' streams, as its event source mappings do in AWS.
    _create_table(dynamodb, resources.projects_table, "projectId", stream=True)
    create_notifications_table(dynamodb, resources.notifications_table)
    _create_table(dynamodb, resources.policies_table, "scope", sort_key="policyKey")
    _create_table(dynamodb, resources.lock_table, "LockID")
    _create_table(dynamodb, resources.idempotency_table, "id")
    with contextlib.suppress(ClientError):
        dynamodb.update_time_to_live(
            TableName=resources.idempotency_table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )
    scheduler = session.client("scheduler", endpoint_url=endpoint_url)
    with contextlib.suppress(scheduler.exceptions.ConflictException):
        scheduler.create_schedule_group(Name=resources.drift_schedule_group)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    for bucket in resources.buckets():
        try:
            if resources.region == "us-east-1":
                s3.create_bucket(Bucket=bucket)
            else:
                s3.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": resources.region},  # type: ignore[typeddict-item]
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def workflow_definition(resources: ServiceResources, runner_project: str = RUNNER_PROJECT_NAME) -> str:
    """The ASL with its ``${Substitutions}`` filled, as CDK fills them."""
    substitutions = {
        "JobsTable": resources.jobs_table,
        "ProjectsTable": resources.projects_table,
        "RunnerProject": runner_project,
        "WorkflowStepsFunction": WORKFLOW_STEPS_FUNCTION,
    }
    definition = WORKFLOW_DEFINITION.read_text()
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", value)
    leftover = re.findall(r"\$\{[A-Za-z]+\}", definition)
    if leftover:
        raise ValueError(f"unfilled substitutions in the workflow: {sorted(set(leftover))}")
    return definition


def create_state_machine(endpoint_url: str, resources: ServiceResources) -> str:
    """The provisioning workflow in the emulator, from the same ASL file CDK deploys; returns its ARN."""
    client = emulator_session(resources.region).client("stepfunctions", endpoint_url=endpoint_url)
    definition = workflow_definition(resources)
    role = f"arn:aws:iam::{EMULATOR_ACCOUNT}:role/provisioner-workflow"
    existing = {m["name"]: m["stateMachineArn"] for m in client.list_state_machines()["stateMachines"]}
    if STATE_MACHINE_NAME in existing:
        arn = existing[STATE_MACHINE_NAME]
        client.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
        return arn
    return client.create_state_machine(name=STATE_MACHINE_NAME, definition=definition, roleArn=role)[
        "stateMachineArn"
    ]


def _index(name: str, partition: str, sort: str) -> GlobalSecondaryIndexTypeDef:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


def create_notifications_table(dynamodb: DynamoDBClient, name: str) -> None:
    """Keys of functions/dal/notifications.py; the sparse index holds the deliveries still to try."""
    _create_table(
        dynamodb,
        name,
        "pk",
        sort_key="sk",
        extra_attributes={PENDING: "S", "nextAttemptAt": "N"},
        indexes=[_index(PENDING_INDEX, PENDING, "nextAttemptAt")],
    )


def _create_table(
    dynamodb: DynamoDBClient,
    name: str,
    key: str,
    *,
    sort_key: str | None = None,
    extra_attributes: dict[str, str] | None = None,
    indexes: list[GlobalSecondaryIndexTypeDef] | None = None,
    stream: bool = False,
) -> None:
    keys = [key, *([sort_key] if sort_key else [])]
    definitions: list[Any] = [{"AttributeName": k, "AttributeType": "S"} for k in keys]
    definitions += [{"AttributeName": k, "AttributeType": v} for k, v in (extra_attributes or {}).items()]
    arguments: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [
            {"AttributeName": key, "KeyType": "HASH"},
            *([{"AttributeName": sort_key, "KeyType": "RANGE"}] if sort_key else []),
        ],
        "AttributeDefinitions": definitions,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    if stream:
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    try:
        dynamodb.create_table(**arguments)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise


# (method, operation or path, the tables a DynamoDB write names; None: not one, or not known)
WriteHook = Callable[[str, str, frozenset[str] | None], None]
# The DynamoDB writes whose tables are reported: where each names them.
_TABLE_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def written_tables(operation: str, body: bytes) -> frozenset[str] | None:
    """The tables a DynamoDB write request names; None when it names none we can read."""
    if operation not in _TABLE_WRITES:
        return None
    try:
        request = json.loads(body)
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    if operation == "BatchWriteItem":
        names = list(request.get("RequestItems") or {})
    elif operation == "TransactWriteItems":
        names = [
            action.get("TableName")
            for item in request.get("TransactItems") or []
            if isinstance(item, dict)
            for action in item.values()
            if isinstance(action, dict)
        ]
    else:
        names = [request.get("TableName")]
    if not names or not all(isinstance(name, str) and name for name in names):
        return None
    return frozenset(names)


class _EmulatorApp:
    """WSGI middleware in front of moto.

    DynamoDB requests run one at a time: moto evaluates a ConditionExpression and applies the write
    without a lock, so two racing conditional writes could both succeed, which real DynamoDB never
    allows (the project lock relies on it), and its tables are plain dicts, read while written.
    Every mutating request is reported to ``on_write`` (a DynamoDB write with the tables it
    names, so a save reads only those), and
    injected faults (local mode's fault injection) are answered before moto sees the request.
    """

    def __init__(self, app: Any, on_write: WriteHook | None, faults: Faults) -> None:
        self.app = app
        self.on_write = on_write
        self.faults = faults
        self._dynamodb = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        facts = request_facts(environ)
        rule = self.faults.take(facts)
        if rule is not None:
            status, headers, body = error_response(rule, facts)
            start_response(status, headers)
            return [body]
        method = str(environ.get("REQUEST_METHOD", "GET"))
        service, _, operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).partition(".")
        tables = None
        if service.startswith("DynamoDB"):
            if self.on_write is not None and operation in _TABLE_WRITES:
                body = _read_body(environ)
                tables = written_tables(operation, body)
            with self._dynamodb:
                response = list(self.app(environ, start_response))
        else:
            response = self.app(environ, start_response)
        if self.on_write is not None and method in ("PUT", "POST", "DELETE"):
            self.on_write(method, operation or str(environ.get("PATH_INFO", "")), tables)
        return response


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request's body, read here and put back for moto to read."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


class EmulatorServer:
    """moto's server on loopback, in this process; ``port=0`` picks a free port.

    moto keeps its data in this process, so :meth:`restart` stops and starts only the server:
    clients meet refused connections for a while, then find everything where it was.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, on_write: WriteHook | None = None) -> None:
        self.faults = Faults()
        self._app = _EmulatorApp(DomainDispatcherApplication(create_backend_app), on_write, self.faults)
        self._host = host
        self._server = self._serve(port)
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""

    def _serve(self, port: int) -> Any:
        return make_server(self._host, port, self._app, threaded=True, request_handler=MotoRequestHandler)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> str:
        self._thread = threading.Thread(target=self._server.serve_forever, name="emulator", daemon=True)
        self._thread.start()
        self.endpoint_url = f"http://{self._host}:{self.port}"
        return self.endpoint_url

    def stop(self) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server.server_close()

    def restart(self, down_seconds: float) -> None:
        port = self.port
        self.stop()
        time.sleep(down_seconds)
        self._server = self._serve(port)
        self.start()
