"""CodeBuild: whether a job's build (and so its terraform process) is still running."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from functions.dal import aws

if TYPE_CHECKING:
    from mypy_boto3_codebuild.client import CodeBuildClient


class BuildStatus(ABC):
    @abstractmethod
    def status(self, build_id: str) -> str | None:
        """IN_PROGRESS, SUCCEEDED, FAILED, FAULT, STOPPED, TIMED_OUT; None if CodeBuild has no such build."""


class CodeBuildStatus(BuildStatus):
    def __init__(self) -> None:
        self.client: CodeBuildClient = boto3.client("codebuild", config=aws.CLIENT_CONFIG)

    def status(self, build_id: str) -> str | None:
        try:
            builds = self.client.batch_get_builds(ids=[build_id]).get("builds", [])
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable("CodeBuild", exc) from exc
        return str(builds[0]["buildStatus"]) if builds else None


@cache
def build_status() -> BuildStatus:
    return CodeBuildStatus()
