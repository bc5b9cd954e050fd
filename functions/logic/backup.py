"""Backup and restore of a project: its code, variables reference, state history and latest state.

The state holds secrets, so it leaves the API only sealed with the caller's passphrase
(functions/utils/sealing.py); everything else in the bundle is what the read routes show anyway.
A restore writes into a project with no state only, under the project lock, and leaves it
deployable: the same code then plans no changes against the restored state.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.records import DeploymentStatus, epoch_ms, iso_now, stored_json
from core.requests import CodeRequest
from core.responses import BackupOut, RestoreOut
from core.state_versions import encode, facts, summary, writer_metadata
from functions.dal.objects import CodeStore
from functions.logic.projects import require_project
from functions.logic.state_history import HistoryStores, describe, jobs_by_version
from functions.models.exceptions import InvalidRequest, NothingToShow, RestoreRefused
from functions.utils.sealing import seal, unseal

# The history travels as metadata (for the record); only the latest state is restored.
MAX_HISTORY = 1000
RESTORE_ACTION = "restore"


@dataclass(frozen=True)
class BackupStores:
    history: HistoryStores
    code: CodeStore


def export_project(stores: BackupStores, project_id: str, passphrase: str, *, by: str) -> BackupOut:
    projects, history = stores.history.projects, stores.history.history
    project = require_project(projects, project_id)
    current = history.current(project_id)
    if current is None:
        raise NothingToShow(f"project {project_id} has no terraform state to back up")
    code_job = str(project.get("codeJobId") or "")
    files = stores.code.read(project_id, code_job) if code_job else {}
    jobs = jobs_by_version(stores.history.jobs, project_id)
    versions = []
    for version in history.all(project_id):
        versions.append(describe(version, jobs))
        if len(versions) >= MAX_HISTORY:
            break
    body = encode(current.document)
    found = facts(current.document)
    paths = stored_json(project.get("sensitivePathsJson"), {})
    outputs = stored_json(project.get("outputsJson"), {})
    reference = project.get("variablesRef")
    return BackupOut(
        projectId=project_id,
        exportedAt=iso_now(),
        exportedBy=by,
        code={"jobId": code_job or None, "files": files},
        variablesRef=dict(reference) if isinstance(reference, dict) else None,
        outputs=outputs if isinstance(outputs, dict) else {},
        sensitivePaths=paths if isinstance(paths, dict) else {},
        history=versions,
        state={
            "serial": found.serial,
            "lineage": found.lineage,
            "sha256": hashlib.sha256(body).hexdigest(),
            "sealed": seal(body, passphrase),
        },
    )


def _opened(bundle: dict[str, Any], passphrase: str) -> tuple[BackupOut, dict[str, Any], dict[str, str]]:
    """The bundle, its state document and its code files, each checked before anything is written."""
    try:
        backup = BackupOut.model_validate(bundle)
    except ValidationError as exc:
        raise InvalidRequest(
            f"the bundle is not a backup this API made: {exc.errors()[0]['msg']}", "bundle"
        ) from exc
    plaintext = unseal(backup.state.get("sealed"), passphrase)
    if hashlib.sha256(plaintext).hexdigest() != backup.state.get("sha256"):
        raise InvalidRequest("the bundle's state does not match its checksum", "bundle")
    document = json.loads(plaintext)
    if not isinstance(document, dict) or not document.get("lineage"):
        raise InvalidRequest("the bundle's state is not a terraform state", "bundle")
    files = backup.code.get("files") or {}
    if not isinstance(files, dict) or not files:
        raise InvalidRequest("the bundle has no code", "bundle")
    try:
        # The same checks a deploy's files get: relative paths, text only, the size limits.
        CodeRequest.model_validate({"projectId": "restore", "files": files})
    except ValidationError as exc:
        raise InvalidRequest(f"the bundle's code is refused: {exc.errors()[0]['msg']}", "bundle") from exc
    return backup, document, {str(k): str(v) for k, v in files.items()}


def restore_project(
    stores: BackupStores, project_id: str, bundle: dict[str, Any], passphrase: str, *, by: str
) -> RestoreOut:
    backup, document, files = _opened(bundle, passphrase)
    projects, history = stores.history.projects, stores.history.history
    now = iso_now()
    restore_id = f"{RESTORE_ACTION}-{epoch_ms()}-{secrets.token_hex(5)}"
    projects.acquire(project_id, restore_id, {"activeAction": RESTORE_ACTION, "lastUpdated": now})
    try:
        if history.current(project_id) is not None:
            raise RestoreRefused(
                f"project {project_id} already has terraform state; a restore never overwrites one "
                "(restore under a new project id, or destroy this one first)"
            )
        if history.state_locked(project_id):
            raise RestoreRefused(f"project {project_id}'s terraform state is locked")
        stores.code.put(project_id, restore_id, files)
        found = facts(document)
        metadata = writer_metadata(
            by=by,
            writer=RESTORE_ACTION,
            reason=f"restored from project {backup.projectId}'s backup of {backup.exportedAt}",
            from_serial=found.serial,
            at=now,
            writer_id=restore_id,
        )
        version_id = history.write(project_id, encode(document), metadata)
        projects.update(
            project_id,
            {
                "codeJobId": restore_id,
                "deploymentStatus": DeploymentStatus.DEPLOYED.value,
                "outputsJson": json.dumps(backup.outputs),
                "sensitivePathsJson": json.dumps(backup.sensitivePaths),
                "stateSummary": summary(document),
                "lastRestore": {
                    "restoreId": restore_id,
                    "sourceProjectId": backup.projectId,
                    "exportedAt": backup.exportedAt,
                    "serial": found.serial,
                    "versionId": version_id,
                    "by": by,
                    "at": now,
                },
            },
        )
    finally:
        projects.release(project_id, restore_id)
    return RestoreOut(
        projectId=project_id,
        restoreId=restore_id,
        sourceProjectId=backup.projectId,
        serial=found.serial,
        lineage=found.lineage,
        versionId=version_id,
        files=sorted(files),
        restoredBy=by,
        message=f"Project {backup.projectId}'s state (serial {found.serial}) and code restored into "
        f"{project_id}; its variables are not in the bundle: give them with the next deploy",
    )
