"""AWS Transfer Family servers: an hourly charge per enabled protocol, and the data moved."""

from __future__ import annotations

from cost.attrs import strings
from cost.bill import Bill

DEFAULT_PROTOCOLS = ("SFTP",)  # the AWS provider's default for ``protocols``


def transfer_server(bill: Bill) -> None:
    protocols = sorted({p.upper() for p in strings(bill.attrs, "protocols")}) or list(DEFAULT_PROTOCOLS)
    for protocol in protocols:
        bill.hourly(f"{protocol} protocol enabled", "transfer:protocol:hour")
    bill.usage("Data downloaded", "transfer:gb", "monthly_data_downloaded_gb", "GB")
    bill.usage("Data uploaded", "transfer:gb", "monthly_data_uploaded_gb", "GB")
