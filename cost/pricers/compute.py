"""Compute: EC2 instances, auto scaling groups, EKS, ECS on Fargate, Lambda."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cost.attrs import blocks, cpu_units, first_block, flag, known, memory_mib, number, strings, text
from cost.bill import Bill
from cost.model import HOURS_PER_MONTH

# What AWS's own AMIs give a root volume when the configuration says nothing (Infracost assumes
# the same); the component name says when it was assumed.
DEFAULT_ROOT_GB = 8.0
DEFAULT_VOLUME_TYPE = "gp2"
GP3_FREE_IOPS = 3000.0
GP3_FREE_THROUGHPUT = 125.0
# Previous-generation types on which EBS optimization is optional and billed by the hour (AWS EC2
# User Guide, "Amazon EBS-optimized instances", previous generation: "Supported" rather than
# "Default"). Every current type is EBS-optimized by default at no extra charge.
EBS_OPTIMIZED_SURCHARGE_TYPES = frozenset(
    {
        "c1.xlarge",
        "c3.xlarge",
        "c3.2xlarge",
        "c3.4xlarge",
        "g2.2xlarge",
        "i2.xlarge",
        "i2.2xlarge",
        "i2.4xlarge",
        "m1.large",
        "m1.xlarge",
        "m2.2xlarge",
        "m2.4xlarge",
        "m3.xlarge",
        "m3.2xlarge",
        "r3.xlarge",
        "r3.2xlarge",
        "r3.4xlarge",
    }
)
IO2_TIERS = ((32000.0, "ebs:io2:iops"), (64000.0, "ebs:io2:iops_tier2"), (float("inf"), "ebs:io2:iops_tier3"))


def ebs_volume_components(
    bill: Bill,
    label: str,
    *,
    volume_type: str | None,
    size: float | None,
    iops: float | None,
    throughput: float | None,
    count: float = 1.0,
) -> None:
    """Storage, and IOPS/throughput where the type bills them, for ``count`` identical volumes."""
    vtype = (volume_type or DEFAULT_VOLUME_TYPE).lower()
    if size is None:
        bill.unknown(f"{label} storage ({vtype})", "volume size is not known before apply")
        return
    bill.fixed(f"{label} storage ({vtype}, {size:g} GB)", f"ebs:{vtype}:storage", size * count, "GB-months")
    if vtype == "gp3":
        extra_iops = max(0.0, (iops or GP3_FREE_IOPS) - GP3_FREE_IOPS)
        if extra_iops:
            bill.fixed(
                f"{label} provisioned IOPS above 3,000", "ebs:gp3:iops", extra_iops * count, "IOPS-months"
            )
        extra_mbps = max(0.0, (throughput or GP3_FREE_THROUGHPUT) - GP3_FREE_THROUGHPUT)
        if extra_mbps:
            bill.fixed(
                f"{label} throughput above 125 MiB/s",
                "ebs:gp3:throughput",
                extra_mbps * count,
                "MiBps-months",
            )
    elif vtype == "io1":
        if iops is None:
            bill.unknown(f"{label} provisioned IOPS", "iops is not known before apply")
        else:
            bill.fixed(f"{label} provisioned IOPS", "ebs:io1:iops", iops * count, "IOPS-months")
    elif vtype == "io2":
        if iops is None:
            bill.unknown(f"{label} provisioned IOPS", "iops is not known before apply")
            return
        floor = 0.0
        for ceiling, key in IO2_TIERS:
            if iops <= floor:
                break
            bill.fixed(
                f"{label} provisioned IOPS ({floor:,.0f}+)",
                key,
                (min(iops, ceiling) - floor) * count,
                "IOPS-months",
            )
            floor = ceiling
    elif vtype == "standard":
        bill.usage(
            f"{label} I/O requests", "ebs:standard:io", "monthly_standard_io_requests", "1M requests", 1e-6
        )


def _root_and_extra_volumes(bill: Bill, attrs: Mapping[str, Any], count: float) -> None:
    root = first_block(attrs, "root_block_device")
    size = number(root, "volume_size")
    label = "Root volume" if size is not None else f"Root volume ({DEFAULT_ROOT_GB:g} GB assumed)"
    ebs_volume_components(
        bill,
        label,
        volume_type=text(root, "volume_type"),
        size=DEFAULT_ROOT_GB if size is None else size,
        iops=number(root, "iops"),
        throughput=number(root, "throughput"),
        count=count,
    )
    for device in blocks(attrs, "ebs_block_device"):
        name = text(device, "device_name", "EBS volume")
        ebs_volume_components(
            bill,
            f"EBS volume {name}",
            volume_type=text(device, "volume_type"),
            size=number(device, "volume_size"),
            iops=number(device, "iops"),
            throughput=number(device, "throughput"),
            count=count,
        )


def _instance_hours(
    bill: Bill, instance_type: str | None, count: float, label: str = "Instance", hours: float | None = None
) -> None:
    if instance_type is None:
        bill.unknown(f"{label} hours", "instance type is not known before apply")
        return
    system = bill.text_usage("operating_system") or "linux"
    if system != "linux":
        bill.unknown(f"{label} hours", f"operating system {system} is not in the catalog (Linux prices only)")
        return
    if bill.text_usage("reserved_instance_type") or bill.text_usage("reserved_instance_term"):
        bill.unknown(f"{label} hours", "reserved instance prices are not in the catalog (on-demand only)")
        return
    name = f"{label} hours ({instance_type}, on-demand, Linux)"
    if hours is None:
        bill.hourly(name, f"ec2:{instance_type}", count)
    else:
        bill.fixed(name, f"ec2:{instance_type}", hours * count, "hours")
    _cpu_credits(bill, instance_type, count)


def _cpu_credits(bill: Bill, instance_type: str, count: float) -> None:
    """Burstable (T) instances in unlimited mode bill vCPU-hours spent above their baseline."""
    family = instance_type.split(".", 1)[0]
    if not family.startswith("t"):
        return
    credit_hours = bill.usage_value("monthly_cpu_credit_hrs")
    vcpus = bill.usage_value("vcpu_count")
    quantity = None if credit_hours is None else credit_hours * (vcpus or 1.0) * count
    bill.optional("CPU credits", f"ec2:cpu_credits:{family}", quantity, "vCPU-hours")


def _ebs_optimized(bill: Bill, attrs: Mapping[str, Any], instance_type: str | None, count: float) -> None:
    """The hourly EBS-optimization fee of the previous-generation types that charge for it."""
    if instance_type not in EBS_OPTIMIZED_SURCHARGE_TYPES or not flag(attrs, "ebs_optimized"):
        return
    bill.hourly(f"EBS-optimized usage ({instance_type})", f"ec2:ebs_optimized:{instance_type}", count)


def instance(bill: Bill) -> None:
    attrs = bill.attrs
    tenancy = text(attrs, "tenancy", "default")
    if tenancy in ("dedicated", "host"):
        bill.unknown("Instance hours", f"{tenancy} tenancy is not in the catalog (shared tenancy only)")
    else:
        # monthly_hrs: an instance stopped part of the month; its volumes bill all month regardless.
        _instance_hours(bill, text(attrs, "instance_type"), 1.0, hours=bill.usage_value("monthly_hrs"))
        _ebs_optimized(bill, attrs, text(attrs, "instance_type"), 1.0)
    _root_and_extra_volumes(bill, attrs, 1.0)


def autoscaling_group(bill: Bill) -> None:
    attrs = bill.attrs
    count = bill.usage_value("instances")
    if count is None:
        count = number(attrs, "desired_capacity")
    if count is None:
        count = number(attrs, "min_size", 0.0) or 0.0
    template = bill.index.resolve(bill.resource, "launch_template", "aws_launch_template")
    if template is None:
        template = bill.index.resolve(bill.resource, "mixed_instances_policy", "aws_launch_template")
    configuration = bill.index.resolve(bill.resource, "launch_configuration", "aws_launch_configuration")
    if template is not None:
        _instance_hours(bill, text(template.attrs, "instance_type"), count)
        _ebs_optimized(bill, template.attrs, text(template.attrs, "instance_type"), count)
        for mapping in blocks(template.attrs, "block_device_mappings"):
            ebs = first_block(mapping, "ebs")
            ebs_volume_components(
                bill,
                f"Volume {text(mapping, 'device_name', '')}".strip(),
                volume_type=text(ebs, "volume_type"),
                size=number(ebs, "volume_size"),
                iops=number(ebs, "iops"),
                throughput=number(ebs, "throughput"),
                count=count,
            )
    elif configuration is not None:
        _instance_hours(bill, text(configuration.attrs, "instance_type"), count)
        _ebs_optimized(bill, configuration.attrs, text(configuration.attrs, "instance_type"), count)
        _root_and_extra_volumes(bill, configuration.attrs, count)
    else:
        bill.unknown(
            "Instance hours", "its launch template or launch configuration is not in this configuration"
        )


def eks_cluster(bill: Bill) -> None:
    bill.hourly("EKS cluster", "eks:cluster:hour")


def eks_node_group(bill: Bill) -> None:
    attrs = bill.attrs
    scaling = first_block(attrs, "scaling_config")
    count = bill.usage_value("instances")
    if count is None:
        count = number(scaling, "desired_size", number(scaling, "min_size", 1.0)) or 0.0
    types = strings(attrs, "instance_types")
    template = bill.index.resolve(bill.resource, "launch_template", "aws_launch_template")
    instance_type = types[0] if types else None
    if instance_type is None and template is not None:
        instance_type = text(template.attrs, "instance_type")
    if instance_type is None and template is None:
        instance_type = "t3.medium"  # the EKS API's default when neither names a type
    _instance_hours(bill, instance_type, count)
    if template is None:
        ebs_volume_components(
            bill,
            "Node disk",
            volume_type="gp2",
            size=number(attrs, "disk_size", 20.0),
            iops=None,
            throughput=None,
            count=count,
        )


def ecs_service(bill: Bill) -> None:
    attrs = bill.attrs
    launch_type = (text(attrs, "launch_type") or "").upper()
    providers = [text(b, "capacity_provider", "") or "" for b in blocks(attrs, "capacity_provider_strategy")]
    if launch_type != "FARGATE" and not any(p.startswith("FARGATE") for p in providers):
        return  # on EC2 the container instances (an ASG) carry the cost
    definition = bill.index.resolve(bill.resource, "task_definition", "aws_ecs_task_definition")
    if definition is None:
        bill.unknown("Fargate vCPU and memory", "its task definition is not in this configuration")
        return
    cpu = cpu_units(definition.attrs.get("cpu"))
    memory = memory_mib(definition.attrs.get("memory"))
    if cpu is None or memory is None:
        unread = [
            name
            for name, value in (("cpu", cpu), ("memory", memory))
            if value is None and known(definition.attrs.get(name))
        ]
        why = (
            f"the task definition's {' and '.join(unread)} is not in a form AWS accepts "
            '(cpu: CPU units or "1 vCPU"; memory: MiB or "2 GB")'
            if unread
            else "the task definition sets no task-level cpu and memory"
        )
        bill.unknown("Fargate vCPU and memory", why)
        return
    tasks = number(attrs, "desired_count", 0.0) or 0.0
    arm = (
        text(first_block(definition.attrs, "runtime_platform"), "cpu_architecture") or ""
    ).upper() == "ARM64"
    prefix = "fargate:arm" if arm else "fargate"
    vcpu, gb = cpu / 1024.0, memory / 1024.0
    bill.fixed(
        f"Fargate vCPU ({vcpu:g} vCPU x {tasks:g} tasks)",
        f"{prefix}:vcpu",
        vcpu * tasks * HOURS_PER_MONTH,
        "vCPU-hours",
    )
    bill.fixed(
        f"Fargate memory ({gb:g} GB x {tasks:g} tasks)",
        f"{prefix}:gb",
        gb * tasks * HOURS_PER_MONTH,
        "GB-hours",
    )


def lambda_function(bill: Bill) -> None:
    attrs = bill.attrs
    architectures = strings(attrs, "architectures")
    arm = bool(architectures) and architectures[0] == "arm64"
    memory_gb = (number(attrs, "memory_size", 128.0) or 128.0) / 1024.0
    ephemeral_gb = (number(first_block(attrs, "ephemeral_storage"), "size", 512.0) or 512.0) / 1024.0
    requests = bill.usage_value("monthly_requests")
    duration_ms = bill.usage_value("request_duration_ms", "average_request_duration")
    seconds = None if requests is None or duration_ms is None else requests * duration_ms / 1000.0
    bill.usage("Requests", "lambda:requests", "monthly_requests", "1M requests", 1e-6)
    bill.metered(
        f"Duration ({'arm64' if arm else 'x86_64'}, {memory_gb * 1024:g} MB)",
        "lambda:arm:gbs" if arm else "lambda:x86:gbs",
        None if seconds is None else seconds * memory_gb,
        "GB-seconds",
    )
    if ephemeral_gb > 0.5:
        bill.metered(
            "Ephemeral storage above 512 MB",
            "lambda:ephemeral:gbs",
            None if seconds is None else seconds * (ephemeral_gb - 0.5),
            "GB-seconds",
        )
