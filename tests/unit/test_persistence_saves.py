"""Local mode's data directory saves only what changed: the buckets written since the last save
(every bucket when a write cannot be placed), and no file whose content is the same again."""

from __future__ import annotations

import uuid
from pathlib import Path

from localmode.persistence import DataDirectory
from tests.support.jobs import Emulated


def _saved(root: Path, bucket: str, key: str) -> Path:
    return root / "buckets" / bucket / key


def test_a_save_lists_only_the_buckets_written_and_rewrites_nothing_unchanged(
    emulated: Emulated, tmp_path: Path
) -> None:
    resources = emulated.resources
    s3 = emulated.client("s3")
    data = DataDirectory(tmp_path, emulated.endpoint_url, resources)
    data.save()  # the first save lists every bucket
    jobs_file = tmp_path / "tables" / f"{resources.jobs_table}.json"
    first_write = jobs_file.stat().st_mtime_ns

    # Given a write to the workspaces bucket the emulator reported, and one to the logs bucket it did not
    workspace_key, log_key = f"persistence/{uuid.uuid4().hex}.zip", f"persistence/{uuid.uuid4().hex}.log"
    s3.put_object(Bucket=resources.workspaces_bucket, Key=workspace_key, Body=b"code")
    data.on_write("PUT", f"/{resources.workspaces_bucket}/{workspace_key}")
    s3.put_object(Bucket=resources.logs_bucket, Key=log_key, Body=b"log")
    data.save()
    # Then the reported bucket's object is saved, the other bucket was not listed again
    assert _saved(tmp_path, resources.workspaces_bucket, workspace_key).read_bytes() == b"code"
    assert not _saved(tmp_path, resources.logs_bucket, log_key).exists()
    # and a table whose items did not change was not written again
    assert jobs_file.stat().st_mtime_ns == first_write

    # When a write cannot be placed (not a path-style request to one of the service's buckets)
    data.on_write("POST", "/2015-03-31/functions/x/invocations")
    data.save()
    # Then every bucket is listed, and the missed object is saved after all
    assert _saved(tmp_path, resources.logs_bucket, log_key).read_bytes() == b"log"


def test_a_changed_table_is_written_again(emulated: Emulated, tmp_path: Path) -> None:
    resources = emulated.resources
    data = DataDirectory(tmp_path, emulated.endpoint_url, resources)
    data.save()
    jobs_file = tmp_path / "tables" / f"{resources.jobs_table}.json"
    before = jobs_file.read_text()
    job_id = f"persistence-{uuid.uuid4().hex}"
    emulated.table(resources.jobs_table).put_item(Item={"jobId": job_id, "projectId": "persistence"})
    data.on_write("POST", "PutItem")
    data.save()
    after = jobs_file.read_text()
    assert job_id not in before and job_id in after
