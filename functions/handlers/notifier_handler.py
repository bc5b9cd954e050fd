"""Lambda entry point of notifications, two triggers in one function:

- the jobs and projects tables' DynamoDB streams (NEW_AND_OLD_IMAGES): each record's events are
  derived and delivered; a record that fails is reported (ReportBatchItemFailures) so the stream
  retries from it, and the delivery records make that retry send nothing twice;
- a schedule (any event without ``Records``): the periodic pass over retries that are due.

It runs in Lambda only, never in the runner's build: no secret or subscription is reachable from
submitted terraform.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.dal.notifications import notification_store, signing_secrets
from functions.dal.webhooks import post, publish
from functions.logic.notify_delivery import Notifier, Outcome, SystemClock
from functions.logic.notify_events import Event, events_from_record
from functions.logic.notify_urls import check_url
from functions.models.env_vars import NotifierEnv
from functions.utils.env import environment, init_environment_variables
from functions.utils.observability import logger, metrics, tracer

ENVIRONMENT = NotifierEnv


def _send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Outcome:
    status, error = post(url, body, headers, timeout)
    return Outcome(error is None, status_code=status, error=error)


@cache
def notifier() -> Notifier:
    env = environment(ENVIRONMENT)
    topic = env.NOTIFICATIONS_TOPIC_ARN

    def publisher(event: Event) -> None:
        if topic:
            publish(topic, event.payload())

    return Notifier(
        notification_store(env.NOTIFICATIONS_TABLE),
        signing_secrets(env.SECRETS_KMS_KEY_ID),
        _send,
        SystemClock(),
        url_check=lambda url: check_url(url, allow_loopback_http=env.NOTIFY_ALLOW_LOOPBACK_HTTP),
        publisher=publisher if topic else None,
    )


def table_of(record: dict[str, Any], env: NotifierEnv) -> str | None:
    """Which table a stream record comes from: its source ARN is ``...:table/<name>/stream/<label>``."""
    arn = str(record.get("eventSourceARN") or "")
    name = arn.split(":table/", 1)[-1].split("/stream/", 1)[0] if ":table/" in arn else ""
    return {env.JOBS_TABLE: "jobs", env.PROJECTS_TABLE: "projects"}.get(name)


def handle_stream(event: dict[str, Any]) -> dict[str, Any]:
    env = environment(ENVIRONMENT)
    failures: list[dict[str, str]] = []
    sent = 0
    for record in event.get("Records") or []:
        table = table_of(record, env)
        if table is None:
            logger.warning("stream record from an unknown table", source=record.get("eventSourceARN"))
            continue
        try:
            sent += notifier().notify(events_from_record(record, table))
        except Exception:
            logger.exception("notification of a stream record failed", event_id=record.get("eventID"))
            # The stream retries from the first failure on; later records wait behind it.
            failures.append({"itemIdentifier": str((record.get("dynamodb") or {}).get("SequenceNumber", ""))})
            break
    metrics.add_metric(name="NotificationDeliveriesCreated", unit=MetricUnit.Count, value=sent)
    return {"batchItemFailures": failures}


def retry_pass() -> dict[str, Any]:
    retried = notifier().retry_due()
    metrics.add_metric(name="NotificationRetries", unit=MetricUnit.Count, value=retried)
    return {"retried": retried}


@init_environment_variables(model=ENVIRONMENT)
@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return handle_stream(event)
    return retry_pass()
