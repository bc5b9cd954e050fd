"""Starting a drift check from a function that does not start workflows itself (the rollback's):
an asynchronous invoke of the drift function, which starts checks for the schedules too. In local
mode the emulator's Lambda runs that function's handler in process (localmode/compat.py)."""

from __future__ import annotations

import json
from functools import cache

from botocore.exceptions import BotoCoreError, ClientError

from functions.dal import aws

WHAT = "the drift function"


class DriftTrigger:
    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self.client = aws.lambda_client()

    def start(self, project_id: str, *, trigger: str, caller: str) -> None:
        payload = {"projectId": project_id, "trigger": trigger, "caller": caller}
        try:
            self.client.invoke(
                FunctionName=self.function_arn, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except (ClientError, BotoCoreError) as exc:
            raise aws.unavailable(WHAT, exc) from exc


@cache
def drift_trigger(function_arn: str) -> DriftTrigger:
    return DriftTrigger(function_arn)
