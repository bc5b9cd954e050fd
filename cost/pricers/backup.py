"""AWS Backup vaults: the recovery points they hold, priced per protected service (usage only).

Usage keys are Infracost's. EBS, RDS and Aurora recovery points bill at those services' own
snapshot rates; EFS and DynamoDB at AWS Backup's. Usage for a kind without a sourced price
(cold storage, restores, FSx) is reported unpriced.
"""

from __future__ import annotations

from cost.bill import Bill

# (usage key, component, price key)
PRICED = (
    ("monthly_efs_warm_backup_gb", "EFS backup (warm)", "backup:efs:warm"),
    ("monthly_ebs_snapshot_gb", "EBS snapshot", "ebs:snapshot"),
    ("monthly_rds_snapshot_gb", "RDS snapshot", "rds:backup"),
    ("monthly_aurora_snapshot_gb", "Aurora snapshot", "aurora:backup"),
    ("monthly_dynamodb_backup_gb", "DynamoDB backup", "backup:dynamodb"),
)
UNSOURCED = (
    ("monthly_efs_cold_backup_gb", "EFS backup (cold)"),
    ("monthly_efs_warm_restore_gb", "EFS restore (warm)"),
    ("monthly_efs_cold_restore_gb", "EFS restore (cold)"),
    ("monthly_efs_item_restore_requests", "EFS restore (item-level)"),
    ("monthly_dynamodb_restore_gb", "DynamoDB restore"),
    ("monthly_fsx_windows_backup_gb", "FSx for Windows backup"),
    ("monthly_fsx_lustre_backup_gb", "FSx for Lustre backup"),
)


def backup_vault(bill: Bill) -> None:
    for usage_key, name, price_key in PRICED:
        bill.usage(name, price_key, usage_key, "GB-months")
    for usage_key, name in UNSOURCED:
        if bill.usage_value(usage_key) is not None:
            bill.unknown(name, "no sourced AWS Backup price for it in the catalog")
