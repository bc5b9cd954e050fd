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


def s3_bucket(bill: Bill) -> None:
    bill.usage("Standard storage", "s3:standard:storage", "standard.storage_gb", "GB-months")
    bill.usage(
        "PUT, COPY, POST, LIST requests",
        "s3:standard:tier1",
        "standard.monthly_tier_1_requests",
        "1k requests",
        1e-3,
    )
    bill.usage(
        "GET, SELECT and other requests",
        "s3:standard:tier2",
        "standard.monthly_tier_2_requests",
        "1k requests",
        1e-3,
    )


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
