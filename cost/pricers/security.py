"""Security services: AWS Private CA certificate authorities."""

from __future__ import annotations

from cost.attrs import text
from cost.bill import Bill

CERTIFICATE_TIERS = [
    (1000.0, "acmpca:certificates"),
    (9000.0, "acmpca:certificates_tier2"),
    (float("inf"), "acmpca:certificates_tier3"),
]


def acmpca_certificate_authority(bill: Bill) -> None:
    if (text(bill.attrs, "usage_mode") or "GENERAL_PURPOSE").upper() == "SHORT_LIVED_CERTIFICATE":
        bill.fixed("Private CA (short-lived certificate mode)", "acmpca:ca:short_lived", 1.0, "months")
        bill.usage(
            "Certificates (short-lived)",
            "acmpca:certificates:short_lived",
            "monthly_requests",
            "certificates",
        )
        return
    bill.fixed("Private CA", "acmpca:ca", 1.0, "months")
    bill.tiered("Certificates", CERTIFICATE_TIERS, "monthly_requests", "certificates", 1.0)
