"""In-memory implementations of the data access ports (functions/dal), for tests of the logic alone.

Each keeps the contract its DynamoDB / S3 / Step Functions / CodeBuild counterpart documents: the
conditional writes are conditional, a release puts back what it is given, and so on. Calls that
tests want to count or inspect are recorded.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from core.hcl.preflight import PreflightPolicy
from core.records import LOCKFILE_SUFFIX, TERMINAL_JOB_STATUSES, JobStatus, iso_now, state_lock_id
from core.state_versions import md5_digest
from core.transitions import Condition, Update, project_locked
from functions.dal.builds import BuildStatus
from functions.dal.jobs import JobItem, JobStore
from functions.dal.locks import LockStore, StateLock
from functions.dal.notifications import PENDING as NOTIFY_PENDING
from functions.dal.notifications import NotificationStore, SigningSecrets
from functions.dal.objects import ArtifactReader, CodeStore, StateReader
from functions.dal.policies import PolicyItem, PolicyStore, head_key, version_key
from functions.dal.projects import LOCK_VIEW_FIELDS, ProjectItem, ProjectStore
from functions.dal.schedules import DriftSchedule, DriftSchedules
from functions.dal.state_history import StateHistory, StoredVersion
from functions.dal.variables import VariableStore
from functions.dal.workflow import Workflow
from functions.logic.locks import LockServices
from functions.logic.projects import ProjectReaders
from functions.logic.submit import SubmitStores
from functions.models.exceptions import ApprovalWaitEnded, ProjectBusy, StoreUnavailable, WorkflowUnavailable

STATE_BUCKET = "fake-state"


def _holds(item: dict[str, Any] | None, condition: Condition) -> bool:
    """A transition's condition, as DynamoDB evaluates it on the item (None: no item)."""
    present = item is not None and condition.field in item
    value = item.get(condition.field) if item is not None else None
    if condition.test == "empty":
        return not present or len(value or []) == 0
    if condition.test == "first":
        return present and isinstance(value, list) and bool(value) and value[0] == condition.values[0]
    if condition.exists is not None:
        return present is condition.exists
    return present and value in condition.values


def apply_update(items: dict[str, dict[str, Any]], change: Update) -> bool:
    """Execute a transition on an in-memory table: every condition holds, or nothing changes."""
    [(key_name, key)] = change.key.items()
    item = items.get(key)
    if not all(_holds(item, condition) for condition in change.conditions):
        return False
    target = items.setdefault(key, {key_name: key}) if item is None else item
    for name, value in change.set.items():
        if value is not None:
            target[name] = copy.deepcopy(value)
    for name, value in change.if_not_exists.items():
        target.setdefault(name, copy.deepcopy(value))
    for name, values in change.append.items():
        target[name] = [*target.get(name, []), *copy.deepcopy(values)]
    for name in change.remove:
        target.pop(name, None)
    for name in change.pop_first:
        if target.get(name):
            target[name] = target[name][1:]
    return True


class FakeProjectStore(ProjectStore):
    def __init__(self) -> None:
        self.items: dict[str, ProjectItem] = {}

    def get(self, project_id: str) -> ProjectItem | None:
        item = self.items.get(project_id)
        return copy.deepcopy(item) if item is not None else None

    def acquire(
        self, project_id: str, job_id: str, fields: dict[str, Any], *, from_queue: bool = False
    ) -> dict[str, Any]:
        item = self.items.setdefault(project_id, {"projectId": project_id})
        active = item.get("activeJobId")
        if active == job_id:
            return {}
        previous = {key: copy.deepcopy(item.get(key)) for key in fields}
        now = str(fields.get("lastUpdated", ""))
        if not apply_update(
            self.items, project_locked(project_id, job_id, now, fields, from_queue=from_queue)
        ):
            holder = active or (item.get("queue") or [None])[-1]
            raise ProjectBusy(f"project {project_id} has a job in progress ({holder})", holder)
        return previous

    def apply(self, change: Update) -> bool:
        return apply_update(self.items, change)

    def release(self, project_id: str, job_id: str, restore: dict[str, Any] | None = None) -> bool:
        item = self.items.get(project_id)
        if item is None or item.get("activeJobId") != job_id:
            return False
        for key, value in (restore or {}).items():
            if key in ("activeJobId", "activeAction", "lastUpdated"):
                continue
            if value is None:
                item.pop(key, None)
            else:
                item[key] = copy.deepcopy(value)
        item.pop("activeJobId", None)
        item.pop("activeAction", None)
        item["lastUpdated"] = iso_now()
        return True

    def update(self, project_id: str, fields: dict[str, Any]) -> None:
        self.items.setdefault(project_id, {"projectId": project_id}).update(copy.deepcopy(fields))

    def drift_summaries(self) -> list[ProjectItem]:
        fields = ("projectId", "deploymentStatus", "driftSchedule", "drift")
        return [{k: copy.deepcopy(item[k]) for k in fields if k in item} for item in self.items.values()]

    def locked(self) -> list[ProjectItem]:
        return [
            {key: item[key] for key in LOCK_VIEW_FIELDS if key in item}
            for item in self.items.values()
            if item.get("activeJobId")
        ]


class FakeJobStore(JobStore):
    def __init__(self) -> None:
        self.items: dict[str, JobItem] = {}
        self.gets = 0

    def get(self, job_id: str) -> JobItem | None:
        self.gets += 1
        item = self.items.get(job_id)
        return copy.deepcopy(item) if item is not None else None

    def view(self, job_id: str) -> JobItem | None:
        return self.get(job_id)

    def create(self, item: JobItem) -> None:
        self.items.setdefault(str(item["jobId"]), copy.deepcopy(item))

    def page(
        self, project_id: str | None, limit: int, token: str | None, action: str | None = None
    ) -> tuple[list[JobItem], str | None]:
        jobs = [
            j
            for j in self.items.values()
            if (project_id is None or j["projectId"] == project_id) and action in (None, j.get("action"))
        ]
        jobs.sort(key=lambda j: int(j.get("createdAt", 0)), reverse=True)
        return copy.deepcopy(jobs[:limit]), None

    def active(self) -> list[JobItem]:
        return [
            copy.deepcopy(j)
            for j in self.items.values()
            if JobStatus(j["status"]) not in TERMINAL_JOB_STATUSES
        ]

    def fail_if_active(self, job_id: str, error: str) -> bool:
        item = self.items.get(job_id)
        if item is None or JobStatus(item["status"]) in TERMINAL_JOB_STATUSES:
            return False
        now = iso_now()
        item.update(
            status=JobStatus.FAILED.value, error=error, resultMessage=error, endTime=now, updatedAt=now
        )
        return True

    def request_cancel(self, job_id: str, requested_by: str) -> None:
        self.items[job_id].update(cancelRequestedAt=iso_now(), cancelRequestedBy=requested_by)

    def apply(self, change: Update) -> bool:
        # A job transition never creates a record: each names jobId's presence or a status.
        return apply_update(self.items, change)


class FakeLockStore(LockStore):
    def __init__(self) -> None:
        self.items: dict[str, str] = {}  # LockID -> Info, as terraform writes it

    def take(
        self, project_id: str, created: str, lock_uuid: str = "lock-1", *, lockfile: bool = False
    ) -> str:
        """A lock item (terraform < 1.10), or with ``lockfile`` the lock file 1.10+ writes."""
        lock_id = state_lock_id(STATE_BUCKET, project_id) + (LOCKFILE_SUFFIX if lockfile else "")
        self.items[lock_id] = json.dumps(
            {"ID": lock_uuid, "Operation": "OperationTypeApply", "Created": created}
        )
        return lock_id

    def get(self, lock_id: str) -> StateLock | None:
        raw = self.items.get(lock_id)
        if raw is None:
            return None
        if lock_id.endswith(LOCKFILE_SUFFIX):
            return StateLock(lock_id, raw, json.loads(raw), kind="lockfile", etag=f'"{hash(raw)}"')
        return StateLock(lock_id, raw, json.loads(raw))

    def held(self) -> list[str]:
        return list(self.items)

    def delete(self, lock: StateLock) -> bool:
        if self.items.get(lock.lock_id) != lock.raw_info:
            return False
        del self.items[lock.lock_id]
        return True


class FakeWorkflow(Workflow):
    def __init__(self) -> None:
        self.executions: dict[str, str] = {}
        self.started: list[str] = []
        self.stopped: list[tuple[str, str]] = []
        self.waiting: set[str] = set()
        self.answers: dict[str, tuple[str, dict[str, Any]]] = {}

    def start(self, job_id: str, payload: dict[str, Any]) -> str:
        self.started.append(job_id)
        self.executions.setdefault(job_id, "RUNNING")
        return f"arn:aws:states:us-east-1:000000000000:execution:fake:{job_id}"

    def stop(self, job_id: str, cause: str) -> None:
        self.stopped.append((job_id, cause))
        if self.executions.get(job_id) == "RUNNING":
            self.executions[job_id] = "ABORTED"

    def status(self, job_id: str) -> str | None:
        return self.executions.get(job_id)

    def resume(self, task_token: str, output: dict[str, Any]) -> None:
        self._answer(task_token, ("success", output))

    def reject(self, task_token: str, error: str, cause: str) -> None:
        self._answer(task_token, ("failure", {"error": error, "cause": cause}))

    def wait_on(self, task_token: str) -> None:
        """A task starts waiting on a token (as the approval step's wait does)."""
        self.waiting.add(task_token)

    def _answer(self, task_token: str, answer: tuple[str, dict[str, Any]]) -> None:
        if task_token not in self.waiting:
            raise ApprovalWaitEnded("no task waits on this token")
        self.waiting.discard(task_token)
        self.answers[task_token] = answer


class FakeBuildStatus(BuildStatus):
    def __init__(self) -> None:
        self.builds: dict[str, str] = {}

    def status(self, build_id: str) -> str | None:
        return self.builds.get(build_id)


class FakeCodeStore(CodeStore):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, str]] = {}
        self.reads: list[tuple[str, str]] = []

    def put(self, project_id: str, job_id: str, files: dict[str, str]) -> None:
        self.objects[(project_id, job_id)] = dict(files)

    def copy(self, project_id: str, from_job: str, to_job: str) -> list[str]:
        files = self.objects.get((project_id, from_job), {})
        self.objects[(project_id, to_job)] = dict(files)
        return sorted(files)

    def read(self, project_id: str, job_id: str) -> dict[str, str]:
        self.reads.append((project_id, job_id))
        return dict(self.objects.get((project_id, job_id), {}))

    def delete(self, project_id: str, job_id: str) -> None:
        self.objects.pop((project_id, job_id), None)


class FakeVariableStore(VariableStore):
    def __init__(self) -> None:
        self.versions: list[dict[str, Any]] = []

    def save(self, project_id: str, variables: dict[str, Any]) -> dict[str, str]:
        self.versions.append(dict(variables))
        return {"secretId": f"provisioner/{project_id}/variables", "versionId": str(len(self.versions))}

    def load(self, reference: dict[str, str]) -> dict[str, Any]:
        return dict(self.versions[int(reference["versionId"]) - 1])


class FakeStateReader(StateReader):
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def read(self, project_id: str) -> dict[str, Any] | None:
        return self.states.get(project_id)


class FakeArtifactReader(ArtifactReader):
    def __init__(self) -> None:
        self.plans: dict[tuple[str, str], dict[str, Any]] = {}
        self.reviews: dict[tuple[str, str], dict[str, Any]] = {}
        self.drift_plans: dict[tuple[str, str], dict[str, Any]] = {}

    def plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.plans.get((project_id, job_id)))

    def drift_plan(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.drift_plans.get((project_id, job_id)))

    def review(self, project_id: str, job_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.reviews.get((project_id, job_id)))

    def save_review(self, project_id: str, job_id: str, document: dict[str, Any]) -> str:
        self.reviews[(project_id, job_id)] = copy.deepcopy(document)
        return f"plans/{project_id}/{job_id}.review.json"

    def log(self, project_id: str, job_id: str, offset: int) -> tuple[bytes, int]:
        return b"", 0


class FailingStartWorkflow(FakeWorkflow):
    """A workflow that refuses to start executions (a bad state machine ARN, say)."""

    def start(self, job_id: str, payload: dict[str, Any]) -> str:
        raise WorkflowUnavailable("the workflow could not start (StateMachineDoesNotExist)")


class UnavailableWorkflow(FakeWorkflow):
    """A workflow whose reads fail, as Step Functions does when it is throttled past the retries."""

    def status(self, job_id: str) -> str | None:
        raise WorkflowUnavailable("the workflow could not be read (ThrottlingException)")


class UnlistableProjectStore(FakeProjectStore):
    """A project table that cannot be scanned (throttled, or a role without dynamodb:Scan)."""

    def locked(self) -> list[ProjectItem]:
        raise StoreUnavailable(
            "the project table is unavailable right now (AccessDeniedException); try again"
        )


@dataclass
class Fakes:
    projects: FakeProjectStore = field(default_factory=FakeProjectStore)
    jobs: FakeJobStore = field(default_factory=FakeJobStore)
    locks: FakeLockStore = field(default_factory=FakeLockStore)
    workflow: FakeWorkflow = field(default_factory=FakeWorkflow)
    builds: FakeBuildStatus = field(default_factory=FakeBuildStatus)
    code: FakeCodeStore = field(default_factory=FakeCodeStore)
    variables: FakeVariableStore = field(default_factory=FakeVariableStore)
    states: FakeStateReader = field(default_factory=FakeStateReader)
    artifacts: FakeArtifactReader = field(default_factory=FakeArtifactReader)
    # Defined below the other fakes; a lambda looks the class up when a Fakes is made.
    policies: FakePolicyStore = field(default_factory=lambda: FakePolicyStore())  # noqa: PLW0108

    def submit_stores(self, policy: PreflightPolicy | None = None) -> SubmitStores:
        return SubmitStores(
            jobs=self.jobs,
            projects=self.projects,
            code=self.code,
            variables=self.variables,
            workflow=self.workflow,
            run_timeout_seconds=600,
            policy=policy or PreflightPolicy(),
            locks=self.lock_services(),
            states=self.states,
            policies=self.policies,
        )

    def readers(self) -> ProjectReaders:
        return ProjectReaders(
            projects=self.projects,
            jobs=self.jobs,
            code=self.code,
            states=self.states,
            artifacts=self.artifacts,
            variables=self.variables,
            default_region="us-east-1",
        )

    def lock_services(self) -> LockServices:
        return LockServices(
            projects=self.projects,
            jobs=self.jobs,
            locks=self.locks,
            builds=self.builds,
            workflow=self.workflow,
            state_bucket=STATE_BUCKET,
        )


class FakePolicyStore(PolicyStore):
    """Heads and versions as DynamoDB holds them: a put is refused when the head moved."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], PolicyItem] = {}

    def _prefixed(self, scope: str, prefix: str) -> list[PolicyItem]:
        return [
            copy.deepcopy(item)
            for (item_scope, key), item in sorted(self.items.items())
            if item_scope == scope and key.startswith(prefix)
        ]

    def heads(self, scope: str) -> list[PolicyItem]:
        return self._prefixed(scope, "head#")

    def head(self, scope: str, name: str) -> PolicyItem | None:
        return copy.deepcopy(self.items.get((scope, head_key(name))))

    def version(self, scope: str, name: str, version: int) -> PolicyItem | None:
        return copy.deepcopy(self.items.get((scope, version_key(name, version))))

    def versions(self, scope: str, name: str) -> list[PolicyItem]:
        return self._prefixed(scope, f"version#{name}#")

    def put(self, item: PolicyItem) -> bool:
        scope, name, version = str(item["scope"]), str(item["name"]), int(item["version"])
        head = self.items.get((scope, head_key(name)))
        if (head is None and version != 1) or (head is not None and int(head["version"]) != version - 1):
            return False
        if (scope, version_key(name, version)) in self.items:
            return False
        self.items[(scope, version_key(name, version))] = {
            **copy.deepcopy(item),
            "policyKey": version_key(name, version),
        }
        self.items[(scope, head_key(name))] = {**copy.deepcopy(item), "policyKey": head_key(name)}
        return True


class FakeDriftSchedules(DriftSchedules):
    def __init__(self) -> None:
        self.schedules: dict[str, str] = {}
        self.writes = 0

    def get(self, project_id: str) -> DriftSchedule | None:
        expression = self.schedules.get(project_id)
        return None if expression is None else DriftSchedule(project_id, expression)

    def put(self, project_id: str, expression: str) -> None:
        self.schedules[project_id] = expression
        self.writes += 1

    def remove(self, project_id: str) -> None:
        self.schedules.pop(project_id, None)
        self.writes += 1


class FakeStateHistory(StateHistory):
    """A versioned state object per project, newest first; ``writes`` counts the service's own."""

    def __init__(self) -> None:
        self.versions: dict[str, list[StoredVersion]] = {}
        self.digests: dict[str, str] = {}
        self.locked: set[str] = set()
        self.fail_writes = False
        self._next = 0

    def add(self, project_id: str, document: dict[str, Any], metadata: dict[str, str] | None = None) -> str:
        """A version as terraform (or the service) writes it."""
        self._next += 1
        version_id = f"v{self._next}"
        body = json.dumps(document).encode()
        history = self.versions.setdefault(project_id, [])
        history[:] = [
            StoredVersion(v.version_id, v.last_modified, v.size, False, v.document, v.metadata)
            for v in history
        ]
        history.insert(
            0,
            StoredVersion(
                version_id, iso_now(), len(body), True, copy.deepcopy(document), dict(metadata or {})
            ),
        )
        return version_id

    def page(self, project_id: str, limit: int, token: str | None) -> tuple[list[StoredVersion], str | None]:
        start = int(token or 0)
        history = self.versions.get(project_id, [])
        following = str(start + limit) if start + limit < len(history) else None
        return list(history[start : start + limit]), following

    def all(self, project_id: str) -> Iterator[StoredVersion]:
        yield from list(self.versions.get(project_id, []))

    def current(self, project_id: str) -> StoredVersion | None:
        history = self.versions.get(project_id, [])
        return history[0] if history else None

    def write(self, project_id: str, body: bytes, metadata: dict[str, str]) -> str:
        if self.fail_writes:
            raise StoreUnavailable("the state bucket is unavailable right now (test); try again")
        self.digests[project_id] = md5_digest(body)
        return self.add(project_id, json.loads(body), metadata)

    def state_locked(self, project_id: str) -> bool:
        return project_id in self.locked


class FakeNotificationStore(NotificationStore):
    """The notifications table in memory: creations and claims are conditional, as in DynamoDB."""

    def __init__(self) -> None:
        self.subscription_items: dict[str, dict[str, Any]] = {}
        self.delivery_items: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: dict[str, str] = {}

    def put_subscription(self, item: dict[str, Any]) -> None:
        self.subscription_items[str(item["subscriptionId"])] = copy.deepcopy(item)

    def subscription(self, subscription_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.subscription_items.get(subscription_id))

    def subscriptions(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for item in self.subscription_items.values()]

    def delete_subscription(self, subscription_id: str) -> bool:
        return self.subscription_items.pop(subscription_id, None) is not None

    def create_delivery(self, item: dict[str, Any]) -> bool:
        key = (str(item["subscriptionId"]), str(item["eventId"]))
        if key in self.delivery_items:
            return False
        self.delivery_items[key] = copy.deepcopy(item)
        return True

    def delivery(self, subscription_id: str, event_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.delivery_items.get((subscription_id, event_id)))

    def deliveries(self, subscription_id: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(v) for (s, _), v in self.delivery_items.items() if s == subscription_id]

    def claim(self, subscription_id: str, event_id: str, attempts: int, now: int, lease_until: int) -> bool:
        item = self.delivery_items.get((subscription_id, event_id))
        if item is None or item.get("attempts") != attempts or item.get("status") != NOTIFY_PENDING:
            return False
        if "leaseUntil" in item and item["leaseUntil"] >= now:
            return False
        item["leaseUntil"] = lease_until
        return True

    def settle(
        self, subscription_id: str, event_id: str, attempts: int, fields: dict[str, Any], *, done: bool
    ) -> bool:
        item = self.delivery_items.get((subscription_id, event_id))
        if item is None or item.get("attempts") != attempts:
            return False
        item.update({k: v for k, v in fields.items() if v is not None})
        item["attempts"] = attempts + 1
        item.pop("leaseUntil", None)
        if done:
            item.pop(NOTIFY_PENDING, None)
            item.pop("nextAttemptAt", None)
        return True

    def due(self, now: int, limit: int = 100) -> list[tuple[str, str]]:
        due = [
            key
            for key, item in self.delivery_items.items()
            if item.get(NOTIFY_PENDING) and int(item.get("nextAttemptAt", 0)) <= now
        ]
        return due[:limit]

    def mark_event(self, event_id: str, now: str) -> bool:
        if event_id in self.events:
            return False
        self.events[event_id] = now
        return True

    def unmark_event(self, event_id: str) -> None:
        self.events.pop(event_id, None)


class FakeSigningSecrets(SigningSecrets):
    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.deleted: list[str] = []

    def save(self, subscription_id: str, secret: str) -> str:
        reference = f"arn:fake:secret:provisioner-notify/{subscription_id}"
        self.secrets[reference] = secret
        return reference

    def load(self, reference: str) -> str:
        return self.secrets[reference]

    def delete(self, reference: str) -> None:
        self.secrets.pop(reference, None)
        self.deleted.append(reference)
