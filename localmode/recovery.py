"""At start-up: close what the previous run left open. Nothing can still be running, so a job
that was pending or processing ended with the process, and its locks are stale."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Attr

from core.records import DeploymentStatus, JobStatus, iso_now
from localmode.emulator import ServiceResources, emulator_session

INTERRUPTED = "the local server stopped while this job ran; deploy again to continue"


@dataclass(frozen=True)
class Recovered:
    jobs: list[str]
    projects: list[str]


def recover(endpoint_url: str, resources: ServiceResources) -> Recovered:
    dynamodb = emulator_session(resources.region).resource("dynamodb", endpoint_url=endpoint_url)
    jobs = dynamodb.Table(resources.jobs_table)
    projects = dynamodb.Table(resources.projects_table)
    now = iso_now()
    failed: list[str] = []
    active = Attr("status").is_in([JobStatus.PENDING.value, JobStatus.PROCESSING.value])
    for page in _scan(jobs, active):
        for job in page:
            jobs.update_item(
                Key={"jobId": job["jobId"]},
                UpdateExpression="SET #status = :failed, #error = :error, resultMessage = :error, "
                "endTime = :now, updatedAt = :now",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": JobStatus.FAILED.value,
                    ":error": INTERRUPTED,
                    ":now": now,
                },
            )
            failed.append(str(job["jobId"]))
    released: list[str] = []
    for page in _scan(projects, Attr("activeJobId").exists()):
        for project in page:
            projects.update_item(
                Key={"projectId": project["projectId"]},
                UpdateExpression="SET deploymentStatus = :failed, lastUpdated = :now "
                "REMOVE activeJobId, activeAction",
                ExpressionAttributeValues={":failed": DeploymentStatus.FAILED.value, ":now": now},
            )
            released.append(str(project["projectId"]))
    return Recovered(failed, released)


def _scan(table: Any, condition: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    arguments: dict[str, Any] = {"FilterExpression": condition, "ConsistentRead": True}
    while True:
        page = table.scan(**arguments)
        pages.append(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return pages
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
