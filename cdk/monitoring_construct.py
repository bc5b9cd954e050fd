"""Alarms an operator acts on, published to one encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk import constants

PERIOD = Duration.minutes(5)


class MonitoringConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        api: apigw.RestApi,
        access_logs: logs.ILogGroup,
        functions: Sequence[lambda_.Function],
        state_machine: sfn.StateMachine,
        runner: codebuild.Project,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(
            self, "Alarms", display_name="Terraform provisioner alarms", master_key=key, enforce_ssl=True
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

        self._alarm(
            "FailedExecutions", state_machine.metric_failed(period=PERIOD), "A provisioning workflow failed"
        )
        self._alarm(
            "TimedOutExecutions",
            state_machine.metric_timed_out(period=PERIOD),
            "A provisioning workflow timed out",
        )
        self._alarm(
            "RunnerBuildFailures", runner.metric_failed_builds(period=PERIOD), "A runner build failed"
        )
        self._alarm("Api5xx", api.metric_server_error(period=PERIOD, statistic="Sum"), "The API answered 5xx")
        # API Gateway has no throttle metric: its access log records each 429.
        throttled = logs.MetricFilter(
            self,
            "ApiThrottledFilter",
            log_group=access_logs,
            metric_namespace=constants.METRICS_NAMESPACE,
            metric_name="ApiThrottled",
            filter_pattern=logs.FilterPattern.string_value("$.status", "=", "429"),
            metric_value="1",
            default_value=0,
        )
        self._alarm(
            "ApiThrottles",
            throttled.metric(period=PERIOD, statistic="Sum"),
            "The API throttled requests (429)",
        )
        for function in functions:
            name = function.node.id
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=PERIOD),
                f"The {name} function was throttled",
            )
            self._alarm(f"{name}Errors", function.metric_errors(period=PERIOD), f"The {name} function failed")

    def _alarm(self, id_: str, metric: cloudwatch.IMetric, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
