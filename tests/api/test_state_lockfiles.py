"""Terraform 1.10+'s lock files through the real handlers on the emulator: the reaper and an
operator's unlock clear a stale one, and one unlock clears both kinds."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from core.records import state_lock_id, state_lockfile_key
from functions.handlers.reaper_handler import lambda_handler as reaper
from localmode.gateway import LocalContext, local_user
from tests.support.api import Api

CALLER = f"arn:aws:iam::000000000000:user/{local_user()}"
LONG_AGO = "2023-11-14T22:13:20.123456789Z"  # a dead run's lock: no job of the project started before


def take_lockfile(api: Api, project: str, lock_uuid: str) -> str:
    """A lock file as terraform 1.11 writes it (If-None-Match: *); returns its lock ID."""
    bucket = api.emulated.resources.state_bucket
    info = {
        "ID": lock_uuid,
        "Operation": "OperationTypeApply",
        "Info": "",
        "Who": "root@build",
        "Version": "1.11.4",
        "Created": LONG_AGO,
        "Path": state_lock_id(bucket, project),
    }
    api.emulated.client("s3").put_object(
        Bucket=bucket, Key=state_lockfile_key(project), Body=json.dumps(info).encode(), IfNoneMatch="*"
    )
    return f"{bucket}/{state_lockfile_key(project)}"


def lockfile_held(api: Api, project: str) -> bool:
    try:
        api.emulated.client("s3").head_object(
            Bucket=api.emulated.resources.state_bucket, Key=state_lockfile_key(project)
        )
    except ClientError:
        return False
    return True


def test_the_reaper_clears_a_stale_lock_file(api: Api) -> None:
    # Given a lock file a dead run left (no job of the project was running when it was taken)
    project = "api-lockfile-reaped"
    lock_id = take_lockfile(api, project, "dead-run")

    # When the scheduled reaper runs
    report = reaper({}, LocalContext(function_name="reaper_handler"))

    # Then the lock file is cleared and the project records it
    assert lock_id in report["clearedLocks"], report
    assert not lockfile_held(api, project)
    record = api.emulated.project(project)["lastUnlock"]
    assert (record["lockId"], record["clearedBy"], record["lockOwnerJobId"]) == ("dead-run", "reaper", None)


def test_an_operator_clears_a_stale_lock_file_and_both_kinds_at_once(api: Api) -> None:
    # Given a lock file and a lock item (a 1.11 job that met an old lock item took both, and died)
    project = "api-lockfile-unlock"
    take_lockfile(api, project, "file-lock")
    item = {"ID": "item-lock", "Operation": "OperationTypeApply", "Created": LONG_AGO}
    locks = api.emulated.table(api.emulated.resources.lock_table)
    locks.put_item(
        Item={"LockID": state_lock_id(api.emulated.resources.state_bucket, project), "Info": json.dumps(item)}
    )

    # When an operator clears the state lock
    response = api.post(f"/api/admin/unlock/{project}", {"reason": "dead runner"})

    # Then both are gone, the answer names the lock file's lock, and who cleared it is recorded
    assert response.status == 200, response.body
    body = response.json()
    assert (body["cleared"], body["lockId"], body["clearedBy"]) == (True, "file-lock", CALLER)
    assert not lockfile_held(api, project)
    assert "Item" not in locks.get_item(
        Key={"LockID": state_lock_id(api.emulated.resources.state_bucket, project)}
    )
    assert api.emulated.project(project)["lastUnlock"]["reason"] == "dead runner"

    # and asked again, there is nothing to clear
    again = api.post(f"/api/admin/unlock/{project}", {"reason": "again"})
    assert again.status == 404, again.body
