"""The usage keys each priced resource type reads, as Infracost's usage file documents them.

Names and meanings follow Infracost's ``infracost-usage-example.yml`` (facts only); a few older
spellings we still accept are noted in the pricers, not here. ``template`` writes the keys a
configuration could use, per resource address, every line commented out, like Infracost's
``--sync-usage-file``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from cost.model import ResourceInput
from cost.usage import Usage


@dataclass(frozen=True, slots=True)
class UsageKey:
    key: str
    description: str
    default: float | str = 0


_INSTANCE = (
    UsageKey("operating_system", "Operating system: linux (priced), windows, suse, rhel.", "linux"),
    UsageKey("reserved_instance_type", "Reserved Instance offering class: standard, convertible.", ""),
    UsageKey("reserved_instance_term", "Reserved Instance term: 1_year, 3_year.", ""),
    UsageKey(
        "reserved_instance_payment_option", "Payment option: no_upfront, partial_upfront, all_upfront.", ""
    ),
    UsageKey("monthly_cpu_credit_hrs", "Hours a month a T instance bursts above its baseline (unlimited)."),
    UsageKey("vcpu_count", "vCPUs of the T instance type, for CPU credits."),
)
_DB_EXTRAS = (
    UsageKey(
        "monthly_additional_performance_insights_requests",
        "Performance Insights API requests above the 1,000,000 free a month.",
    ),
    UsageKey("reserved_instance_term", "Reserved Instance term: 1_year, 3_year.", ""),
    UsageKey(
        "reserved_instance_payment_option", "Payment option: no_upfront, partial_upfront, all_upfront.", ""
    ),
    UsageKey("monthly_cpu_credit_hrs", "vCPU-hours a month above a T instance's baseline."),
)
_LB = (
    UsageKey("new_connections", "Newly established connections per second, on average."),
    UsageKey("active_connections", "Active connections per minute, on average."),
    UsageKey("processed_bytes_gb", "GB processed by the load balancer in the month."),
    UsageKey("rule_evaluations", "Rules processed times the request rate, per second (ALB only)."),
)
_S3_REQUESTS = (
    ("monthly_tier_1_requests", "PUT, COPY, POST, LIST requests a month (tier 1)."),
    ("monthly_tier_2_requests", "GET, SELECT and all other requests a month (tier 2)."),
)
_S3_CLASSES: dict[str, tuple[tuple[str, str], ...]] = {
    "standard": (
        ("storage_gb", "Total storage in GB."),
        *_S3_REQUESTS,
        ("monthly_select_data_scanned_gb", "Data scanned by S3 Select a month, GB."),
        ("monthly_select_data_returned_gb", "Data returned by S3 Select a month, GB."),
    ),
    "intelligent_tiering": (
        ("frequent_access_storage_gb", "Storage in the Frequent Access tier, GB."),
        ("infrequent_access_storage_gb", "Storage in the Infrequent Access tier, GB."),
        ("monitored_objects", "Objects monitored by Intelligent-Tiering."),
        *_S3_REQUESTS,
        ("monthly_lifecycle_transition_requests", "Lifecycle transition requests a month."),
        ("monthly_select_data_scanned_gb", "Data scanned by S3 Select a month, GB."),
        ("monthly_select_data_returned_gb", "Data returned by S3 Select a month, GB."),
        ("early_delete_gb", "GB deleted before the minimum storage duration."),
    ),
    "standard_infrequent_access": (
        ("storage_gb", "Total storage in GB."),
        *_S3_REQUESTS,
        ("monthly_lifecycle_transition_requests", "Lifecycle transition requests a month."),
        ("monthly_data_retrieval_gb", "Data retrieved a month, GB."),
        ("monthly_select_data_scanned_gb", "Data scanned by S3 Select a month, GB."),
        ("monthly_select_data_returned_gb", "Data returned by S3 Select a month, GB."),
    ),
    "one_zone_infrequent_access": (
        ("storage_gb", "Total storage in GB."),
        *_S3_REQUESTS,
        ("monthly_lifecycle_transition_requests", "Lifecycle transition requests a month."),
        ("monthly_data_retrieval_gb", "Data retrieved a month, GB."),
        ("monthly_select_data_scanned_gb", "Data scanned by S3 Select a month, GB."),
        ("monthly_select_data_returned_gb", "Data returned by S3 Select a month, GB."),
    ),
    "glacier_flexible_retrieval": (
        ("storage_gb", "Total storage in GB."),
        *_S3_REQUESTS,
        ("monthly_lifecycle_transition_requests", "Lifecycle transition requests a month."),
        ("monthly_standard_select_data_scanned_gb", "S3 Select data scanned (standard), GB."),
        ("monthly_standard_select_data_returned_gb", "S3 Select data returned (standard), GB."),
        ("monthly_bulk_select_data_scanned_gb", "S3 Select data scanned (bulk), GB."),
        ("monthly_bulk_select_data_returned_gb", "S3 Select data returned (bulk), GB."),
        ("monthly_expedited_select_data_scanned_gb", "S3 Select data scanned (expedited), GB."),
        ("monthly_expedited_select_data_returned_gb", "S3 Select data returned (expedited), GB."),
        ("monthly_standard_data_retrieval_requests", "Standard retrieval requests a month."),
        ("monthly_expedited_data_retrieval_requests", "Expedited retrieval requests a month."),
        ("monthly_standard_data_retrieval_gb", "Data retrieved (standard) a month, GB."),
        ("monthly_expedited_data_retrieval_gb", "Data retrieved (expedited) a month, GB."),
        ("early_delete_gb", "GB deleted within 3 months of upload."),
    ),
    "glacier_deep_archive": (
        ("storage_gb", "Total storage in GB."),
        *_S3_REQUESTS,
        ("monthly_lifecycle_transition_requests", "Lifecycle transition requests a month."),
        ("monthly_standard_data_retrieval_requests", "Standard retrieval requests a month."),
        ("monthly_bulk_data_retrieval_requests", "Bulk retrieval requests a month."),
        ("monthly_standard_data_retrieval_gb", "Data retrieved (standard) a month, GB."),
        ("monthly_bulk_data_retrieval_gb", "Data retrieved (bulk) a month, GB."),
        ("early_delete_gb", "GB deleted within 6 months of upload."),
    ),
}
_S3 = (
    UsageKey("object_tags", "Total object tags."),
    *(
        UsageKey(f"{section}.{key}", description)
        for section, keys in _S3_CLASSES.items()
        for key, description in keys
    ),
)

KEYS: dict[str, tuple[UsageKey, ...]] = {
    "aws_instance": (UsageKey("monthly_hrs", "Hours a month the instance runs.", 730), *_INSTANCE),
    "aws_autoscaling_group": (UsageKey("instances", "Instances in the group."), *_INSTANCE),
    "aws_eks_node_group": (UsageKey("instances", "Instances in the node group."), *_INSTANCE),
    "aws_lambda_function": (
        UsageKey("monthly_requests", "Requests a month."),
        UsageKey("request_duration_ms", "Average duration of a request, milliseconds."),
    ),
    "aws_ebs_volume": (
        UsageKey("monthly_standard_io_requests", "I/O requests a month (standard, magnetic volumes)."),
    ),
    "aws_ebs_snapshot": (
        UsageKey("monthly_storage_gb", "Changed blocks the snapshot stores, GB (our key)."),
        UsageKey("monthly_list_block_requests", "ListChangedBlocks and ListSnapshotBlocks requests a month."),
        UsageKey("monthly_get_block_requests", "GetSnapshotBlock requests a month."),
        UsageKey("monthly_put_block_requests", "PutSnapshotBlock requests a month."),
        UsageKey("fast_snapshot_restore_hours", "DSU-hours of fast snapshot restore a month."),
    ),
    "aws_s3_bucket": _S3,
    "aws_efs_file_system": (
        UsageKey("storage_gb", "Storage in the Standard class, GB."),
        UsageKey("infrequent_access_storage_gb", "Storage in the Infrequent Access class, GB."),
        UsageKey("monthly_infrequent_access_read_gb", "Infrequent Access reads a month, GB."),
        UsageKey("monthly_infrequent_access_write_gb", "Infrequent Access writes a month, GB."),
    ),
    "aws_ecr_repository": (UsageKey("storage_gb", "Size of the repository, GB."),),
    "aws_nat_gateway": (UsageKey("monthly_data_processed_gb", "Data processed a month, GB."),),
    "aws_lb": _LB,
    "aws_alb": _LB,
    "aws_elb": (UsageKey("monthly_data_processed_gb", "Data processed a month, GB."),),
    "aws_vpc_endpoint": (UsageKey("monthly_data_processed_gb", "Data processed a month, GB."),),
    "aws_ec2_transit_gateway_vpc_attachment": (
        UsageKey("monthly_data_processed_gb", "Data processed a month, GB."),
    ),
    "aws_route53_record": (
        UsageKey("monthly_standard_queries", "Standard queries a month."),
        UsageKey("monthly_latency_based_queries", "Latency based routing queries a month."),
        UsageKey("monthly_geo_queries", "Geo DNS and geoproximity queries a month."),
    ),
    "aws_api_gateway_rest_api": (UsageKey("monthly_requests", "Requests a month."),),
    "aws_apigatewayv2_api": (
        UsageKey("monthly_requests", "HTTP API requests a month."),
        UsageKey("request_size_kb", "Average request size, KB (metered in 512 KB steps).", 512),
        UsageKey("monthly_messages", "WebSocket messages a month."),
        UsageKey("message_size_kb", "Average message size, KB (metered in 32 KB steps).", 32),
        UsageKey("monthly_connection_mins", "WebSocket connection minutes a month."),
    ),
    "aws_db_instance": (
        UsageKey("additional_backup_storage_gb", "Backup storage beyond 100% of the database's storage, GB."),
        UsageKey("monthly_standard_io_requests", "I/O requests a month (magnetic storage)."),
        *_DB_EXTRAS,
    ),
    "aws_rds_cluster": (
        UsageKey("capacity_units_per_hr", "Aurora capacity units an hour (engine_mode serverless)."),
        UsageKey("storage_gb", "Storage of the cluster, GB."),
        UsageKey("write_requests_per_sec", "Writes per second for the cluster."),
        UsageKey("read_requests_per_sec", "Reads per second for the cluster."),
        UsageKey("backup_snapshot_size_gb", "Backup snapshot storage, GB."),
        UsageKey("average_statements_per_hr", "Statements an hour with backtrack on (Aurora MySQL)."),
        UsageKey("change_records_per_statement", "Change records per statement."),
        UsageKey("backtrack_window_hrs", "Backtrack window, hours."),
        UsageKey("snapshot_export_size_gb", "Snapshot exported to S3, GB."),
    ),
    "aws_rds_cluster_instance": (
        UsageKey("capacity_units_per_hr", "Aurora capacity units an hour (db.serverless)."),
        *_DB_EXTRAS,
    ),
    "aws_elasticache_cluster": (
        UsageKey("snapshot_storage_size_gb", "Snapshot storage, GB."),
        UsageKey("reserved_instance_term", "Reserved node term: 1_year, 3_year.", ""),
        UsageKey("reserved_instance_payment_option", "Reserved node payment option.", ""),
    ),
    "aws_elasticache_replication_group": (
        UsageKey("snapshot_storage_size_gb", "Snapshot storage, GB."),
        UsageKey("reserved_instance_term", "Reserved node term: 1_year, 3_year.", ""),
        UsageKey("reserved_instance_payment_option", "Reserved node payment option.", ""),
    ),
    "aws_dynamodb_table": (
        UsageKey("monthly_write_request_units", "Write request units a month (on-demand)."),
        UsageKey("monthly_read_request_units", "Read request units a month (on-demand)."),
        UsageKey("storage_gb", "Table storage, GB."),
        UsageKey("pitr_backup_storage_gb", "Point-in-time recovery backup storage, GB."),
        UsageKey("on_demand_backup_storage_gb", "On-demand backup storage, GB."),
        UsageKey("monthly_data_restored_gb", "Data restored a month, GB."),
        UsageKey("monthly_streams_read_request_units", "Streams read request units a month."),
    ),
    "aws_docdb_cluster_instance": (
        UsageKey("data_storage_gb", "Storage of the cluster, GB."),
        UsageKey("monthly_io_requests", "I/O requests a month."),
        UsageKey("monthly_cpu_credit_hrs", "vCPU-hours a month above a T instance's baseline."),
    ),
    "aws_redshift_cluster": (
        UsageKey("managed_storage_gb", "Managed storage (RA3), GB."),
        UsageKey("excess_concurrency_scaling_secs", "Concurrency scaling seconds beyond the free credits."),
        UsageKey("spectrum_data_scanned_tb", "Data scanned by Spectrum a month, TB."),
        UsageKey("backup_storage_gb", "Backup storage, GB."),
    ),
    "aws_cloudwatch_log_group": (
        UsageKey("storage_gb", "Data stored, GB."),
        UsageKey("monthly_data_ingested_gb", "Data ingested a month, GB."),
        UsageKey("monthly_data_scanned_gb", "Data scanned by Logs Insights a month, GB."),
    ),
    "aws_kms_key": (UsageKey("monthly_requests", "API requests a month."),),
    "aws_secretsmanager_secret": (UsageKey("monthly_requests", "API requests a month."),),
    "aws_sqs_queue": (
        UsageKey("monthly_requests", "Requests a month."),
        UsageKey("request_size_kb", "Request size, KB (billed in 64 KB chunks).", 64),
    ),
    "aws_sns_topic": (
        UsageKey("monthly_requests", "Requests a month."),
        UsageKey("request_size_kb", "Request size, KB (billed in 64 KB chunks).", 64),
        UsageKey("http_subscriptions", "HTTP/HTTPS subscriptions."),
        UsageKey("email_subscriptions", "Email/Email-JSON subscriptions."),
        UsageKey("kinesis_subscriptions", "Kinesis Data Firehose subscriptions."),
        UsageKey("mobile_push_subscriptions", "Mobile push subscriptions."),
        UsageKey("macos_subscriptions", "macOS subscriptions."),
        UsageKey("sms_subscriptions", "SMS subscriptions."),
        UsageKey("sms_notification_price", "Average price of one SMS notification, USD."),
    ),
    "aws_kinesis_stream": (
        UsageKey("monthly_on_demand_data_in_gb", "Data ingested a month (on-demand), GB."),
        UsageKey("monthly_on_demand_data_out_gb", "Data retrieved a month (on-demand), GB."),
        UsageKey("monthly_on_demand_efo_data_out_gb", "Data to enhanced fan-out consumers (on-demand), GB."),
        UsageKey("monthly_on_demand_extended_retention_gb", "Data kept 24 h to 7 days (on-demand), GB."),
        UsageKey("monthly_on_demand_long_term_retention_gb", "Data kept over 7 days (on-demand), GB."),
        UsageKey("monthly_provisioned_put_units", "PUT payload units a month (provisioned)."),
        UsageKey("monthly_provisioned_extended_retention_gb", "Data kept 24 h to 7 days (provisioned), GB."),
        UsageKey("monthly_provisioned_long_term_retention_gb", "Data kept over 7 days (provisioned), GB."),
        UsageKey("monthly_provisioned_long_term_retrieval_gb", "Long-term data retrieved (provisioned), GB."),
        UsageKey(
            "monthly_provisioned_efo_data_out_gb", "Data to enhanced fan-out consumers (provisioned), GB."
        ),
        UsageKey("monthly_provisioned_efo_consumer_hours", "Enhanced fan-out consumer hours (provisioned)."),
    ),
    "aws_sfn_state_machine": (
        UsageKey("monthly_transitions", "State transitions a month (Standard workflows)."),
        UsageKey("monthly_requests", "Workflow requests a month (Express workflows)."),
        UsageKey("memory_mb", "Average memory of a workflow, MB (Express).", 64),
        UsageKey("workflow_duration_ms", "Average duration of a workflow, ms (Express)."),
    ),
}


def _value(value: float | str) -> str:
    if isinstance(value, str):
        return value if value else '""'
    return f"{value:g}" if isinstance(value, float) else str(value)


def template(resources: Iterable[ResourceInput], existing: Usage | None = None) -> str:
    """A usage file (version 0.1) naming every usage key each resource could use.

    Keys the ``existing`` usage file sets keep their values; the rest are written commented out,
    with their meaning, so the file changes no estimate until someone fills it in.
    """
    known = existing or Usage()
    lines = [
        "# Usage estimates for `python -m cost --usage FILE` (Infracost's usage-file format).",
        "# Uncomment a key and set it; a key left commented out is no usage ($0, listed as usage-based).",
        "version: 0.1",
    ]
    if known.by_type:
        lines += _dump({"resource_type_default_usage": dict(known.by_type)})
    lines.append("resource_usage:")
    seen: set[str] = set()
    for resource in resources:
        keys = KEYS.get(resource.type)
        if not keys or resource.address in seen:
            continue
        seen.add(resource.address)
        given = known.by_address.get(resource.address, {})
        lines.append(f"  {_quoted(resource.address)}:")
        lines += _entry(keys, given)
    for address, values in known.by_address.items():
        if address not in seen:  # wildcards and resources this configuration no longer has
            lines += [f"  {_quoted(address)}:", *("    " + line for line in _dump(dict(values)))]
            seen.add(address)
    if not seen:
        lines[-1] = "resource_usage: {}"
    return "\n".join(lines) + "\n"


def _entry(keys: tuple[UsageKey, ...], given: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    section = ""
    documented: set[str] = set()
    for item in keys:
        head, _, tail = item.key.rpartition(".")
        documented.add(head or tail)
        values = given.get(head) if head else given
        values = values if isinstance(values, Mapping) else {}
        if head and head != section:
            lines.append(f"    {head}:" if values else f"    # {head}:")
        section = head
        indent = "      " if head else "    "
        if tail in values and not isinstance(values[tail], Mapping):
            lines.append(f"{indent}{tail}: {_scalar(values[tail])} # {item.description}")
        else:
            lines.append(f"{indent}# {tail}: {_value(item.default)} # {item.description}")
    extra = {k: v for k, v in given.items() if k not in documented}
    if extra:  # keys we read that Infracost does not document (aliases): kept as they were
        lines += ["    " + line for line in _dump(extra)]
    return lines


def _dump(values: Mapping[str, Any]) -> list[str]:
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False).splitlines()


def _scalar(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True)).strip().removesuffix("...").strip()


def _quoted(address: str) -> str:
    # Addresses with indexes or string keys (aws_x.y["a"]) are quoted to stay one YAML key.
    plain = address.replace(".", "").replace("_", "").replace("-", "").isalnum()
    return address if plain else "'" + address.replace("'", "''") + "'"
