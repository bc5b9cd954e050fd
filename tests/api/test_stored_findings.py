"""GET validate through the real handlers on the emulator: it answers from the findings kept at
submit, and parses code submitted before they were kept."""

from __future__ import annotations

from tests.support.api import Api

# Two undeclared references: accepted at submit, reported by validate.
CODE = 'resource "aws_s3_bucket" "b" {\n  bucket = var.name\n  tags   = local.tags\n}\n'


def deploy(api: Api, project: str) -> str:
    response = api.post("/api/deploy", {"projectId": project, "iacCode": CODE})
    assert response.status == 202, response.body
    return str(response.json()["jobId"])


def delete_code(api: Api, project: str, job_id: str) -> None:
    s3 = api.emulated.client("s3")
    bucket = api.emulated.resources.workspaces_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"workspaces/{project}/{job_id}/")
    for entry in listed.get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=entry["Key"])


def errors(api: Api, project: str) -> list[tuple[str, int]]:
    response = api.get(f"/api/deploy/validate/{project}")
    assert response.status == 200, response.body
    return [(e["check"], e["line"]) for e in response.json()["errors"]]


def test_validate_answers_from_the_findings_kept_at_submit(api: Api) -> None:
    project = "api-kept-findings"
    job_id = deploy(api, project)
    kept = api.emulated.project(project)["staticFindings"]
    assert kept["codeJobId"] == job_id and int(kept["count"]) == 2
    # Without its code in S3, validate still knows: it read the record, it did not parse
    delete_code(api, project, job_id)
    assert errors(api, project) == [("references", 2), ("references", 3)]
    assert api.post(f"/api/deploy/cancel/{job_id}").status == 202


def test_code_submitted_before_findings_were_kept_is_parsed(api: Api) -> None:
    project = "api-legacy-findings"
    job_id = deploy(api, project)
    # As a record written by the previous version: no kept findings
    api.emulated.table(api.emulated.resources.projects_table).update_item(
        Key={"projectId": project}, UpdateExpression="REMOVE staticFindings"
    )
    assert errors(api, project) == [("references", 2), ("references", 3)]
    # and it is the code in S3 that it parsed: without it there is nothing to find
    delete_code(api, project, job_id)
    assert errors(api, project) == []
    assert api.post(f"/api/deploy/cancel/{job_id}").status == 202
