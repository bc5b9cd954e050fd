"""Storage: EBS volumes and snapshots, S3, EFS, ECR."""

from __future__ import annotations

from cost.attrs import blocks, number, text
from cost.bill import Bill
from cost.pricers.compute import ebs_volume_components


def ebs_volume(bill: Bill) -> None:
    attrs = bill.attrs
    ebs_volume_components(
        bill,
        "Volume",
        volume_type=text(attrs, "type"),
        size=number(attrs, "size"),
        iops=number(attrs, "iops"),
        throughput=number(attrs, "throughput"),
    )


def ebs_snapshot(bill: Bill) -> None:
    # Snapshots store changed blocks only, so their size is usage, not the volume's size.
    bill.usage("Snapshot storage", "ebs:snapshot", "monthly_storage_gb", "GB-months")
    bill.optional_usage("Fast snapshot restore", "ebs:fsr", "fast_snapshot_restore_hours", "DSU-hours")
    bill.optional_usage(
        "ListChangedBlocks & ListSnapshotBlocks API requests",
        "ebs:direct:list",
        "monthly_list_block_requests",
        "1k requests",
        1e-3,
    )
    bill.optional_usage(
        "GetSnapshotBlock API requests", "ebs:direct:get", "monthly_get_block_requests", "1k requests", 1e-3
    )
    bill.optional_usage(
        "PutSnapshotBlock API requests", "ebs:direct:put", "monthly_put_block_requests", "1k requests", 1e-3
    )


# Infracost's usage-file sections for S3 storage classes -> (label, catalog class key).
S3_CLASSES = (
    ("standard", "Standard", "standard"),
    ("intelligent_tiering", "Intelligent-Tiering", "intelligent_tiering"),
    ("standard_infrequent_access", "Standard-IA", "standard_ia"),
    ("one_zone_infrequent_access", "One Zone-IA", "onezone_ia"),
    ("glacier_flexible_retrieval", "Glacier Flexible Retrieval", "glacier"),
    ("glacier_deep_archive", "Glacier Deep Archive", "deep_archive"),
)
# (usage key inside a class section, component, price-key suffix, unit, scale to the price's unit)
S3_DIMENSIONS = (
    ("storage_gb", "storage", "storage", "GB-months", 1.0),
    ("frequent_access_storage_gb", "frequent access storage", "frequent", "GB-months", 1.0),
    ("infrequent_access_storage_gb", "infrequent access storage", "infrequent", "GB-months", 1.0),
    ("monitored_objects", "monitoring", "monitoring", "1k objects", 1e-3),
    ("monthly_tier_1_requests", "PUT, COPY, POST, LIST requests", "tier1", "1k requests", 1e-3),
    ("monthly_tier_2_requests", "GET, SELECT and other requests", "tier2", "1k requests", 1e-3),
    ("monthly_lifecycle_transition_requests", "lifecycle transitions", "transition", "1k requests", 1e-3),
    ("monthly_data_retrieval_gb", "data retrieval", "retrieval", "GB", 1.0),
    ("monthly_select_data_scanned_gb", "Select data scanned", "select_scanned", "GB", 1.0),
    ("monthly_select_data_returned_gb", "Select data returned", "select_returned", "GB", 1.0),
    (
        "monthly_standard_data_retrieval_requests",
        "standard retrieval requests",
        "std_req",
        "1k requests",
        1e-3,
    ),
    (
        "monthly_expedited_data_retrieval_requests",
        "expedited retrieval requests",
        "exp_req",
        "1k requests",
        1e-3,
    ),
    ("monthly_bulk_data_retrieval_requests", "bulk retrieval requests", "bulk_req", "1k requests", 1e-3),
    ("monthly_standard_data_retrieval_gb", "standard retrieval", "std_gb", "GB", 1.0),
    ("monthly_expedited_data_retrieval_gb", "expedited retrieval", "exp_gb", "GB", 1.0),
    ("monthly_bulk_data_retrieval_gb", "bulk retrieval", "bulk_gb", "GB", 1.0),
    ("monthly_standard_select_data_scanned_gb", "Select scanned (standard)", "std_select_scanned", "GB", 1.0),
    (
        "monthly_standard_select_data_returned_gb",
        "Select returned (standard)",
        "std_select_returned",
        "GB",
        1.0,
    ),
    ("monthly_bulk_select_data_scanned_gb", "Select scanned (bulk)", "bulk_select_scanned", "GB", 1.0),
    ("monthly_bulk_select_data_returned_gb", "Select returned (bulk)", "bulk_select_returned", "GB", 1.0),
    (
        "monthly_expedited_select_data_scanned_gb",
        "Select scanned (expedited)",
        "exp_select_scanned",
        "GB",
        1.0,
    ),
    (
        "monthly_expedited_select_data_returned_gb",
        "Select returned (expedited)",
        "exp_select_returned",
        "GB",
        1.0,
    ),
    ("early_delete_gb", "early deletion", "early_delete", "GB", 1.0),
)
# What the bucket shows as usage-based even before anyone gives usage (Infracost shows the same).
S3_ALWAYS = {
    ("standard", "storage_gb"),
    ("standard", "monthly_tier_1_requests"),
    ("standard", "monthly_tier_2_requests"),
}


def s3_bucket(bill: Bill) -> None:
    for section, label, klass in S3_CLASSES:
        for usage_key, what, suffix, unit, scale in S3_DIMENSIONS:
            name = f"{label} {what}"
            key = f"s3:{klass}:{suffix}"
            if (section, usage_key) in S3_ALWAYS:
                bill.usage(name[0].upper() + name[1:], key, f"{section}.{usage_key}", unit, scale)
            else:
                bill.optional_usage(name, key, f"{section}.{usage_key}", unit, scale)
    bill.optional_usage("Object tagging", "s3:tags", "object_tags", "10k tags", 1e-4)


def efs_file_system(bill: Bill) -> None:
    attrs = bill.attrs
    one_zone = text(attrs, "availability_zone_name") is not None
    bill.usage(
        f"Storage ({'one zone' if one_zone else 'standard'})",
        "efs:onezone:storage" if one_zone else "efs:standard:storage",
        "storage_gb",
        "GB-months",
    )
    if text(attrs, "throughput_mode") == "provisioned":
        mbps = number(attrs, "provisioned_throughput_in_mibps")
        if mbps is None:
            bill.unknown("Provisioned throughput", "provisioned_throughput_in_mibps is not known")
        else:
            bill.fixed("Provisioned throughput", "efs:throughput", mbps, "MBps-months")
    # Infrequent access: data moves there under a lifecycle policy; usage says how much.
    lifecycle = any(b.get("transition_to_ia") for b in blocks(attrs, "lifecycle_policy"))
    if lifecycle or bill.usage_value("infrequent_access_storage_gb") is not None:
        ia = "onezone_ia" if one_zone else "standard_ia"
        bill.usage(
            f"Storage ({'one zone' if one_zone else 'standard'}, infrequent access)",
            f"efs:{ia}:storage",
            "infrequent_access_storage_gb",
            "GB-months",
        )
        bill.usage("Infrequent access reads", "efs:ia:read", "monthly_infrequent_access_read_gb", "GB")
        bill.usage("Infrequent access writes", "efs:ia:write", "monthly_infrequent_access_write_gb", "GB")


def ecr_repository(bill: Bill) -> None:
    bill.usage("Storage", "ecr:storage", "storage_gb", "GB-months")
