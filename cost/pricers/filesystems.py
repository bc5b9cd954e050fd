"""Managed file systems: FSx for Windows File Server and for OpenZFS (EFS lives with the other storage)."""

from __future__ import annotations

from cost.attrs import first_block, number, text
from cost.bill import Bill

# The AWS provider's defaults when the configuration leaves them out.
DEFAULT_DEPLOYMENT = "SINGLE_AZ_1"
DEFAULT_STORAGE_TYPE = "SSD"


def fsx_windows_file_system(bill: Bill) -> None:
    attrs = bill.attrs
    deployment = (text(attrs, "deployment_type") or DEFAULT_DEPLOYMENT).upper()
    # Multi-AZ and Single-AZ are separate prices; a deployment without a sourced price is unpriced.
    zone = "multi_az" if deployment.startswith("MULTI_AZ") else "single_az"
    storage_type = (text(attrs, "storage_type") or DEFAULT_STORAGE_TYPE).lower()
    throughput = number(attrs, "throughput_capacity")
    capacity = number(attrs, "storage_capacity")
    if throughput is None:
        bill.unknown("Throughput capacity", "throughput_capacity is not known")
    else:
        bill.fixed(
            f"Throughput capacity ({deployment})", f"fsx:windows:{zone}:throughput", throughput, "MBps-months"
        )
    if capacity is None:
        bill.unknown("Storage capacity", "storage_capacity is not known")
    else:
        bill.fixed(
            f"{storage_type.upper()} storage ({deployment})",
            f"fsx:windows:{zone}:{storage_type}",
            capacity,
            "GB-months",
        )
    bill.usage("Backup storage", "fsx:windows:backup", "backup_storage_gb", "GB-months")


OPENZFS_INCLUDED_IOPS_PER_GB = 3.0  # SSD IOPS included with each GB of OpenZFS storage


def fsx_openzfs_file_system(bill: Bill) -> None:
    attrs = bill.attrs
    deployment = (text(attrs, "deployment_type") or DEFAULT_DEPLOYMENT).upper()
    zone = "multi_az" if deployment.startswith("MULTI_AZ") else "single_az"
    throughput = number(attrs, "throughput_capacity")
    capacity = number(attrs, "storage_capacity")
    if throughput is None:
        bill.unknown("Throughput capacity", "throughput_capacity is not known")
    else:
        bill.fixed(
            f"Throughput capacity ({deployment})", f"fsx:openzfs:{zone}:throughput", throughput, "MBps-months"
        )
    if capacity is None:
        bill.unknown("SSD storage", "storage_capacity is not known")
        return
    # Billed on the provisioned capacity, whatever compression saves inside it.
    bill.fixed(f"SSD storage ({deployment})", f"fsx:openzfs:{zone}:ssd", capacity, "GB-months")
    iops_config = first_block(attrs, "disk_iops_configuration")
    iops = number(iops_config, "iops")
    if (text(iops_config, "mode") or "").upper() == "USER_PROVISIONED" and iops is not None:
        extra = max(0.0, iops - OPENZFS_INCLUDED_IOPS_PER_GB * capacity)
        if extra:
            bill.fixed("Provisioned IOPS above 3 per GB", f"fsx:openzfs:{zone}:iops", extra, "IOPS-months")
    bill.usage("Backup storage", "fsx:openzfs:backup", "backup_storage_gb", "GB-months")
