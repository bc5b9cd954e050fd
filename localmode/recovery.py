"""At start-up: close what the previous run left open. Nothing can still be running, so a job
that was pending or processing ended with the process, and its locks are stale."""

from __future__ import annotations

from dataclasses import dataclass

from boto3.dynamodb.conditions import Attr

from core.records import DeploymentStatus, Phase, iso_now
from core.transitions import ACTIVE, job_failed, project_queue_replaced, project_released
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
    active = aws.scan_all(jobs, "the job table", FilterExpression=Attr("status").is_in(list(ACTIVE)))
    failed = [
        str(job["jobId"])
        for job in active
        if aws.apply(jobs, job_failed(str(job["jobId"]), now, INTERRUPTED), "the job table")
    ]
    unapplied = {str(job["jobId"]): job.get("previousProject") for job in active if _applied_nothing(job)}
    failed_status = {"deploymentStatus": DeploymentStatus.FAILED.value}
    released = []
    for project in aws.scan_all(
        projects,
        "the project table",
        FilterExpression=Attr("activeJobId").exists() | Attr("queue").exists(),
    ):
        project_id, holder = str(project["projectId"]), project.get("activeJobId")
        queue = [str(job) for job in project.get("queue") or []]
        if queue:
            # Every queued job ended with the server: none of them may hold the next turn.
            aws.apply(projects, project_queue_replaced(project_id, queue, []), "the project table")
        if not holder:
            continue
        # A job that waited (for its turn, or for approval) applied nothing: the project is as it was.
        previous = unapplied.get(str(holder))
        restore = dict(previous) if isinstance(previous, dict) and previous else failed_status
        if aws.apply(projects, project_released(project_id, str(holder), now, restore), "the project table"):
            released.append(project_id)
    return Recovered(failed, released)


def _applied_nothing(job: dict[str, object]) -> bool:
    return job.get("phase") in (Phase.QUEUED.value, Phase.AWAITING_APPROVAL.value)
