"""Monitoring, keys and secrets, messaging and streaming."""

from __future__ import annotations

import math

from cost.attrs import blocks, first_block, number, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH, Component


def cloudwatch_log_group(bill: Bill) -> None:
    bill.usage("Data ingested", "logs:ingest", "monthly_data_ingested_gb", "GB")
    bill.usage("Archival storage", "logs:storage", "storage_gb", "GB-months")
    bill.usage("Insights queries data scanned", "logs:insights", "monthly_data_scanned_gb", "GB")


def cloudwatch_metric_alarm(bill: Bill) -> None:
    attrs = bill.attrs
    queries = blocks(attrs, "metric_query")
    metrics = float(sum(1 for q in queries if blocks(q, "metric"))) or 1.0
    period = number(attrs, "period")
    if period is None and queries:
        period = number(first_block(queries[0], "metric"), "period")
    high = period is not None and period < 60
    bill.fixed(
        f"{'High' if high else 'Standard'} resolution alarm ({metrics:g} metrics)",
        "cloudwatch:alarm:high" if high else "cloudwatch:alarm:standard",
        metrics,
        "alarm metrics",
    )


def cloudwatch_dashboard(bill: Bill) -> None:
    bill.fixed("Dashboard", "cloudwatch:dashboard", 1.0, "months")


def kms_key(bill: Bill) -> None:
    bill.fixed("Customer managed key", "kms:key", 1.0, "months")
    bill.usage("Requests", "kms:requests", "monthly_requests", "10k requests", 1e-4)


def secretsmanager_secret(bill: Bill) -> None:
    bill.fixed("Secret", "secretsmanager:secret", 1.0, "months")
    bill.usage("API requests", "secretsmanager:requests", "monthly_requests", "10k requests", 1e-4)


def _chunks(bill: Bill, step_kb: float = 64.0) -> float:
    """SQS and SNS bill each 64 KB of a payload as one request (Infracost's request_size_kb)."""
    size = bill.usage_value("request_size_kb", "request_size")
    return 1.0 if size is None or size <= 0 else float(math.ceil(size / step_kb))


def sqs_queue(bill: Bill) -> None:
    fifo = bill.attrs.get("fifo_queue") is True
    bill.usage(
        f"Requests ({'FIFO' if fifo else 'standard'})",
        "sqs:fifo:requests" if fifo else "sqs:standard:requests",
        "monthly_requests",
        "1M requests",
        1e-6 * _chunks(bill),
    )


def sns_topic(bill: Bill) -> None:
    bill.usage("API requests", "sns:requests", "monthly_requests", "1M requests", 1e-6 * _chunks(bill))
    requests = bill.usage_value("monthly_requests")
    for kind, unit, scale in (
        ("http", "1M notifications", 1e-6),
        ("email", "100k notifications", 1e-5),
        ("kinesis", "1M notifications", 1e-6),
        ("mobile_push", "1M notifications", 1e-6),
        ("macos", "1M notifications", 1e-6),
    ):
        subscriptions = bill.usage_value(f"{kind}_subscriptions")
        if not subscriptions:
            continue
        deliveries = None if requests is None else requests * subscriptions * scale
        bill.optional(f"{kind.replace('_', ' ').upper()} notifications", f"sns:{kind}", deliveries, unit)
    sms = bill.usage_value("sms_subscriptions")
    sms_price = bill.usage_value("sms_notification_price")
    if sms and requests is not None and sms_price is not None:
        # The usage file states the SMS price itself (it varies by destination country).
        bill.cost.components.append(
            Component(
                "SMS notifications",
                "notifications",
                requests * sms,
                sms_price,
                "usage:sms",
                "usage file",
                True,
            )
        )


def kinesis_stream(bill: Bill) -> None:
    mode = (text(first_block(bill.attrs, "stream_mode_details"), "stream_mode") or "PROVISIONED").upper()
    if mode == "ON_DEMAND":
        bill.hourly("On-demand stream", "kinesis:ondemand:stream")
        bill.usage("Data ingested", "kinesis:ondemand:ingest", "monthly_on_demand_data_in_gb", "GB")
        for key, name, price in (
            ("monthly_on_demand_data_out_gb", "Data retrieved", "kinesis:ondemand:egress"),
            ("monthly_on_demand_efo_data_out_gb", "Enhanced fan-out data retrieved", "kinesis:ondemand:efo"),
            (
                "monthly_on_demand_extended_retention_gb",
                "Extended retention (to 7 days)",
                "kinesis:ondemand:extended",
            ),
            (
                "monthly_on_demand_long_term_retention_gb",
                "Long-term retention (over 7 days)",
                "kinesis:longterm",
            ),
        ):
            bill.optional_usage(name, price, key, "GB-months" if "retention" in key else "GB")
    else:
        shards = number(bill.attrs, "shard_count", 1.0) or 1.0
        bill.fixed(f"Shards ({shards:g})", "kinesis:shard", shards * HOURS_PER_MONTH, "shard-hours")
        units = bill.usage_value("monthly_provisioned_put_units", "monthly_put_units")
        bill.metered(
            "PUT payload units", "kinesis:put_units", None if units is None else units * 1e-6, "1M PUT units"
        )
        for key, name, price in (
            (
                "monthly_provisioned_extended_retention_gb",
                "Extended retention (to 7 days)",
                "kinesis:extended",
            ),
            (
                "monthly_provisioned_long_term_retention_gb",
                "Long-term retention (over 7 days)",
                "kinesis:longterm",
            ),
            (
                "monthly_provisioned_long_term_retrieval_gb",
                "Long-term retrieval",
                "kinesis:longterm:retrieval",
            ),
            ("monthly_provisioned_efo_data_out_gb", "Enhanced fan-out data retrieved", "kinesis:efo:gb"),
        ):
            bill.optional_usage(name, price, key, "GB-months" if "retention" in key else "GB")
        bill.optional_usage(
            "Enhanced fan-out consumer hours",
            "kinesis:efo:hour",
            "monthly_provisioned_efo_consumer_hours",
            "hours",
        )


def sfn_state_machine(bill: Bill) -> None:
    if (text(bill.attrs, "type") or "STANDARD").upper() == "EXPRESS":
        bill.usage("Requests", "sfn:express:requests", "monthly_requests", "1M requests", 1e-6)
        bill.metered("Duration", "sfn:express:gbh", express_gb_hours(bill), "GB-hours")
    else:
        bill.usage("State transitions", "sfn:transitions", "monthly_transitions", "1k transitions", 1e-3)


def express_gb_hours(bill: Bill) -> float | None:
    """Requests x duration x memory (Infracost's keys), or GB-hours given directly.

    AWS meters Express duration in 100 ms steps and memory in 64 MB steps; the first tier's price
    is used for every GB-hour (the catalog holds no other tier)."""
    requests = bill.usage_value("monthly_requests")
    duration_ms = bill.usage_value("workflow_duration_ms")
    if requests is not None and duration_ms is not None:
        memory_mb = bill.usage_value("memory_mb") or 64.0
        seconds = math.ceil(duration_ms / 100.0) * 0.1
        return requests * seconds / 3600.0 * (math.ceil(memory_mb / 64.0) * 64.0 / 1024.0)
    return bill.usage_value("monthly_duration_gb_hours")


def msk_cluster(bill: Bill) -> None:
    brokers = number(bill.attrs, "number_of_broker_nodes", 1.0) or 1.0
    group = first_block(bill.attrs, "broker_node_group_info")
    instance_type = text(group, "instance_type")
    if instance_type is None:
        bill.unknown("Brokers", "instance_type is not known")
    else:
        bill.hourly(f"Brokers ({instance_type} x {brokers:g})", f"msk:{instance_type}", brokers)
    # Broker storage is provisioned per broker (storage_info, or the older ebs_volume_size).
    size = number(first_block(first_block(group, "storage_info"), "ebs_storage_info"), "volume_size")
    size = number(group, "ebs_volume_size") if size is None else size
    if size is not None:
        bill.fixed(f"Broker storage ({size:g} GB x {brokers:g})", "msk:storage", size * brokers, "GB-months")
    elif blocks(group, "storage_info"):
        bill.unknown("Broker storage", "volume_size is not known")
