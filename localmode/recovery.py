"""At start-up: close what the previous run left open. Nothing can still be running, so a job
that was pending or processing ended with the process, and its locks are stale."""

from __future__ import annotations

from dataclasses import dataclass

from boto3.dynamodb.conditions import Attr

from core.records import DeploymentStatus, iso_now
from core.transitions import ACTIVE, job_failed, project_released
from functions.dal import aws
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
    failed = [
        str(job["jobId"])
        for job in aws.scan_all(jobs, "the job table", FilterExpression=Attr("status").is_in(list(ACTIVE)))
        if aws.apply(jobs, job_failed(str(job["jobId"]), now, INTERRUPTED), "the job table")
    ]
    failed_status = {"deploymentStatus": DeploymentStatus.FAILED.value}
    released = [
        str(project["projectId"])
        for project in aws.scan_all(
            projects, "the project table", FilterExpression=Attr("activeJobId").exists()
        )
        if aws.apply(
            projects,
            project_released(str(project["projectId"]), str(project["activeJobId"]), now, failed_status),
            "the project table",
        )
    ]
    return Recovered(failed, released)
