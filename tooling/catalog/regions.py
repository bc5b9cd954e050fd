"""How sources name a region, so a transcribed price can be checked against the region it is filed under.

A row is regional truth only when its citation names the region it is filed under: by its code
(``us-east-2``), by its AWS Price List location name (``US East (Ohio)``), or by its usage-type
prefix (``USE2-``). A source that is itself a table keyed by region (``regionKeyed``), or that
states one price for every region (``allRegions``), vouches for the region by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

GLOBAL = "global"

# Region code -> the other names sources use for it: Price List location names (old and new
# spellings), the short city name, and the usage-type prefix of the Price List.
REGION_NAMES: dict[str, tuple[str, ...]] = {
    "us-east-1": ("US East (N. Virginia)", "N. Virginia", "Northern Virginia", "USE1-"),
    "us-east-2": ("US East (Ohio)", "Ohio", "USE2-"),
    "us-west-2": ("US West (Oregon)", "Oregon", "USW2-"),
    "eu-west-1": ("EU (Ireland)", "Europe (Ireland)", "Ireland", "EU-", "EUW1-"),
    "eu-central-1": ("EU (Frankfurt)", "Europe (Frankfurt)", "Frankfurt", "EUC1-"),
    "ap-southeast-1": ("Asia Pacific (Singapore)", "Singapore", "APS1-"),
    GLOBAL: ("location 'Global'", "catalog region 'Global'"),
}


def _pattern(name: str) -> re.Pattern[str]:
    # Codes and prefixes must not match inside a longer code (us-east-1 in us-east-10).
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w])" if name[-1].isalnum() else re.escape(name))


_PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    code: tuple(_pattern(n) for n in (code, *names)) for code, names in REGION_NAMES.items()
}


def names_region(ref: str, region: str) -> bool:
    """Whether the citation ``ref`` names ``region`` (by code, location name or usage prefix)."""
    patterns = _PATTERNS.get(region)
    if patterns is None:
        return region in ref
    return any(p.search(ref) for p in patterns)


def vouches_for_every_region(source: Mapping[str, Any]) -> bool:
    return bool(source.get("regionKeyed") or source.get("allRegions"))


def borrowed_rows(
    rows: list[Mapping[str, Any]], sources: Mapping[str, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Rows whose citation does not name the region they are filed under (prices borrowed from elsewhere)."""
    return [
        row
        for row in rows
        if not vouches_for_every_region(sources.get(str(row["source"]), {}))
        and not names_region(str(row.get("ref", "")), str(row["region"]))
    ]
