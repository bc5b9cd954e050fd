"""Databases: RDS and Aurora, ElastiCache, DynamoDB, DocumentDB, Redshift, OpenSearch."""

from __future__ import annotations

from cost.attrs import blocks, first_block, number, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH

# Terraform engine names -> catalog engine keys. Oracle and SQL Server editions are separate
# products with separate prices; an engine not here is reported unpriced.
RDS_ENGINES = {
    "mysql": "mysql",
    "mariadb": "mariadb",
    "postgres": "postgres",
    "postgresql": "postgres",
    "oracle-se2": "oracle-se2",
    "sqlserver-ex": "sqlserver-ex",
    "sqlserver-web": "sqlserver-web",
    "sqlserver-se": "sqlserver-se",
    "sqlserver-ee": "sqlserver-ee",
}
AURORA_ENGINES = {
    "aurora": "aurora-mysql",
    "aurora-mysql": "aurora-mysql",
    "aurora-postgresql": "aurora-postgresql",
}
# Smallest allocated storage RDS accepts for MySQL, MariaDB and PostgreSQL (RDS User Guide,
# "Amazon RDS DB instance storage": 20 GiB for gp2/gp3/magnetic, 100 GiB for io1); the estimate
# assumes it when a configuration leaves allocated_storage out.
RDS_MIN_STORAGE_GB = {"gp2": 20.0, "gp3": 20.0, "standard": 20.0, "io1": 100.0, "io2": 100.0}
GP3_BASELINE_IOPS_LARGE = 12000.0  # RDS gp3 of 400 GB and more (MySQL, MariaDB, PostgreSQL)
GP3_BASELINE_IOPS_SMALL = 3000.0
GP3_LARGE_GB = 400.0


def db_instance(bill: Bill) -> None:
    attrs = bill.attrs
    engine = (text(attrs, "engine") or "").lower()
    klass = text(attrs, "instance_class")
    multi_az = attrs.get("multi_az") is True
    copies = 2.0 if multi_az else 1.0
    deployment = "Multi-AZ" if multi_az else "Single-AZ"
    if engine in AURORA_ENGINES:
        key = f"aurora:{AURORA_ENGINES[engine]}:{klass}"
    elif engine in RDS_ENGINES:
        key = f"rds:{RDS_ENGINES[engine]}:{klass}"
    else:
        key = ""
    if klass is None or not key:
        bill.unknown("Database instance", f"engine {engine or '?'} / class {klass or '?'} is not known")
    elif reserved(bill):
        bill.unknown("Database instance", "reserved instance prices are not in the catalog (on-demand only)")
    else:
        # Multi-AZ bills the primary and the standby: two instance-hours per hour (catalog rule).
        bill.hourly(f"Database instance ({engine}, {klass}, {deployment})", key, copies)
    storage_type = _db_storage(bill, engine, copies, deployment)
    if storage_type == "standard":
        bill.optional_usage(
            "Magnetic storage I/O", "rds:io:standard", "monthly_standard_io_requests", "1M requests", 1e-6
        )
    bill.usage("Additional backup storage", "rds:backup", "additional_backup_storage_gb", "GB-months")
    _performance_insights(bill)
    _db_cpu_credits(bill, klass)


def _db_storage(bill: Bill, engine: str, copies: float, deployment: str) -> str:
    """The instance's storage and provisioned IOPS; returns the storage type."""
    attrs = bill.attrs
    iops = number(attrs, "iops")
    storage_type = (text(attrs, "storage_type") or ("io1" if iops else "gp2")).lower()
    storage_gb = number(attrs, "allocated_storage")
    inherits = any(name in attrs for name in ("replicate_source_db", "snapshot_identifier"))
    # Left out of the configuration, not merely unknown (HCL carries an unknown as None).
    left_out = "allocated_storage" not in attrs
    if left_out and engine not in AURORA_ENGINES and not inherits:
        # Left out: RDS's smallest allocation for the type (Infracost assumes 20 GB too). A replica
        # or a restore inherits its source's storage instead, which the estimate cannot see.
        storage_gb = RDS_MIN_STORAGE_GB.get(storage_type, RDS_MIN_STORAGE_GB["gp2"])
    if storage_gb is None:
        bill.unknown("Storage", "allocated_storage is not known")
    else:
        bill.fixed(
            f"Storage ({storage_type}, {deployment})",
            f"rds:storage:{storage_type}",
            storage_gb * copies,
            "GB-months",
        )
        if storage_type == "io1" and iops:
            bill.fixed("Provisioned IOPS", "rds:iops:io1", iops * copies, "IOPS-months")
        elif storage_type == "gp3" and iops:
            baseline = GP3_BASELINE_IOPS_LARGE if storage_gb >= GP3_LARGE_GB else GP3_BASELINE_IOPS_SMALL
            if iops > baseline:
                bill.fixed(
                    f"Provisioned IOPS above {baseline:,.0f}",
                    "rds:iops:gp3",
                    (iops - baseline) * copies,
                    "IOPS-months",
                )
    return storage_type


def reserved(bill: Bill) -> bool:
    """The usage file asks for reserved pricing, which the catalog does not hold."""
    return bool(bill.text_usage("reserved_instance_term") or bill.text_usage("reserved_instance_type"))


def _performance_insights(bill: Bill) -> None:
    bill.optional_usage(
        "Performance Insights API requests",
        "rds:pi:requests",
        "monthly_additional_performance_insights_requests",
        "1k requests",
        1e-3,
    )


def _db_cpu_credits(bill: Bill, klass: str | None, prefix: str = "rds") -> None:
    family = (klass or "").removeprefix("db.").split(".", 1)[0]
    if not family.startswith("t"):
        return
    bill.optional_usage(
        "CPU credits", f"{prefix}:cpu_credits:{family}", "monthly_cpu_credit_hrs", "vCPU-hours"
    )


def rds_cluster(bill: Bill) -> None:
    attrs = bill.attrs
    if (text(attrs, "engine_mode") or "provisioned") == "serverless":
        acu = bill.usage_value("capacity_units_per_hr")
        bill.metered(
            "Aurora Serverless v1 capacity",
            "aurora:serverless_v1:acu",
            None if acu is None else acu * HOURS_PER_MONTH,
            "ACU-hours",
        )
    elif blocks(attrs, "serverlessv2_scaling_configuration"):
        bill.unknown("Aurora Serverless v2 capacity", "no sourced ACU price in the catalog")
    bill.usage("Storage", "aurora:storage", "storage_gb", "GB-months")
    bill.metered("I/O requests", "aurora:io", aurora_io_requests(bill), "1M requests")
    bill.usage("Backup storage", "aurora:backup", "backup_snapshot_size_gb", "GB-months")
    statements = bill.usage_value("average_statements_per_hr")
    records = bill.usage_value("change_records_per_statement")
    window = bill.usage_value("backtrack_window_hrs")
    # Backtrack bills the change records it keeps, every hour of the month.
    known = statements is not None and records is not None and window is not None
    stored = (statements or 0.0) * (records or 0.0) * (window or 0.0) if known else None
    bill.optional(
        "Backtrack change records",
        "aurora:backtrack",
        None if stored is None else stored * HOURS_PER_MONTH * 1e-6,
        "1M change-record-hours",
    )
    bill.optional_usage("Snapshot export", "aurora:snapshot_export", "snapshot_export_size_gb", "GB")


def aurora_io_requests(bill: Bill) -> float | None:
    """Millions of I/O requests a month: Infracost's reads and writes per second, or a monthly count."""
    writes = bill.usage_value("write_requests_per_sec")
    reads = bill.usage_value("read_requests_per_sec")
    if writes is not None or reads is not None:
        return ((writes or 0.0) + (reads or 0.0)) * HOURS_PER_MONTH * 3600 * 1e-6
    monthly = bill.usage_value("monthly_io_requests")
    return None if monthly is None else monthly * 1e-6


def rds_cluster_instance(bill: Bill) -> None:
    attrs = bill.attrs
    engine = (text(attrs, "engine") or "").lower()
    if not engine:
        cluster = bill.index.resolve(bill.resource, "cluster_identifier", "aws_rds_cluster")
        engine = (text(cluster.attrs, "engine") or "aurora") if cluster is not None else "aurora"
    klass = text(attrs, "instance_class")
    if klass == "db.serverless":
        bill.unknown("Aurora Serverless v2 instance", "no sourced ACU price in the catalog")
        return
    mapped = AURORA_ENGINES.get(engine)
    if klass is None or mapped is None:
        bill.unknown("Database instance", f"engine {engine} / class {klass or '?'} is not known")
        return
    if reserved(bill):
        bill.unknown("Database instance", "reserved instance prices are not in the catalog (on-demand only)")
        return
    bill.hourly(f"Database instance ({mapped}, {klass})", f"aurora:{mapped}:{klass}")
    _performance_insights(bill)
    _db_cpu_credits(bill, klass, "aurora")


def _cache_engine(engine: str | None) -> str:
    return (engine or "redis").lower()


def elasticache_cluster(bill: Bill) -> None:
    attrs = bill.attrs
    node_type = text(attrs, "node_type")
    if node_type is None:
        if text(attrs, "replication_group_id"):
            return  # a member of a replication group, priced there
        bill.unknown("Cache nodes", "node_type is not known")
        return
    engine = _cache_engine(text(attrs, "engine"))
    nodes = number(attrs, "num_cache_nodes", 1.0) or 1.0
    if reserved(bill):
        bill.unknown("Cache nodes", "reserved node prices are not in the catalog (on-demand only)")
        return
    bill.hourly(
        f"Cache nodes ({engine}, {node_type} x {nodes:g})", f"elasticache:{engine}:{node_type}", nodes
    )
    bill.usage("Snapshot storage", "elasticache:backup", "snapshot_storage_size_gb", "GB-months")


def elasticache_replication_group(bill: Bill) -> None:
    attrs = bill.attrs
    node_type = text(attrs, "node_type")
    engine = _cache_engine(text(attrs, "engine"))
    clusters = number(attrs, "num_cache_clusters", number(attrs, "number_cache_clusters"))
    if clusters is None:
        groups = number(attrs, "num_node_groups", 1.0) or 1.0
        replicas = number(attrs, "replicas_per_node_group", 0.0) or 0.0
        clusters = groups * (replicas + 1.0)
    if node_type is None:
        bill.unknown("Cache nodes", "node_type is not known")
        return
    if reserved(bill):
        bill.unknown("Cache nodes", "reserved node prices are not in the catalog (on-demand only)")
        return
    bill.hourly(
        f"Cache nodes ({engine}, {node_type} x {clusters:g})", f"elasticache:{engine}:{node_type}", clusters
    )
    bill.usage("Snapshot storage", "elasticache:backup", "snapshot_storage_size_gb", "GB-months")


def dynamodb_table(bill: Bill) -> None:
    attrs = bill.attrs
    if (text(attrs, "billing_mode") or "PROVISIONED").upper() == "PAY_PER_REQUEST":
        bill.usage("Write request units", "dynamodb:wru", "monthly_write_request_units", "1M WRUs", 1e-6)
        bill.usage("Read request units", "dynamodb:rru", "monthly_read_request_units", "1M RRUs", 1e-6)
    else:
        writes = number(attrs, "write_capacity", 0.0) or 0.0
        reads = number(attrs, "read_capacity", 0.0) or 0.0
        bill.fixed(f"Write capacity ({writes:g} WCU)", "dynamodb:wcu", writes * HOURS_PER_MONTH, "WCU-hours")
        bill.fixed(f"Read capacity ({reads:g} RCU)", "dynamodb:rcu", reads * HOURS_PER_MONTH, "RCU-hours")
    bill.usage("Data storage", "dynamodb:storage", "storage_gb", "GB-months")
    if first_block(attrs, "point_in_time_recovery").get("enabled") is True:
        bill.usage("Point-in-time recovery storage", "dynamodb:pitr", "pitr_backup_storage_gb", "GB-months")
    bill.optional_usage(
        "On-demand backup storage", "dynamodb:backup", "on_demand_backup_storage_gb", "GB-months"
    )
    bill.optional_usage("Restored data", "dynamodb:restore", "monthly_data_restored_gb", "GB")
    bill.optional_usage(
        "Streams read request units",
        "dynamodb:streams:rru",
        "monthly_streams_read_request_units",
        "100k units",
        1e-5,
    )
    for replica in blocks(attrs, "replica"):
        bill.unknown(
            f"Global table replica ({text(replica, 'region_name', '?')})",
            "replicated write prices are not in the catalog",
        )


def docdb_cluster_instance(bill: Bill) -> None:
    klass = text(bill.attrs, "instance_class")
    if klass is None:
        bill.unknown("Database instance", "instance_class is not known")
    else:
        bill.hourly(f"Database instance ({klass})", f"docdb:{klass}")
    bill.usage("Storage", "docdb:storage", "data_storage_gb", "GB-months")
    bill.usage("I/O requests", "docdb:io", "monthly_io_requests", "1M requests", 1e-6)
    _db_cpu_credits(bill, klass, "docdb")


def redshift_cluster(bill: Bill) -> None:
    node_type = text(bill.attrs, "node_type")
    nodes = number(bill.attrs, "number_of_nodes", 1.0) or 1.0
    if node_type is None:
        bill.unknown("Nodes", "node_type is not known")
        return
    bill.hourly(f"Nodes ({node_type} x {nodes:g})", f"redshift:{node_type}", nodes)
    bill.optional_usage("Managed storage", "redshift:managed_storage", "managed_storage_gb", "GB-months")
    bill.optional_usage(
        "Concurrency scaling",
        f"redshift:{node_type}",
        "excess_concurrency_scaling_secs",
        "node-hours",
        nodes / 3600.0,
    )
    bill.optional_usage("Spectrum", "redshift:spectrum", "spectrum_data_scanned_tb", "TB")
    bill.optional_usage("Backup storage", "redshift:backup", "backup_storage_gb", "GB-months")


def opensearch_domain(bill: Bill) -> None:
    cluster = first_block(bill.attrs, "cluster_config")
    instance_type = text(cluster, "instance_type", "m4.large.search")
    count = number(cluster, "instance_count", 1.0) or 1.0
    instance_type = (instance_type or "").replace(".elasticsearch", ".search")
    bill.hourly(f"Instances ({instance_type} x {count:g})", f"opensearch:{instance_type}", count)
    if cluster.get("dedicated_master_enabled") is True:
        masters = number(cluster, "dedicated_master_count", 3.0) or 3.0
        master_type = (text(cluster, "dedicated_master_type") or "").replace(".elasticsearch", ".search")
        bill.hourly(f"Dedicated masters ({master_type} x {masters:g})", f"opensearch:{master_type}", masters)
    ebs = first_block(bill.attrs, "ebs_options")
    if ebs.get("ebs_enabled") is True:
        volume_type = (text(ebs, "volume_type") or "gp2").lower()
        size = number(ebs, "volume_size")
        if size is None:
            bill.unknown("EBS storage", "volume_size is not known")
            return
        # volume_size is per data node (AWS provider docs), so the domain stores size x nodes.
        bill.fixed(
            f"EBS storage ({volume_type}, {size:g} GB x {count:g} nodes)",
            f"opensearch:storage:{volume_type}",
            size * count,
            "GB-months",
        )
        iops = number(ebs, "iops")
        if volume_type == "io1" and iops:
            bill.fixed("Provisioned IOPS (io1)", "opensearch:iops:io1", iops * count, "IOPS-months")
