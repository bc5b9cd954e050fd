"""Managing policies: each upload a new version (never an edit in place), per install or per
project. A project's policies add to the install's and never relax them: both are checked, each
reported on its own, so a project cannot lower an install's mandatory policy to advisory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from core.records import iso_now
from core.requests import PolicyDryRunRequest, PolicyRequest
from core.responses import BuiltinPolicyOut, DryRunOut, PolicyListOut, PolicyOut, PolicyVersionsOut
from functions.dal.jobs import JobStore
from functions.dal.objects import ArtifactReader
from functions.dal.policies import INSTALL_SCOPE, PolicyItem, PolicyStore, project_scope
from functions.logic.review import plan_cost
from functions.models.exceptions import (
    InvalidPolicy,
    JobNotFound,
    PlanNotReady,
    PolicyConflict,
    PolicyNotFound,
)
from policy.builtins import BUILTINS, parse_settings
from policy.engine import Policy, check_plan, policy_digest
from policy.model import Level, PolicyContext, PolicyError
from policy.rego import compile_policy


def scope_of(project_id: str | None) -> str:
    return project_scope(project_id) if project_id else INSTALL_SCOPE


def _settings(item: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = item.get("settingsJson")
    return cast("dict[str, Any]", json.loads(str(raw))) if raw else None


def as_policy(item: Mapping[str, Any]) -> Policy:
    project_id = item.get("projectId")
    return Policy(
        name=str(item["name"]),
        scope="project" if project_id else "install",
        kind="builtin" if item.get("kind") == "builtin" else "rego",
        level=Level(str(item.get("level", "off"))),
        version=int(item.get("version", 1)),
        settings=_settings(item),
        source=str(item["source"]) if item.get("source") else None,
        syntax="v0" if item.get("syntax") == "v0" else "v1",
        project_id=str(project_id) if project_id else None,
    )


def policy_out(item: Mapping[str, Any], *, with_source: bool = True) -> PolicyOut:
    policy = as_policy(item)
    return PolicyOut(
        name=policy.name,
        scope="project" if policy.project_id else "install",
        projectId=policy.project_id,
        kind=policy.kind,
        level=policy.level.value,
        version=policy.version,
        hash=str(item.get("hash") or policy.digest),
        description=str(item.get("description") or ""),
        settings=policy.settings,
        rego=policy.source if with_source else None,
        syntax=policy.syntax,
        package=item.get("package"),
        deleted=bool(item.get("deleted")),
        updatedBy=item.get("updatedBy"),
        updatedAt=item.get("updatedAt"),
    )


def builtin_catalogue() -> list[BuiltinPolicyOut]:
    return [
        BuiltinPolicyOut(
            name=b.name, description=b.description, defaults=b.settings().model_dump(mode="json")
        )
        for b in BUILTINS.values()
    ]


def list_policies(store: PolicyStore, project_id: str | None) -> PolicyListOut:
    items = store.heads(INSTALL_SCOPE) + (store.heads(project_scope(project_id)) if project_id else [])
    return PolicyListOut(
        projectId=project_id,
        policies=[policy_out(item, with_source=False) for item in items if not item.get("deleted")],
        builtins=builtin_catalogue(),
    )


def get_policy(store: PolicyStore, name: str, project_id: str | None, version: int | None) -> PolicyOut:
    scope = scope_of(project_id)
    item = store.version(scope, name, version) if version else store.head(scope, name)
    if item is None or (version is None and item.get("deleted")):
        where = f"project {project_id}" if project_id else "the install"
        raise PolicyNotFound(f"{where} has no policy {name!r}" + (f" version {version}" if version else ""))
    return policy_out(item)


def policy_versions(store: PolicyStore, name: str, project_id: str | None) -> PolicyVersionsOut:
    items = store.versions(scope_of(project_id), name)
    if not items:
        raise PolicyNotFound(f"no policy {name!r} has been stored")
    return PolicyVersionsOut(
        name=name,
        scope="project" if project_id else "install",
        projectId=project_id,
        versions=[policy_out(item, with_source=False) for item in items],
    )


def validated(name: str, request: PolicyRequest) -> dict[str, Any]:
    """The fields of a new version, once its settings or its Rego are known to be sound."""
    if name in BUILTINS:
        if request.rego is not None:
            raise InvalidPolicy(f"{name} is a built-in policy: it takes settings, not rego")
        try:
            settings = parse_settings(name, request.settings).model_dump(mode="json")
        except PolicyError as exc:
            raise InvalidPolicy(f"{name}: {exc.message}") from exc
        return {"kind": "builtin", "settingsJson": json.dumps(settings, sort_keys=True), "settings": settings}
    if request.rego is None or not request.rego.strip():
        builtins = ", ".join(BUILTINS)
        raise InvalidPolicy(
            f"policy {name!r} needs rego (a Rego module); the built-in policies are {builtins}"
        )
    if request.settings:
        raise InvalidPolicy(f"policy {name!r} is Rego: settings belong to the built-in policies")
    try:
        package = compile_policy(request.rego, request.syntax)
    except PolicyError as exc:
        raise InvalidPolicy(f"policy {name!r} does not compile: {exc.message}", exc.line, exc.column) from exc
    return {"kind": "rego", "source": request.rego, "syntax": request.syntax, "package": package}


def put_policy(store: PolicyStore, name: str, request: PolicyRequest, by: str) -> tuple[PolicyOut, bool]:
    """Store a new version; (the policy, whether it is the first version)."""
    fields = validated(name, request)
    settings = fields.pop("settings", None)
    return _store_version(
        store,
        name,
        request.projectId,
        by,
        fields={**fields, "level": request.level},
        settings=settings,
        description=request.description,
    )


def delete_policy(store: PolicyStore, name: str, project_id: str | None, by: str) -> PolicyOut:
    """A deletion is a version of its own (level off, marked deleted): the history stays whole."""
    head = store.head(scope_of(project_id), name)
    if head is None or head.get("deleted"):
        raise PolicyNotFound(f"no policy {name!r} to delete")
    fields: dict[str, Any] = {
        key: head[key] for key in ("kind", "settingsJson", "source", "syntax", "package") if key in head
    }
    out, _ = _store_version(
        store,
        name,
        project_id,
        by,
        fields={**fields, "level": "off", "deleted": True},
        settings=_settings(head),
        description=str(head.get("description") or ""),
    )
    return out


def _store_version(
    store: PolicyStore,
    name: str,
    project_id: str | None,
    by: str,
    *,
    fields: dict[str, Any],
    settings: Mapping[str, Any] | None,
    description: str,
) -> tuple[PolicyOut, bool]:
    scope = scope_of(project_id)
    head = store.head(scope, name)
    version = int(head["version"]) + 1 if head else 1
    item: PolicyItem = {
        **fields,
        "scope": scope,
        "name": name,
        "version": version,
        "description": description,
        "hash": policy_digest(
            str(fields["kind"]),
            str(fields["level"]),
            settings,
            fields.get("source"),
            str(fields.get("syntax", "v1")),
        ),
        "updatedBy": by,
        "updatedAt": iso_now(),
        **({"projectId": project_id} if project_id else {}),
    }
    if not store.put(item):
        raise PolicyConflict(f"policy {name!r} was changed at the same moment; read it and try again")
    return policy_out(item), version == 1


def policy_set(store: PolicyStore, project_id: str) -> list[PolicyItem]:
    """The policies a job of the project is checked against: the install's and the project's."""
    items = store.heads(INSTALL_SCOPE) + store.heads(project_scope(project_id))
    return [item for item in items if not item.get("deleted") and item.get("level", "off") != "off"]


def snapshot(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a job records at submit: exactly which versions it will be checked against."""
    return [
        {"scope": str(item["scope"]), "name": str(item["name"]), "version": int(item["version"])}
        for item in items
    ]


def load_snapshot(store: PolicyStore, refs: Sequence[Mapping[str, Any]]) -> list[Policy]:
    """The versions a job was submitted under; a version gone missing fails the check closed."""
    policies: list[Policy] = []
    for ref in refs:
        item = store.version(str(ref["scope"]), str(ref["name"]), int(ref["version"]))
        if item is None:
            raise PolicyError(f"policy {ref['name']} version {ref['version']} is no longer stored")
        policies.append(as_policy(item))
    return policies


def dry_run(
    store: PolicyStore,
    jobs: JobStore,
    artifacts: ArtifactReader,
    request: PolicyDryRunRequest,
    *,
    caller: str,
    default_region: str,
) -> DryRunOut:
    """Evaluate a policy (given inline, or stored) or the project's whole set against a stored
    plan, and store nothing: how a policy is tried before it is enforced."""
    job = jobs.get(request.planJobId)
    if job is None:
        raise JobNotFound(f"no job {request.planJobId}")
    project_id = str(job["projectId"])
    plan = artifacts.plan(project_id, request.planJobId)
    if plan is None:
        raise PlanNotReady(f"job {request.planJobId} has no stored plan (status {job.get('status')})")
    policies = _dry_run_policies(store, project_id, request)
    cost = job.get("planCost")
    context = PolicyContext(
        project_id=project_id,
        caller=request.caller or caller,
        action=str(job.get("action", "deploy")),
        cost=dict(cost) if isinstance(cost, dict) else plan_cost(plan, default_region),
        default_region=default_region,
        allow_destroy=bool(job.get("allowDestroy")),
        speculative=job.get("action") == "plan",
        # As the plan's own check read its code; a plan never checked is read with constants alone.
        bare_references=bool((job.get("policyCheck") or {}).get("bareReferences")),
    )
    check = check_plan(policies, plan, context).as_dict()
    return DryRunOut.model_validate({**check, "evaluatedAt": iso_now(), "planJobId": request.planJobId})


def _dry_run_policies(store: PolicyStore, project_id: str, request: PolicyDryRunRequest) -> list[Policy]:
    if request.rego is not None or (request.name in BUILTINS and request.settings is not None):
        name = request.name or "dry-run"
        fields = validated(
            name,
            PolicyRequest(
                level=request.level, rego=request.rego, syntax=request.syntax, settings=request.settings
            ),
        )
        return [
            Policy(
                name=name,
                scope="project",
                kind=fields["kind"],
                level=Level(request.level),
                settings=fields.get("settings"),
                source=fields.get("source"),
                syntax=request.syntax,
                project_id=project_id,
            )
        ]
    if request.name is not None:
        scope_project = project_id if request.scope == "project" else None
        scope = scope_of(scope_project)
        item = (
            store.version(scope, request.name, request.version)
            if request.version
            else store.head(scope, request.name)
        )
        if item is None:
            raise PolicyNotFound(f"no {request.scope} policy {request.name!r} to try")
        # Tried at the level asked for: a policy stored off can be tried before it is turned on.
        return [replace(as_policy(item), level=Level(request.level))]
    return [as_policy(item) for item in policy_set(store, project_id)]
