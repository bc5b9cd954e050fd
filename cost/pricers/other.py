"""Monitoring, keys and secrets, messaging and streaming."""

from __future__ import annotations

from cost.attrs import blocks, first_block, number, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH


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


def sqs_queue(bill: Bill) -> None:
    fifo = bill.attrs.get("fifo_queue") is True
    bill.usage(
        f"Requests ({'FIFO' if fifo else 'standard'})",
        "sqs:fifo:requests" if fifo else "sqs:standard:requests",
        "monthly_requests",
        "1M requests",
        1e-6,
    )


def sns_topic(bill: Bill) -> None:
    bill.usage("API requests", "sns:requests", "monthly_requests", "1M requests", 1e-6)


def kinesis_stream(bill: Bill) -> None:
    mode = (text(first_block(bill.attrs, "stream_mode_details"), "stream_mode") or "PROVISIONED").upper()
    if mode == "ON_DEMAND":
        bill.hourly("On-demand stream", "kinesis:ondemand:stream")
        bill.usage("Data ingested", "kinesis:ondemand:ingest", "monthly_on_demand_data_in_gb", "GB")
    else:
        shards = number(bill.attrs, "shard_count", 1.0) or 1.0
        bill.fixed(f"Shards ({shards:g})", "kinesis:shard", shards * HOURS_PER_MONTH, "shard-hours")
        bill.usage("PUT payload units", "kinesis:put_units", "monthly_put_units", "1M PUT units", 1e-6)


def sfn_state_machine(bill: Bill) -> None:
    if (text(bill.attrs, "type") or "STANDARD").upper() == "EXPRESS":
        bill.usage("Requests", "sfn:express:requests", "monthly_requests", "1M requests", 1e-6)
        bill.usage("Duration", "sfn:express:gbh", "monthly_duration_gb_hours", "GB-hours")
    else:
        bill.usage("State transitions", "sfn:transitions", "monthly_transitions", "1k transitions", 1e-3)


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
